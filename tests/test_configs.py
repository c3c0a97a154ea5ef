"""Every shipped training config is trained, exported and scored with its own precision, loss scaling, heads
and init modules (the mirrored one with two replicas: benchmarks/gpu_check.py --dry-run, two logical CPU
devices), or is shown to build another's experiment but for the values its YAML sets, with its checkpoint's
modules restored into its own model.

What the CPU cannot run is named where it is turned off: XLA (gpu_check.DRY_RUN_NO_XLA), and oneDNN, whose
float16 gradients are pathologically slow on some CPUs (components/trainer/onednn.py). `tiny` trains,
exports and is scored through the whole pipeline in test_pipeline.py.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
import tensorflow as tf
import yaml
from official.core import exp_factory, task_factory

import side_runs
from benchmarks import gpu_check
from components.trainer import experiment, init_checkpoint
from components.trainer.summaries import scalars
from components.util.eval_split import load_eval_split

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_TESTED = {"tiny"}
# Configs that are another's but for values: checked, through Model Garden's build_experiment, to build their
# base's experiment but for the keys their own YAML sets, not trained here (their base's dry run runs their
# code path; a fine-tuning one's restore is checked on its own model below): their dry runs took most of the
# suite's time (benchmarks/RESULTS.md, the test suite).
VARIANTS = {
    "gpu-r50fpn-stock-heads": "gpu-r50fpn",
    "finetune-r50fpn": "gpu-r50fpn",
    "finetune-retinanet-r50fpn": "finetune-r50fpn",
    "finetune-mobilenet": "cpu-demo",
    "cpu-demo": "tiny",
}  # tiny trains through the whole pipeline (test_pipeline.py)
STOCK_HEADS = {"gpu-r50fpn-stock-heads": ("detection_head", "mask_sampler")}  # equal Model Garden's own
# The configs trained here (one after another in one process), and what each starts from as shipped, made here
# in the shape of the published checkpoint.
STARTS_FROM = {"gpu-r50fpn": "resnet_imagenet"}  # mirrored, float16; Model Garden's default: ResNet-50, ImageNet
# The fine-tuning variants' own checkpoints, restored into their own models.
VARIANTS_START_FROM = {
    "finetune-mobilenet": "mobilenet_imagenet",  # MobileNetV2 1.0, ImageNet
    "finetune-retinanet-r50fpn": "retinanet_resnetfpn_coco",  # COCO RetinaNet R50 FPN, levels 3-7
}
FLOAT32_OUTPUTS = {
    "detection_boxes": "float32",
    "detection_classes": "int32",
    "detection_masks_png_bytes": "string",
    "detection_scores": "float32",
    "num_detections": "int32",
}


def test_every_shipped_config_is_tested():
    shipped = {path.stem for path in experiment.CONFIG_DIR.glob("*.yaml")}
    assert shipped == set(STARTS_FROM) | PIPELINE_TESTED | set(VARIANTS) and set(VARIANTS_START_FROM) <= set(VARIANTS)


def _leaves(tree, prefix=()) -> dict[tuple, object]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {key: value for name, child in tree.items() for key, value in _leaves(child, (*prefix, name)).items()}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_variant_builds_its_bases_experiment_but_for_the_values_it_sets(variant, sample_ingested):
    label_map = _label_map(sample_ingested)
    built, base = (
        _leaves(experiment.build_experiment(name, ["a"], ["b"], label_map, 4).as_dict())
        for name in (variant, VARIANTS[variant])
    )
    stated = _leaves(yaml.safe_load(experiment.config_path(variant).read_text()))
    differing = {key for key in built.keys() | base.keys() if built.get(key) != base.get(key)}
    assert differing and differing <= stated.keys(), sorted(differing - stated.keys())
    assert {key: built[key] for key in differing} == {key: stated[key] for key in differing}
    for head in STOCK_HEADS.get(variant, ()):
        stock = exp_factory.get_exp_config(experiment.own_keys(variant).experiment).task.model.as_dict()[head]
        assert (
            {key[3:]: value for key, value in built.items() if key[:3] == ("task", "model", head)}
            == _leaves(stock)
            != {key[3:]: value for key, value in base.items() if key[:3] == ("task", "model", head)}
        )


def made_checkpoint(folder, name: str) -> str:
    """A checkpoint of Model Garden's `name` experiment's model, as its trainer writes it (root children `model`
    and the model's checkpoint items: backbone, decoder, ...)."""
    params = exp_factory.get_exp_config(name)
    params.task.model.num_classes = 10 if name.endswith("imagenet") else 91
    model = task_factory.get_task(params.task).build_model()
    return tf.train.Checkpoint(model=model, **model.checkpoint_items).write(os.path.join(folder, name, "ckpt"))


@pytest.mark.parametrize("variant", sorted(VARIANTS_START_FROM))
def test_a_fine_tuning_variant_restores_every_variable_of_its_modules(variant, sample_ingested, tmp_path):
    modules = experiment.load_config(variant)["task"]["init_checkpoint_modules"]
    params = experiment.build_experiment(variant, ["a"], ["b"], _label_map(sample_ingested), 4)
    model = task_factory.get_task(params.task).build_model()
    record = init_checkpoint.initialize(model, made_checkpoint(tmp_path, VARIANTS_START_FROM[variant]), modules)
    assert record.modules == modules.split(",") and record.restored > 100
    assert record.reinitialised == []  # every variable of the modules asked came from the checkpoint


@side_runs.run("dry_runs")
def start_dry_runs(request) -> Callable[[], dict[str, dict]]:
    """The trained configs' dry runs, one after another in one process (one TensorFlow start-up) beside the other
    tests: each config's record, by name. About 3 minutes on 2 cores for gpu-r50fpn, most of it tracing a
    mirrored Mask R-CNN in float16 (a first loop of 80 s) and exporting it."""
    work = request.getfixturevalue("tmp_path_factory").mktemp("dry-runs")
    command = [
        sys.executable,
        os.path.join(REPO, "benchmarks", "gpu_check.py"),
        "--dry-run",
        "--config",
        *sorted(STARTS_FROM),
        "--examples",
        str(request.getfixturevalue("sample_ingested")),
        "--work",
        str(work),
        "--json",
        str(work / "check.json"),
    ]
    for config, starts_from in sorted(STARTS_FROM.items()):
        if starts_from:
            command += ["--init-checkpoint", f"{config}={made_checkpoint(work / 'made', starts_from)}"]

    def dry_runs() -> dict[str, dict]:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-4000:]
        return {record["config"]: record for record in json.loads((work / "check.json").read_text())}

    return dry_runs


