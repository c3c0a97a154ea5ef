"""Model Garden experiment configs for Mask R-CNN: a named YAML + the data + overrides."""

from __future__ import annotations

import tensorflow as tf
from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams
from official.vision import registry_imports  # noqa: F401  (registers the vision experiments)

from components.trainer import init_checkpoint as init_lib
from components.trainer.config_files import BASE_KEY, CONFIG_DIR, OwnKeys, config_path, load_config, own_keys  # noqa: F401
from dataset import layout
from dataset.labelmap import LabelMap


class TrainingDataError(ValueError):
    """The ingested data cannot train the configured model."""


def visible_replicas(config: cfg.ExperimentConfig) -> int:
    """How many replicas the runtime section asks for (num_gpus -1 = all visible GPUs)."""
    if config.runtime.num_gpus < 0:
        config.runtime.num_gpus = len(tf.config.list_physical_devices("GPU"))
    return max(1, config.runtime.num_gpus)


def _scale_learning_rates(optimizer_config, factor: float) -> None:
    lr = optimizer_config.learning_rate.get()
    for field in ("initial_learning_rate", "learning_rate"):
        if getattr(lr, field, None) is not None:
            setattr(lr, field, getattr(lr, field) * factor)
    if getattr(lr, "values", None):
        lr.values = [v * factor for v in lr.values]
    warmup = optimizer_config.warmup.get()
    if warmup is not None and getattr(warmup, "warmup_learning_rate", None) is not None:
        warmup.warmup_learning_rate *= factor


def _from_yaml(config: str) -> tuple[cfg.ExperimentConfig, OwnKeys]:
    """Model Garden's experiment with the YAML's changes, and the YAML's own keys."""
    overrides = load_config(config)
    own = OwnKeys.pop_from(overrides, config)
    experiment = exp_factory.get_exp_config(own.experiment)
    return hyperparams.override_params_dict(experiment, overrides, is_strict=True), own


def _set_init(task, init_checkpoint: str | None, init_modules: str | None) -> None:
    if init_checkpoint:  # else the config's own, if it names one (or Model Garden's experiment does)
        task.init_checkpoint = "" if init_checkpoint == init_lib.NO_CHECKPOINT else init_checkpoint
    if init_modules:
        task.init_checkpoint_modules = init_modules


def starting_checkpoint(
    config: str,
    params_override: list[str] | None = None,
    init_checkpoint: str | None = None,
    init_modules: str | None = None,
) -> tuple[str, str] | None:
    """The checkpoint a training starts from and its modules, as build_experiment resolves them; None: random
    weights."""
    experiment, _ = _from_yaml(config)
    _set_init(experiment.task, init_checkpoint, init_modules)
    for override in params_override or []:
        experiment = hyperparams.override_params_dict(experiment, override, is_strict=True)
    task = experiment.task
    return (task.init_checkpoint, task.init_checkpoint_modules or "all") if task.init_checkpoint else None


def build_experiment(
    config: str,
    train_files: list[str],
    eval_files: list[str],
    label_map: LabelMap,
    num_eval_examples: int,
    train_steps: int | None = None,
    batch_size: int | None = None,
    params_override: str | list[str] | None = None,
    init_checkpoint: str | None = None,
    init_modules: str | None = None,
) -> cfg.ExperimentConfig:
    """The full ExperimentConfig: named YAML, then data, then CLI overrides (last wins)."""
    experiment, own = _from_yaml(config)

    if not train_files:
        raise TrainingDataError("the ingested data has no training examples (Split-train is empty)")
    task = experiment.task
    task.model.num_classes = label_map.num_classes + 1  # + background
    task.annotation_file = None  # ground truth for COCO metrics comes from the eval TFRecords
    task.use_coco_metrics = True
    task.per_category_metrics = True
    _set_init(task, init_checkpoint, init_modules)
    for data, files in ((task.train_data, train_files), (task.validation_data, eval_files)):
        data.input_path = ",".join(files)
        data.file_type = "tfrecord_compressed" if files and files[0].endswith(".gz") else "tfrecord"
    task.validation_data.num_examples = num_eval_examples
    eval_batch = task.validation_data.global_batch_size
    experiment.trainer.validation_steps = max(1, -(-num_eval_examples // eval_batch))

    if train_steps:
        experiment.trainer.train_steps = train_steps
    if batch_size:
        task.train_data.global_batch_size = batch_size
    if own.scale_with_replicas:
        replicas = visible_replicas(experiment)
        task.train_data.global_batch_size *= replicas
        task.validation_data.global_batch_size *= replicas
        _scale_learning_rates(experiment.trainer.optimizer_config, replicas)
    for override in [params_override] if isinstance(params_override, str) else params_override or []:
        experiment = hyperparams.override_params_dict(experiment, override, is_strict=True)

    if task.model.num_classes != label_map.num_classes + 1:
        raise TrainingDataError(
            f"task.model.num_classes={task.model.num_classes} disagrees with the label map "
            f"({label_map.num_classes} classes + background = {label_map.num_classes + 1})"
        )
    experiment.trainer.checkpoint_interval = min(experiment.trainer.checkpoint_interval, experiment.trainer.train_steps)
    experiment.validate()
    experiment.lock()
    return experiment


def files_of_split(examples_uri: str, split: str) -> list[str]:
    return sorted(tf.io.gfile.glob(layout.record_pattern(examples_uri, split)))


def experiment_for_examples(config: str, examples_uri: str, **options) -> cfg.ExperimentConfig:
    """build_experiment for an ingestion output (an Examples artifact's folder): its splits' files, its label
    map and its eval count; `options` as build_experiment's (train_steps, batch_size, params_override, ...)."""
    num_eval = int(layout.read_summary(examples_uri)["num_examples"].get(layout.EVAL, 0))
    return build_experiment(
        config,
        files_of_split(examples_uri, layout.TRAIN),
        files_of_split(examples_uri, layout.EVAL),
        layout.read_label_map(examples_uri),
        num_eval_examples=num_eval,
        **options,
    )
