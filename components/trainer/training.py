"""Model Garden's Mask R-CNN trained with its own loop (Orbit, through `train_lib.OrbitExperimentRunner`),
timed, optionally from a pretrained checkpoint and scored every `eval_interval` steps; no TFX here.

The TFX Trainer's run_fn (trainer_module.py) and the trainer benchmark both train through `train`.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import platform
import statistics
import time
from typing import TextIO

import tensorflow as tf
from official.common import distribute_utils
from official.core import config_definitions as cfg
from official.core import task_factory, train_lib, train_utils
from official.modeling import performance

from components.trainer import accuracy, init_checkpoint, progress
from components.util.serving_contract import ServingConfig

_LOG = logging.getLogger(__name__)

ACCURACY_SUMMARIES = "accuracy"  # TensorBoard folder of the in-training evaluations, in the model dir


@dataclasses.dataclass
class Evaluation:
    """What to score during training, how often, and when to stop."""

    split: object  # components.util.eval_split.EvalSplit
    label_map: object
    interval: int
    stop_at: dict[str, float] = dataclasses.field(default_factory=dict)
    serving: ServingConfig = dataclasses.field(default_factory=ServingConfig)  # the answer that is scored


def latest_step(model_dir: str) -> int:
    checkpoint = tf.train.latest_checkpoint(model_dir)
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0


class _StepTimer:
    """An Orbit train action: wall time and global step after every train loop."""

    def __init__(self, global_step: tf.Variable, start_step: int):
        self._global_step = global_step
        self.start_step = start_step
        self.marks: list[tuple[float, int]] = [(time.perf_counter(), self.start_step)]

    def __call__(self, _train_output) -> None:
        self.marks.append((time.perf_counter(), int(self._global_step.numpy())))

    def step_times(self) -> list[float]:
        return [(t1 - t0) / (s1 - s0) for (t0, s0), (t1, s1) in itertools.pairwise(self.marks) if s1 > s0]


def _strategy(params: cfg.ExperimentConfig) -> tf.distribute.Strategy:
    return distribute_utils.get_distribution_strategy(
        distribution_strategy=params.runtime.distribution_strategy,
        all_reduce_alg=params.runtime.all_reduce_alg,
        num_gpus=params.runtime.num_gpus,
        tpu_address=params.runtime.tpu,
    )


def _task(params: cfg.ExperimentConfig, model_dir: str, init: dict):
    """Model Garden's task; with an init checkpoint, its `initialize` (called only when the model dir has no
    checkpoint of its own) restores what fits and records what it did in `init`."""
    task = task_factory.get_task(params.task, logging_dir=model_dir)
    if params.task.init_checkpoint:

        def initialize(model):
            record = init_checkpoint.initialize(model, params.task.init_checkpoint, params.task.init_checkpoint_modules)
            _LOG.info(
                "Initialised from %s (%s): %d variables restored, re-initialised %s, unused %s",
                record.checkpoint,
                ", ".join(record.modules),
                record.restored,
                record.reinitialised,
                record.unused,
            )
            init.update(record.as_dict())

        task.initialize = initialize
    return task


def train(
    params: cfg.ExperimentConfig,
    model_dir: str,
    evaluation: Evaluation | None = None,
    out: TextIO | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> dict:
    """Trains with Model Garden's own loop; returns the training record (timing, init, accuracy points).
    `strategy`: the config's (runtime section) unless given, as the GPU check's CPU dry run gives its two
    logical CPU devices."""
    tf.io.gfile.makedirs(model_dir)
    train_utils.serialize_config(params, model_dir)
    if params.task.train_data.seed is not None:
        # Weights' initialisation and the data order: a rerun of the same config trains the same model.
        tf.keras.utils.set_random_seed(params.task.train_data.seed)
    if params.runtime.mixed_precision_dtype:
        performance.set_mixed_precision_policy(params.runtime.mixed_precision_dtype)
    strategy = strategy or _strategy(params)
    init: dict = {}
    with strategy.scope():
        task = _task(params, model_dir, init)
        trainer = train_utils.create_trainer(params, task, train=True, evaluate=False)
    start_step, total = latest_step(model_dir), params.trainer.train_steps
    batch = params.task.train_data.global_batch_size
    points: list[accuracy.AccuracyPoint] = []
    end = f"train_steps {total} reached"
    with progress.prints_to_log() as terminal:
        line = progress.ProgressLine(out or terminal, trainer.global_step, total, batch)
        timer = _StepTimer(trainer.global_step, start_step=start_step)
        started = time.perf_counter()
        runner = train_lib.OrbitExperimentRunner(
            strategy, task, "train", params, model_dir, trainer=trainer, train_actions=[timer, line]
        )  # restores, or initialises
        scorer = (
            accuracy.InTrainingEvaluator(
                params, trainer.model, evaluation.split, evaluation.label_map, evaluation.serving
            )
            if evaluation
            else None
        )
        writer = tf.summary.create_file_writer(os.path.join(model_dir, ACCURACY_SUMMARIES)) if scorer else None
        for target in accuracy.schedule(start_step, total, evaluation.interval if evaluation else None):
            with strategy.scope():
                runner.controller.train(steps=target)
            if scorer is None:
                continue
            point = scorer.point(int(trainer.global_step.numpy()), started)
            points.append(point)
            line.restart(point.mask_AP50)
            timer(None)  # the evaluation is not a training step's time
            print(
                f"[train] evaluation at step {point.step}: "
                + ", ".join(
                    f"{k} {getattr(point, k):.3f}"
                    + (" [{:.3f}, {:.3f}]".format(*point.interval[k]) if k in point.interval else "")
                    for k in accuracy.POINT_METRICS
                ),
                file=out or terminal,
                flush=True,
            )
            with writer.as_default():
                for name in accuracy.POINT_METRICS:
                    tf.summary.scalar(name, getattr(point, name), step=point.step)
            if accuracy.targets_met(point, evaluation.stop_at):
                end = f"stopped at step {point.step}: " + ", ".join(
                    f"{k} {getattr(point, k):.3f} >= {v}" for k, v in evaluation.stop_at.items()
                )
                break
    wall = time.perf_counter() - started
    record = _timing(timer, wall, params, strategy)
    record.update(_numerics(params, trainer))
    record["end_reason"] = end
    record["init"] = init or (
        {
            "checkpoint": params.task.init_checkpoint,
            "skipped": f"resumed from step {start_step}: the run's own checkpoint",
        }
        if params.task.init_checkpoint and start_step
        else None
    )
    if evaluation:
        record.update(
            eval_interval=evaluation.interval,
            stop_at=evaluation.stop_at,
            accuracy_over_time=[p.as_dict() for p in points],
        )
    return record


def _numerics(params: cfg.ExperimentConfig, trainer) -> dict:
    """What the step ran as: the layers' compute dtype, the loss scale (dynamic under float16) and XLA, which
    Model Garden turns on for the train step only where runtime.num_gpus > 0 (core/base_trainer.py)."""
    loss_scale = getattr(trainer.optimizer, "loss_scale", None)
    return {
        "compute_dtype": trainer.model.compute_dtype,
        "loss_scale": float(loss_scale.numpy()) if loss_scale is not None else None,
        "dynamic_loss_scale": bool(getattr(trainer.optimizer, "dynamic", False)),
        "xla": bool(params.runtime.enable_xla and params.runtime.num_gpus > 0),
    }


def _timing(timer: _StepTimer, wall: float, params: cfg.ExperimentConfig, strategy) -> dict:
    step_times = timer.step_times()
    # The first loop includes tracing; steady state is what follows.
    steady = step_times[1:] or step_times
    median = statistics.median(steady) if steady else float("nan")
    batch = params.task.train_data.global_batch_size
    gpus = tf.config.list_physical_devices("GPU")
    return {
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
        "device_name": (
            tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
            if gpus
            else platform.processor() or platform.machine()
        ),
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "precision": params.runtime.mixed_precision_dtype or "float32",
    }