@pytest.fixture(scope="module")
def dry_runs(side_runs) -> dict[str, dict]:
    return side_runs["dry_runs"].result()


@pytest.mark.parametrize("config", sorted(STARTS_FROM))
def test_config_trains_exports_and_is_scored_as_on_gpus(config, dry_runs, sample_ingested):
    result = dry_runs[config]
    training, shipped = result["training"], experiment.load_config(config)
    runtime = shipped["runtime"]

    if runtime["distribution_strategy"] == "mirrored":
        assert (training["strategy"], training["replicas"]) == ("MirroredStrategy", gpu_check.DRY_RUN_REPLICAS)
        assert training["global_batch_size"] == gpu_check.DRY_RUN_REPLICAS * gpu_check.DRY_RUN_BATCH_PER_REPLICA
        first_rate = experiment.build_experiment(
            config, ["a"], ["b"], _label_map(sample_ingested), 4
        ).trainer.optimizer_config.learning_rate.as_dict()
        assert _first_value(result["learning_rate"]) == pytest.approx(
            gpu_check.DRY_RUN_REPLICAS * _first_value(first_rate)
        )  # on this machine: 1 replica, unscaled
    else:
        assert (training["strategy"], training["replicas"]) == ("OneDeviceStrategy", 1)
    dtype = runtime["mixed_precision_dtype"]
    assert training["precision"] == dtype and training["compute_dtype"] == dtype
    assert training["dynamic_loss_scale"] == (runtime.get("loss_scale") == "dynamic" and dtype == "float16")
    assert training["end_step"] == gpu_check.DRY_RUN_STEPS
    losses = [v for _, v in scalars(result["model_dir"], "total_loss")]
    assert len(losses) == gpu_check.DRY_RUN_STEPS and all(math.isfinite(v) for v in losses)

    if STARTS_FROM[config]:
        init = training["init"]
        assert init["modules"] == shipped["task"]["init_checkpoint_modules"].split(",") and init["restored"] > 100
        assert init["reinitialised"] == []  # every variable of the modules asked came from the checkpoint
    else:
        assert training["init"] is None

    assert result["outputs"] == FLOAT32_OUTPUTS  # a client reads what the float32 model returns
    assert result["answer_bytes"] <= 100_000  # with the defaults: up to 100 detections, PNG masks
    eval_images = len(load_eval_split(str(sample_ingested)).images)
    assert result["metrics"]["num_images"] == eval_images  # every eval image scored
    for kind in ("box", "mask"):
        per_class = result["metrics"][kind]["per_class_AP"]
        assert set(per_class) == {"speaker", "mug"}, kind
        assert result["metrics"][kind]["AP"] == pytest.approx(sum(per_class.values()) / len(per_class)), kind


def _label_map(examples):
    from dataset import layout

    return layout.read_label_map(str(examples))


def _first_value(learning_rate: dict) -> float:
    schedule = learning_rate[learning_rate["type"]]
    return (
        schedule["values"][0]
        if "values" in schedule
        else schedule.get("learning_rate", schedule.get("initial_learning_rate"))
    )
