"""Model Garden's Mask R-CNN trained with its own loop (`train_lib.run_experiment`), timed; no TFX here.

The TFX Trainer's run_fn (trainer_module.py) and the trainer benchmark both train through `train`.
"""
from __future__ import annotations

import platform
import statistics
import time

import tensorflow as tf
from official.common import distribute_utils
from official.core import config_definitions as cfg
from official.core import task_factory, train_lib, train_utils
from official.modeling import performance


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
        return [(t1 - t0) / (s1 - s0) for (t0, s0), (t1, s1) in zip(self.marks, self.marks[1:]) if s1 > s0]


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
    timer = _StepTimer(trainer.global_step, start_step=latest_step(model_dir))
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
