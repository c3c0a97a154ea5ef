"""Fine-tuning from a pretrained checkpoint: what fits is restored, the class layers re-initialised, another
backbone refused before training, and a resumed run keeps its own weights."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from official.core import exp_factory, task_factory

from components.trainer import experiment, init_checkpoint, trainer_module, training
from dataset import layout
from dataset.labelmap import LabelClass, LabelMap

THREE = LabelMap(classes=(LabelClass(1, "kettle", 40), LabelClass(2, "lamp", 80), LabelClass(3, "vase", 120)))
VARIABLE = "/.ATTRIBUTES/VARIABLE_VALUE"
# The layers whose shape follows the class count (Model Garden's instance heads).
CLASS_LAYERS = [
    "detection_head/0/_box_regressor/bias",
    "detection_head/0/_box_regressor/kernel",
    "detection_head/0/_classifier/bias",
    "detection_head/0/_classifier/kernel",
    "mask_head/_mask_regressor/bias",
    "mask_head/_mask_regressor/pointwise_kernel",
]


def build_model(label_map: LabelMap, config: str = "tiny") -> tf.keras.Model:
    params = experiment.build_experiment(config, ["a.gz"], ["b.gz"], label_map, num_eval_examples=4)
    return task_factory.get_task(params.task).build_model()


def weights(model: tf.keras.Model, folder) -> tf.train.CheckpointReader:
    """The model's variables as checkpoint keys (the keys Model Garden's training checkpoints use)."""
    prefix = tf.train.Checkpoint(model=model, **model.checkpoint_items).write(os.path.join(folder, "live"))
    return tf.train.load_checkpoint(prefix)


def model_run(trained_pipeline) -> str:
    return next(c for c in trained_pipeline["components"] if c["component"] == "Trainer")["outputs"]["ModelRun"]


def classification_checkpoint(folder, backbone: str) -> str:
    """An ImageNet-style checkpoint made here, as Model Garden's trainer writes it (root children `model` and the
    model's checkpoint items: `backbone`)."""
    params = exp_factory.get_exp_config(f"{backbone}_imagenet")
    if backbone == "mobilenet":
        params.task.model.backbone.mobilenet.filter_size_scale = 0.35  # the tiny config's backbone
    else:
        params.task.model.backbone.resnet.model_id = 18
    params.task.model.num_classes = 10
    model = task_factory.get_task(params.task).build_model()
    return tf.train.Checkpoint(model=model, **model.checkpoint_items).write(os.path.join(folder, backbone))


def test_a_two_class_model_initialises_a_three_class_one(trained_pipeline, tmp_path):
    source = tf.train.latest_checkpoint(model_run(trained_pipeline))
    model = build_model(THREE)
    record = init_checkpoint.initialize(model, model_run(trained_pipeline), "all")  # a folder: its latest
    assert record.checkpoint == source and record.modules == ["all"]
    assert record.reinitialised == CLASS_LAYERS and record.unused == CLASS_LAYERS

    checkpoint, live = tf.train.load_checkpoint(source), weights(model, tmp_path)
    keys = [k for k in live.get_variable_to_shape_map() if k.endswith(VARIABLE)]
    restored = [k for k in keys if k.removesuffix(VARIABLE) not in CLASS_LAYERS]
    assert record.restored == len(restored) > 300
    for key in restored:
        np.testing.assert_array_equal(live.get_tensor(key), checkpoint.get_tensor(key), err_msg=key)
    for name in CLASS_LAYERS:
        ours, theirs = live.get_tensor(name + VARIABLE), checkpoint.get_tensor(name + VARIABLE)
        assert ours.shape[-1] != theirs.shape[-1], name  # 3 classes + background against 2 + background


def test_a_backbone_checkpoint_loads_into_the_backbone_only(tmp_path):
    prefix = classification_checkpoint(tmp_path, "mobilenet")
    model = build_model(THREE)
    before = weights(model, tmp_path / "before")
    record = init_checkpoint.initialize(model, prefix, "backbone")
    checkpoint, live = tf.train.load_checkpoint(prefix), weights(model, tmp_path / "after")
    backbone = [k for k in live.get_variable_to_shape_map() if k.startswith("backbone/") and k.endswith(VARIABLE)]
    assert record.restored == len(backbone) > 100 and record.reinitialised == []
    assert record.unused == ["model/layer_with_weights-1/bias", "model/layer_with_weights-1/kernel"]  # its classifier
    for key in backbone:
        np.testing.assert_array_equal(live.get_tensor(key), checkpoint.get_tensor(key), err_msg=key)
    decoder = [k for k in live.get_variable_to_shape_map() if k.startswith("decoder/") and k.endswith(VARIABLE)]
    assert decoder and all(np.array_equal(live.get_tensor(k), before.get_tensor(k)) for k in decoder)  # as built


