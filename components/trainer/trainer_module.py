"""The TFX Trainer's `run_fn`: Model Garden Mask R-CNN, trained, timed, exported.

Used by the standard Trainer as
`tfx.v1.components.Trainer(run_fn="components.trainer.trainer_module.run_fn", ...)`.
The Trainer's `custom_config` carries the settings (see `TrainingSettings`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable

import tensorflow as tf
from official.core import config_definitions as cfg

from components.trainer import experiment as experiment_lib
from components.trainer import export as export_lib
from components.trainer import init_checkpoint, training
from components.trainer.constants import FINGERPRINT_FILE, TIMING_FILE
from components.trainer.settings import TrainingSettings
from components.util import serving_contract
from dataset import layout
from dataset.labelmap import LabelMap

_LOG = logging.getLogger(__name__)


def starting_point(settings: TrainingSettings, check: Callable[[str], bool] = lambda path: True) -> str:
    """Where the training starts, in words; fails at once (InitError) when its checkpoint, if `check(path)`,
    cannot be read from here."""
    start = experiment_lib.starting_checkpoint(
        settings.config, settings.params_override, settings.init_checkpoint, settings.init_modules
    )
    if start is None:
        return f"training starts from random weights (config {settings.config})"
    if check(start[0]):
        init_checkpoint.check_reachable(*start, settings.config)
    given = "--init-checkpoint" if settings.init_checkpoint else f"the config {settings.config}'s"
    return f"training starts from {start[0]} ({start[1]}; {given}; --init-checkpoint none: random weights)"


def config_fingerprint(params: cfg.ExperimentConfig) -> str:
    return hashlib.sha256(json.dumps(params.as_dict(), sort_keys=True, default=str).encode()).hexdigest()


def resume_from_previous_attempt(model_run_dir: str, fingerprint: str) -> int:
    """Copies the newest checkpoint of an earlier, interrupted run of the same training.

    Every TFX execution gets a fresh `model_run` directory, so a rerun after a crash
    would start from step 0. Sibling executions whose config and input data (the
    fingerprint) match are the same training: continue from the furthest one.
    Returns the step resumed from (0 when none).
    """
    if training.latest_step(model_run_dir):
        return training.latest_step(model_run_dir)
    parent = os.path.dirname(model_run_dir.rstrip("/"))
    best_dir, best_step = None, 0
    for sibling in tf.io.gfile.glob(os.path.join(parent, "*")):
        marker = os.path.join(sibling, FINGERPRINT_FILE)
        if sibling.rstrip("/") == model_run_dir.rstrip("/") or not tf.io.gfile.exists(marker):
            continue
        with tf.io.gfile.GFile(marker) as f:
            if f.read().strip() != fingerprint:
                continue
        step = training.latest_step(sibling)
        if step > best_step:
            best_dir, best_step = sibling, step
    if best_dir:
        prefix = os.path.basename(tf.train.latest_checkpoint(best_dir))
        for path in tf.io.gfile.glob(os.path.join(best_dir, prefix + ".*")):
            tf.io.gfile.copy(path, os.path.join(model_run_dir, os.path.basename(path)), overwrite=True)
        with tf.io.gfile.GFile(os.path.join(model_run_dir, "checkpoint"), "w") as f:
            f.write(f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n')
        _LOG.info("Resuming from step %d of %s", best_step, best_dir)
    return best_step


def _evaluation(
    settings: TrainingSettings, examples_uri: str, label_map: LabelMap, serving: serving_contract.ServingConfig
) -> training.Evaluation | None:
    """Evaluations during training, when the settings or the config ask for them."""
    from components.util.eval_split import load_eval_split

    interval = (
        settings.eval_interval
        if settings.eval_interval is not None
        else experiment_lib.own_keys(settings.config).eval_interval
    )
    if settings.stop_at and not interval:
        raise ValueError("--stop-at needs evaluations during training: give --eval-interval STEPS")
    return (
        training.Evaluation(load_eval_split(examples_uri), label_map, interval, dict(settings.stop_at), serving)
        if interval
        else None
    )


def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    settings = TrainingSettings.from_custom_config(fn_args.custom_config)
    print(f"[train] {starting_point(settings)}", flush=True)
    examples_uri = os.path.dirname(os.path.dirname(fn_args.train_files[0]))
    label_map = layout.read_label_map(examples_uri)
    params = experiment_lib.experiment_for_examples(
        settings.config,
        examples_uri,
        train_steps=fn_args.train_steps or None,
        batch_size=settings.batch_size,
        params_override=settings.params_override,
        init_checkpoint=settings.init_checkpoint,
        init_modules=settings.init_modules,
    )
    model_dir = fn_args.model_run_dir
    tf.io.gfile.makedirs(model_dir)
    fingerprint = config_fingerprint(params)
    with tf.io.gfile.GFile(os.path.join(model_dir, FINGERPRINT_FILE), "w") as f:
        f.write(fingerprint)
    resume_from_previous_attempt(model_dir, fingerprint)

    serving = serving_contract.ServingConfig(settings.serving_max_detections, settings.serving_min_score)
    timing = {
        "config_fingerprint": fingerprint,
        **training.train(params, model_dir, _evaluation(settings, examples_uri, label_map, serving)),
    }
    export_lib.export(
        params,
        model_dir,
        fn_args.serving_model_dir,
        label_map,
        serving,
        export_lib.eval_images(examples_uri, export_lib.WARMUP_IMAGES),
    )
    model_uri = os.path.dirname(fn_args.serving_model_dir.rstrip("/"))
    with tf.io.gfile.GFile(os.path.join(model_uri, TIMING_FILE), "w") as f:
        json.dump(timing, f, indent=2)
    _LOG.info("Training: %s", timing)
