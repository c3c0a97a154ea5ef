"""The eval split as the evaluators use it: Model Garden's ground truth and the encoded photos a client sends.

MaskEvaluator scores the exported model on it; the Trainer scores the model it
is training on it every `eval_interval` steps, through the same serving
preprocessing, so both measure the same AP.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from components.util import coco_metrics
from dataset import layout, records


@dataclasses.dataclass
class EvalImage:
    """What the model is called with: the encoded photo, as a TF Serving client sends it."""

    source_id: int
    encoded: bytes
    height: int
    width: int


@dataclasses.dataclass
class EvalSplit:
    ground_truth: list[coco_metrics.GroundTruth]
    images: list[EvalImage]  # in the ground truth's order


def load_eval_split(examples_uri: str) -> EvalSplit:
    """The eval split's ground truth (as Model Garden decodes it) and its encoded photos."""
    ground_truth = coco_metrics.read_ground_truth(examples_uri)
    if not ground_truth:
        raise ValueError(f"{examples_uri}: {layout.split_dir_name(layout.EVAL)} has no example to evaluate on")
    spec = {
        records.IMAGE_ENCODED: tf.io.FixedLenFeature((), tf.string),
        records.IMAGE_SOURCE_ID: tf.io.FixedLenFeature((), tf.string),
    }
    encoded = {}
    for record in tf.data.TFRecordDataset(
        tf.io.gfile.glob(layout.record_pattern(examples_uri, layout.EVAL)), compression_type="GZIP"
    ):
        parsed = tf.io.parse_single_example(record, spec)
        encoded[int(parsed[records.IMAGE_SOURCE_ID].numpy())] = parsed[records.IMAGE_ENCODED].numpy()
    return EvalSplit(
        ground_truth, [EvalImage(g.source_id, encoded[g.source_id], g.height, g.width) for g in ground_truth]
    )
