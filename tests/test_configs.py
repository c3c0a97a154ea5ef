"""Every shipped training config trains, exports and is scored with its own precision, loss scaling, heads and
init modules; the mirrored ones with two replicas (benchmarks/gpu_check.py --dry-run: two logical CPU devices).

What the CPU cannot run is named where it is turned off: XLA (gpu_check.DRY_RUN_NO_XLA). `tiny` trains,
exports and is scored through the whole pipeline in test_pipeline.py.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import tensorflow as tf
from official.core import exp_factory, task_factory

from benchmarks import gpu_check
from components.trainer import experiment
from components.trainer.summaries import scalars

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_TESTED = {"tiny"}
# Configs that are another's with Model Garden's stock heads, for benchmarks/heads_benchmark.py: checked equal to
# their base but for the heads, not trained here. gpu-r50fpn-stock-heads' dry run took 2698 s of a 93-minute suite
# on 2 cores (2026-12-01, efd018e), against 346 s for gpu-r50fpn's.
HEADS_VARIANTS = {"gpu-r50fpn-stock-heads": "gpu-r50fpn"}
HEADS = ("detection_head", "mask_sampler")
# What each config starts from as shipped, made here in the shape of the published checkpoint.
STARTS_FROM = {
    "cpu-demo": None,
    "finetune-mobilenet": ("mobilenet_imagenet", {}),              # MobileNetV2 1.0, ImageNet
    "gpu-r50fpn": ("resnet_imagenet", {}),                         # Model Garden's default: ResNet-50, ImageNet
    "finetune-r50fpn": ("resnet_imagenet", {}),
    "finetune-retinanet-r50fpn": ("retinanet_resnetfpn_coco", {}),  # COCO RetinaNet R50 FPN, levels 3-7
}
FLOAT32_OUTPUTS = {"detection_boxes": "float32", "detection_classes": "int32", "detection_masks": "float32",
                   "detection_scores": "float32", "image_info": "float32", "num_detections": "int32"}


def test_every_shipped_config_is_tested():
    shipped = {path.stem for path in experiment.CONFIG_DIR.glob("*.yaml")}
    assert shipped == set(STARTS_FROM) | PIPELINE_TESTED | set(HEADS_VARIANTS)


@pytest.mark.parametrize("variant", sorted(HEADS_VARIANTS))
def test_a_heads_variant_is_its_base_with_model_gardens_stock_heads(variant, sample_ingested):
    label_map = _label_map(sample_ingested)
    built, base = (experiment.build_experiment(name, ["a"], ["b"], label_map, 4).as_dict()
                   for name in (variant, HEADS_VARIANTS[variant]))
    stock = exp_factory.get_exp_config(experiment.own_keys(variant).experiment).task.model.as_dict()
    for key in HEADS:
        assert built["task"]["model"].pop(key) == stock[key] != base["task"]["model"].pop(key)
    assert built == base


def made_checkpoint(folder, name: str) -> str:
    """A checkpoint of Model Garden's `name` experiment's model, as its trainer writes it (root children `model`
    and the model's checkpoint items: backbone, decoder, ...)."""
    params = exp_factory.get_exp_config(name)
    params.task.model.num_classes = 10 if name.endswith("imagenet") else 91
    model = task_factory.get_task(params.task).build_model()
    return tf.train.Checkpoint(model=model, **model.checkpoint_items).write(os.path.join(folder, name, "ckpt"))


@pytest.mark.parametrize("config", sorted(STARTS_FROM))
def test_config_trains_exports_and_is_scored_as_on_gpus(config, sample_ingested, tmp_path):
    command = [sys.executable, os.path.join(REPO, "benchmarks", "gpu_check.py"), "--dry-run", "--config", config,
               "--examples", str(sample_ingested), "--work", str(tmp_path), "--json", str(tmp_path / "check.json")]
    if STARTS_FROM[config]:
        command += ["--init-checkpoint", made_checkpoint(tmp_path / "made", STARTS_FROM[config][0])]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((tmp_path / "check.json").read_text())
    training, shipped = result["training"], experiment.load_config(config)
    runtime = shipped["runtime"]

    if runtime["distribution_strategy"] == "mirrored":
        assert (training["strategy"], training["replicas"]) == ("MirroredStrategy", gpu_check.DRY_RUN_REPLICAS)
        assert training["global_batch_size"] == gpu_check.DRY_RUN_REPLICAS * gpu_check.DRY_RUN_BATCH_PER_REPLICA
        first_rate = experiment.build_experiment(config, ["a"], ["b"], _label_map(sample_ingested), 4) \
            .trainer.optimizer_config.learning_rate.as_dict()
        assert _first_value(result["learning_rate"]) == pytest.approx(
            gpu_check.DRY_RUN_REPLICAS * _first_value(first_rate))  # on this machine: 1 replica, unscaled
    else:
        assert (training["strategy"], training["replicas"]) == ("OneDeviceStrategy", 1)
    dtype = runtime["mixed_precision_dtype"]
    assert training["precision"] == dtype and training["compute_dtype"] == dtype
    assert training["dynamic_loss_scale"] == (runtime.get("loss_scale") == "dynamic" and dtype == "float16")
    assert training["end_step"] == gpu_check.DRY_RUN_STEPS
    losses = [v for _, v in scalars(str(tmp_path / "model"), "total_loss")]
    assert losses and all(math.isfinite(v) for v in losses)

    if STARTS_FROM[config]:
        init = training["init"]
        assert init["modules"] == shipped["task"]["init_checkpoint_modules"].split(",") and init["restored"] > 100
        assert init["reinitialised"] == []  # every variable of the modules asked came from the checkpoint
    else:
        assert training["init"] is None

    assert result["outputs"] == FLOAT32_OUTPUTS  # a client reads what the float32 model returns
    for kind in ("box", "mask"):
        assert 0.0 <= result["metrics"][kind]["AP"] <= 1.0, kind


def _label_map(examples):
    from dataset import layout

    return layout.read_label_map(str(examples))


def _first_value(learning_rate: dict) -> float:
    schedule = learning_rate[learning_rate["type"]]
    return schedule["values"][0] if "values" in schedule else schedule.get("learning_rate",
                                                                            schedule.get("initial_learning_rate"))