def test_another_backbone_is_refused_before_training_with_the_reason(tmp_path):
    prefix = classification_checkpoint(tmp_path, "resnet")
    with pytest.raises(init_checkpoint.InitError) as error:
        init_checkpoint.initialize(build_model(THREE), prefix, "backbone")
    message = str(error.value)
    assert f"the backbone of {prefix} does not match the config's" in message
    assert (
        "backbone/layer_with_weights-0/_conv0/kernel (shape [3, 3, 3, 16] in the model, not in the checkpoint)"
        in message
    )
    assert "the checkpoint's backbone has" in message


@pytest.mark.parametrize(
    "path, modules, reason",
    [
        ("empty-folder", "all", "a folder without a checkpoint"),
        ("nothing-here", "all", "no checkpoint there"),
        (None, "head", "expected all, backbone, decoder or backbone,decoder"),
    ],
)
def test_unusable_init_settings_are_refused(trained_pipeline, tmp_path, path, modules, reason):
    (tmp_path / "empty-folder").mkdir()
    checkpoint = str(tmp_path / path) if path else model_run(trained_pipeline)
    with pytest.raises(init_checkpoint.InitError, match=reason):
        init_checkpoint.initialize(build_model(THREE), checkpoint, modules)


def _params(examples, init: str, steps: int):
    return experiment.build_experiment(
        "tiny",
        experiment.files_of_split(str(examples), layout.TRAIN),
        experiment.files_of_split(str(examples), layout.EVAL),
        layout.read_label_map(str(examples)),
        num_eval_examples=3,
        train_steps=steps,
        init_checkpoint=init,
        init_modules="all",
        params_override=["trainer.checkpoint_interval=1"],
    )


def test_a_resumed_run_keeps_its_own_checkpoint_and_the_fingerprint_has_the_init(
    trained_pipeline, sample_ingested, tmp_path
):
    init = model_run(trained_pipeline)
    first = training.train(_params(sample_ingested, init, steps=2), str(tmp_path / "run"))
    assert first["init"]["restored"] > 300 and first["init"]["reinitialised"] == []  # same two classes
    second = training.train(_params(sample_ingested, init, steps=3), str(tmp_path / "run"))
    assert second["start_step"] == 2 and second["end_step"] == 3
    assert second["init"] == {"checkpoint": init, "skipped": "resumed from step 2: the run's own checkpoint"}
    other = trainer_module.config_fingerprint(_params(sample_ingested, str(tmp_path / "other"), steps=3))
    assert trainer_module.config_fingerprint(_params(sample_ingested, init, steps=3)) != other


MODEL_GARDENS_RESNET50 = "gs://cloud-tpu-checkpoints/vision-2.0/resnet50_imagenet/ckpt-28080"


def test_where_a_training_starts_is_resolved_as_the_trainer_resolves_it():
    assert experiment.starting_checkpoint("gpu-r50fpn") == (MODEL_GARDENS_RESNET50, "backbone")  # inherited
    assert experiment.starting_checkpoint("gpu-r50fpn", init_checkpoint=init_checkpoint.NO_CHECKPOINT) is None
    assert experiment.starting_checkpoint("finetune-retinanet-r50fpn") is None  # the user downloads it
    assert experiment.starting_checkpoint("finetune-retinanet-r50fpn", init_checkpoint="/ckpt/retinanet") == (
        "/ckpt/retinanet",
        "backbone,decoder",
    )
    assert experiment.starting_checkpoint("cpu-demo", ["task.init_checkpoint=/c/ckpt-5"], init_modules="all") == (
        "/c/ckpt-5",
        "all",
    )
    assert experiment.starting_checkpoint("cpu-demo") is None
    params = experiment.build_experiment("gpu-r50fpn", ["a.gz"], ["b.gz"], THREE, 4, init_checkpoint="none")
    assert params.task.init_checkpoint == ""


def test_a_run_from_an_unreachable_checkpoint_fails_before_anything_runs(sample_dataset, tmp_path, capsys):
    from pipeline import cli

    root = tmp_path / "root"
    argv = [
        "run",
        "--dataset",
        str(sample_dataset),
        "--pipeline-root",
        str(root),
        "--serving-dir",
        str(tmp_path / "serving"),
        "--config",
        "gpu-r50fpn",
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "[run] FAILED after " in err
        and f"InitError: the training config gpu-r50fpn starts from the checkpoint "
        f"{MODEL_GARDENS_RESNET50} (backbone), which cannot be read: its host cannot be reached from here"
        in err
    )
    assert not root.exists()  # nothing ingested, nothing recorded

    assert cli.main([*argv[:-1], "cpu-demo", "--init-checkpoint", str(tmp_path / "missing" / "ckpt-3")]) == 1
    assert (
        f"starts from the checkpoint {tmp_path}/missing/ckpt-3 (all), which cannot be read: nothing there"
        in capsys.readouterr().err
    )


def test_a_reachable_checkpoint_passes_the_check_as_a_prefix_or_a_folder(trained_pipeline):
    folder = model_run(trained_pipeline)
    init_checkpoint.check_reachable(folder, "all", "tiny")
    init_checkpoint.check_reachable(tf.train.latest_checkpoint(folder), "all", "tiny")
