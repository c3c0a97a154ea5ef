"""The Trainer: Model Garden Mask R-CNN through the real TFX Trainer component."""

import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from components.trainer import experiment as experiment_lib
from components.trainer.summaries import scalars
from components.util.serving_contract import DEFAULT_MIN_SCORE, answers
from conftest import TINY_TRAIN_STEPS
from dataset.labelmap import LabelClass, LabelMap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_CLASSES = LabelMap(classes=(LabelClass(1, "speaker", 76), LabelClass(2, "mug", 150)))


def test_tiny_config_trains_through_the_tfx_trainer(trained_pipeline):
    training = trained_pipeline["training"]
    assert training["start_step"] == 0 and training["end_step"] == TINY_TRAIN_STEPS
    assert training["median_step_s"] > 0 and training["images_per_s"] > 0
    assert training["device_kind"] == "CPU" and training["precision"] == "float32"

    trainer = next(c for c in trained_pipeline["components"] if c["component"] == "Trainer")
    model_run = trainer["outputs"]["ModelRun"]
    losses = [v for _, v in scalars(model_run, "total_loss")]
    assert losses and all(math.isfinite(v) for v in losses)
    assert scalars(model_run, "learning_rate")
    assert tf.train.latest_checkpoint(model_run).endswith(f"ckpt-{TINY_TRAIN_STEPS}")


