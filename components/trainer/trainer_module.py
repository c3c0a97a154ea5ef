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
import platform
import statistics
import time

import tensorflow as tf
from official.common import distribute_utils
from official.core import config_definitions as cfg
from official.core import task_factory
from official.core import train_lib
from official.core import train_utils
from official.modeling import performance
from official.vision.serving import export_saved_model_lib

from components.trainer import experiment as experiment_lib
from components.trainer.constants import FINGERPRINT_FILE, SIGNATURES, TIMING_FILE
from dataset import layout
from dataset.labelmap import LabelMap
from pipeline.settings import TrainingSettings



class _StepTimer:
    """An Orbit train action: wall time and global step after every train loop."""

    def __init__(self, global_step: tf.Variable, start_step: int):
        self._global_step = global_step
        self.start_step = start_step
        self.marks: list[tuple[float, int]] = [(time.perf_counter(), self.start_step)]

    def __call__(self, _train_output) -> None:
        self.marks.append((time.perf_counter(), int(self._global_step.numpy())))

    def step_times(self) -> list[float]:
        return [(t1 - t0) / (s1 - s0) for (t0, s0), (t1, s1) in zip(self.marks, self.marks[1:]) if s1 > s0]


def _fingerprint(params: cfg.ExperimentConfig) -> str:
    return hashlib.sha256(json.dumps(params.as_dict(), sort_keys=True, default=str).encode()).hexdigest()


def _latest_step(model_dir: str) -> int:
    checkpoint = tf.train.latest_checkpoint(model_dir)
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0


def resume_from_previous_attempt(model_run_dir: str, fingerprint: str) -> int:
    """Copies the newest checkpoint of an earlier, interrupted run of the same training.

    Every TFX execution gets a fresh `model_run` directory, so a rerun after a crash
    would start from step 0. Sibling executions whose config and input data (the
    fingerprint) match are the same training: continue from the furthest one.
    Returns the step resumed from (0 when none).
    """
    if _latest_step(model_run_dir):
        return _latest_step(model_run_dir)
    parent = os.path.dirname(model_run_dir.rstrip("/"))
    best_dir, best_step = None, 0
    for sibling in tf.io.gfile.glob(os.path.join(parent, "*")):
        marker = os.path.join(sibling, FINGERPRINT_FILE)
        if sibling.rstrip("/") == model_run_dir.rstrip("/") or not tf.io.gfile.exists(marker):
            continue
        with tf.io.gfile.GFile(marker) as f:
            if f.read().strip() != fingerprint:
                continue
        step = _latest_step(sibling)
        if step > best_step:
            best_dir, best_step = sibling, step
    if best_dir:
        prefix = os.path.basename(tf.train.latest_checkpoint(best_dir))
        for path in tf.io.gfile.glob(os.path.join(best_dir, prefix + ".*")):
            tf.io.gfile.copy(path, os.path.join(model_run_dir, os.path.basename(path)), overwrite=True)
        with tf.io.gfile.GFile(os.path.join(model_run_dir, "checkpoint"), "w") as f:
            f.write(f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n')
        logging.info("Resuming from step %d of %s", best_step, best_dir)
    return best_step


def train(params: cfg.ExperimentConfig, model_dir: str) -> dict:
    """Trains with Model Garden's own loop; returns the timing record."""
    tf.io.gfile.makedirs(model_dir)
    train_utils.serialize_config(params, model_dir)
    if params.task.train_data.seed is not None:
        # Weights' initialisation and the data order: a rerun of the same config trains the same model.
        tf.keras.utils.set_random_seed(params.task.train_data.seed)
    if params.runtime.mixed_precision_dtype:
        performance.set_mixed_precision_policy(params.runtime.mixed_precision_dtype)
    strategy = distribute_utils.get_distribution_strategy(
        distribution_strategy=params.runtime.distribution_strategy,
        all_reduce_alg=params.runtime.all_reduce_alg,
        num_gpus=params.runtime.num_gpus,
        tpu_address=params.runtime.tpu)
    with strategy.scope():
        task = task_factory.get_task(params.task, logging_dir=model_dir)
        trainer = train_utils.create_trainer(
            params, task, train=True, evaluate=False)
    timer = _StepTimer(trainer.global_step, start_step=_latest_step(model_dir))
    started = time.perf_counter()
    train_lib.run_experiment(
        distribution_strategy=strategy, task=task, mode="train", params=params,
        model_dir=model_dir, trainer=trainer, train_actions=[timer])
    wall = time.perf_counter() - started
    step_times = timer.step_times()
    # The first loop includes tracing; steady state is what follows.
    steady = step_times[1:] or step_times
    median = statistics.median(steady) if steady else float("nan")
    batch = params.task.train_data.global_batch_size
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "config_fingerprint": _fingerprint(params),
        "start_step": timer.start_step,
        "end_step": timer.marks[-1][1],
        "steps": timer.marks[-1][1] - timer.start_step,
        "wall_time_s": round(wall, 3),
        "first_loop_s": round(timer.marks[1][0] - timer.marks[0][0], 3) if len(timer.marks) > 1 else None,
        "median_step_s": round(median, 4),
        "images_per_s": round(batch / median, 3) if median == median else None,
        "global_batch_size": batch,
        "device_kind": "GPU" if gpus else "CPU",
        "device_count": len(gpus) if gpus else 1,
        "device_name": (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
                        if gpus else platform.processor() or platform.machine()),
        "strategy": type(strategy).__name__,
        "precision": params.runtime.mixed_precision_dtype or "float32",
    }


