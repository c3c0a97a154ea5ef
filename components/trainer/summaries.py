"""The Trainer's TensorBoard scalars (Model Garden writes them under `<model_run>/train/` as tensors)."""

from __future__ import annotations

import os

TRAIN_SUMMARIES = "train"  # Model Garden's folder of training summaries in the model dir


def scalars(model_run_dir: str | None, tag: str, folder: str = TRAIN_SUMMARIES) -> list[tuple[int, float]]:
    """(step, value) of a scalar, by step; empty when the run or the tag is not there."""
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator

    event_dir = os.path.join(model_run_dir or "", folder)
    if not model_run_dir or not tf.io.gfile.isdir(event_dir):
        return []
    events = event_accumulator.EventAccumulator(
        event_dir, size_guidance={event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0}
    )
    events.Reload()
    tags = events.Tags()
    if tag in tags["tensors"]:
        return sorted((e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag))
    if tag in tags["scalars"]:
        return sorted((e.step, float(e.value)) for e in events.Scalars(tag))
    return []