def test_exported_model_predicts_from_encoded_jpeg_and_image_tensor(trained_pipeline):
    serving = os.path.join(trained_pipeline["model_uri"], "Format-Serving")
    label_map = LabelMap.from_json(Path(serving, "assets", "label_map.json").read_text())
    assert label_map.names == ("speaker", "mug")

    model = tf.saved_model.load(serving)
    image = np.random.default_rng(0).integers(0, 255, (150, 210, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    from_bytes = model.signatures["serving_default"](tf.constant([jpeg, jpeg]))
    from_tensor = model.signatures["image_tensor"](tf.constant(image[None]))
    for outputs, batch in ((from_bytes, 2), (from_tensor, 1)):
        for key in (
            "detection_boxes",
            "detection_classes",
            "detection_scores",
            "detection_masks_png_bytes",
            "num_detections",
        ):
            assert outputs[key].shape[0] == batch, key
        for answer in answers({key: value.numpy() for key, value in outputs.items()}):
            assert answer.masks.shape[1:] == (28, 28) and ((answer.masks >= 0) & (answer.masks <= 1)).all()
            assert (answer.scores >= DEFAULT_MIN_SCORE).all() and len(answer) <= 10  # tiny: 10 detections


def test_config_file_then_data_then_overrides():
    params = experiment_lib.build_experiment(
        "cpu-demo",
        ["/data/Split-train/a.gz"],
        ["/data/Split-eval/b.gz"],
        TWO_CLASSES,
        num_eval_examples=5,
        train_steps=7,
        batch_size=4,
        params_override=["task.model.detection_generator.max_num_detections=9"],
    )
    assert params.task.model.num_classes == 3
    assert params.task.model.backbone.mobilenet.model_id == "MobileNetV2"
    assert params.task.model.mask_head.num_filters == 32  # from cpu-demo.yaml
    assert params.task.model.input_size == [192, 256, 3]  # from cpu-demo.yaml
    assert params.task.model.detection_generator.max_num_detections == 9
    assert params.trainer.train_steps == 7
    assert params.task.train_data.global_batch_size == 4
    assert params.task.train_data.file_type == "tfrecord_compressed"
    assert params.task.validation_data.num_examples == 5
    assert params.trainer.validation_steps == 3  # ceil(5 / batch 2)


def test_gpu_config_scales_batch_and_learning_rate_with_replicas(tmp_path):
    import yaml

    on_this_machine = experiment_lib.build_experiment("gpu-r50fpn", ["a.gz"], ["b.gz"], TWO_CLASSES, 4)
    assert on_this_machine.runtime.num_gpus == 0  # -1 = all visible GPUs: none here
    assert on_this_machine.task.train_data.global_batch_size == 4
    assert on_this_machine.runtime.mixed_precision_dtype == "float16"
    assert on_this_machine.runtime.distribution_strategy == "mirrored"

    config = yaml.safe_load(experiment_lib.config_path("gpu-r50fpn").read_text())
    config["runtime"]["num_gpus"] = 8
    (tmp_path / "gpu8.yaml").write_text(yaml.safe_dump(config))
    eight = experiment_lib.build_experiment(str(tmp_path / "gpu8.yaml"), ["a.gz"], ["b.gz"], TWO_CLASSES, 4)
    assert eight.task.train_data.global_batch_size == 32
    assert eight.trainer.optimizer_config.learning_rate.stepwise.values[0] == pytest.approx(0.08)
    assert eight.trainer.optimizer_config.warmup.linear.warmup_learning_rate == pytest.approx(0.00067 * 8)


def test_r50_configs_have_lean_heads_and_the_stock_heads_config_model_gardens():
    from official.core import exp_factory

    def heads(config: str) -> tuple:
        model = experiment_lib.build_experiment(config, ["a.gz"], ["b.gz"], TWO_CLASSES, 4).task.model
        return model.detection_head.as_dict(), model.mask_head.as_dict(), model.mask_sampler.num_sampled_masks

    model_gardens = exp_factory.get_exp_config("maskrcnn_resnetfpn_coco").task.model
    assert heads("gpu-r50fpn-stock-heads") == (
        model_gardens.detection_head.as_dict(),
        model_gardens.mask_head.as_dict(),
        model_gardens.mask_sampler.num_sampled_masks,
    )
    for config in ("gpu-r50fpn", "finetune-r50fpn", "finetune-retinanet-r50fpn"):
        box, mask, masks = heads(config)
        assert (box["num_convs"], box["num_fcs"], box["fc_dims"]) == (0, 2, 1024), config
        assert mask == model_gardens.mask_head.as_dict() and masks == 12, config
    assert model_gardens.detection_head.num_convs == 4 and model_gardens.mask_sampler.num_sampled_masks == 128


def test_no_training_examples_is_a_clear_error():
    with pytest.raises(experiment_lib.TrainingDataError, match="no training examples"):
        experiment_lib.build_experiment("tiny", [], ["b.gz"], TWO_CLASSES, num_eval_examples=1)


def test_num_classes_disagreeing_with_the_label_map_is_a_clear_error():
    with pytest.raises(experiment_lib.TrainingDataError, match="disagrees with the label map"):
        experiment_lib.build_experiment(
            "tiny", ["a.gz"], ["b.gz"], TWO_CLASSES, num_eval_examples=1, params_override="task.model.num_classes=5"
        )


def test_unknown_config_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="cpu-demo"):
        experiment_lib.config_path("no-such-config")


def test_the_precision_a_config_trains_in_is_read_with_its_overrides():
    from components.trainer.config_files import precision

    assert precision("gpu-r50fpn", []) == precision("finetune-retinanet-r50fpn", []) == "float16"  # base's
    assert precision("cpu-demo", []) == precision("tiny", []) == "float32"
    assert precision("gpu-r50fpn", ["runtime.mixed_precision_dtype=float32"]) == "float32"
    assert precision("tiny", ["task.model.input_size=[64,64,3],runtime.mixed_precision_dtype='float16'"]) == "float16"


def test_a_float16_config_turns_onednn_off_before_tensorflow_loads_and_not_after():
    """Its float16 gradients are ~60x slower than Eigen's on AVX512-FP16 CPUs (components/trainer/onednn.py)."""
    from components.trainer import onednn

    program = (
        "import os, sys; from components.trainer import onednn; "
        "print(onednn.off_for_float16(sys.argv[1], [])); print(os.environ.get(onednn.VARIABLE))"
    )
    env = {k: v for k, v in os.environ.items() if k != onednn.VARIABLE}
    for config, note, value in (
        ("gpu-r50fpn", f"gpu-r50fpn trains in float16: oneDNN off ({onednn.VARIABLE}=0)", "0"),
        ("cpu-demo", "None", "None"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", program, config], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        printed, set_to = done.stdout.splitlines()
        assert printed.startswith(note) and set_to == value, done.stdout
    assert onednn.off_for_float16("gpu-r50fpn", []) is None  # TensorFlow loaded here: too late to change


def test_the_config_option_names_every_shipped_config(capsys, monkeypatch):
    from pipeline import cli

    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no name wrapped at its hyphens
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("--config")]
    assert all(p.stem in line for p in experiment_lib.CONFIG_DIR.glob("*.yaml")) and "gpu-r50fpn-stock-heads" in line