def export(params: cfg.ExperimentConfig, model_dir: str, serving_model_dir: str, label_map: LabelMap) -> None:
    """Model Garden's export: one SavedModel, signatures for bytes, tensors and tf.Examples."""
    export_saved_model_lib.export_inference_graph(
        input_type="image_bytes",
        batch_size=None,
        input_image_size=list(params.task.model.input_size[:2]),
        params=params,
        checkpoint_path=tf.train.latest_checkpoint(model_dir),
        export_dir=serving_model_dir,
        function_keys=SIGNATURES)
    assets = os.path.join(serving_model_dir, "assets")
    tf.io.gfile.makedirs(assets)
    label_map.write(os.path.join(assets, layout.LABEL_MAP_FILE))


def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    settings = TrainingSettings.from_custom_config(fn_args.custom_config)
    examples_uri = os.path.dirname(os.path.dirname(fn_args.train_files[0]))
    label_map = layout.read_label_map(examples_uri)
    summary = layout.read_summary(examples_uri)
    params = experiment_lib.build_experiment(
        config=settings.config,
        train_files=[f for pattern in fn_args.train_files for f in tf.io.gfile.glob(pattern)],
        eval_files=[f for pattern in fn_args.eval_files for f in tf.io.gfile.glob(pattern)],
        label_map=label_map,
        num_eval_examples=int(summary["num_examples"].get("eval", 0)),
        train_steps=fn_args.train_steps or None,
        batch_size=settings.batch_size,
        params_override=settings.params_override,
        init_checkpoint=settings.init_checkpoint,
    )
    model_dir = fn_args.model_run_dir
    tf.io.gfile.makedirs(model_dir)
    fingerprint = _fingerprint(params)
    with tf.io.gfile.GFile(os.path.join(model_dir, FINGERPRINT_FILE), "w") as f:
        f.write(fingerprint)
    resume_from_previous_attempt(model_dir, fingerprint)

    timing = train(params, model_dir)
    export(params, model_dir, fn_args.serving_model_dir, label_map)
    model_uri = os.path.dirname(fn_args.serving_model_dir.rstrip("/"))
    with tf.io.gfile.GFile(os.path.join(model_uri, TIMING_FILE), "w") as f:
        json.dump(timing, f, indent=2)
    logging.info("Training: %s", timing)
