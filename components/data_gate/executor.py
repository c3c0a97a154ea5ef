"""DataGate's executor: TFDV's anomalies, train/eval class drift and per-example checks, or stop."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.data_gate.constants import MAX_CLASS_DRIFT_KEY, MIN_EVAL_IMAGES_KEY, REPORT_FILE
from components.data_gate.drift import drift_check, num_examples
from dataset import layout, records

MAX_EXAMPLES_SHOWN = 10


class DataValidationError(RuntimeError):
    """The examples break the schema or the checks; the message is the report."""


def check_example(serialized: bytes, label_ids: frozenset[int]) -> list[str]:
    """What TFDV cannot express per example: list lengths agree, boxes are ordered, masks fit."""
    import cv2
    import numpy as np

    example = tf.train.Example.FromString(serialized)
    name = (records.feature_values(example, records.IMAGE_FILENAME) or [b"?"])[0].decode()

    def values(key):
        return records.feature_values(example, key)

    problems = []
    labels = values(records.CLASS_LABEL)
    lengths = {
        key: len(values(key))
        for key in (
            records.BBOX_XMIN,
            records.BBOX_YMIN,
            records.BBOX_XMAX,
            records.BBOX_YMAX,
            records.CLASS_LABEL,
            records.CLASS_TEXT,
            records.OBJECT_AREA,
            records.OBJECT_IS_CROWD,
            records.OBJECT_MASK,
        )
    }
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k.rsplit('/', 1)[-1] if 'bbox' not in k else k[13:]}={n}" for k, n in lengths.items())
        problems.append(f"{name}: per-instance lists differ in length ({detail})")
    unknown = sorted(set(labels) - label_ids)
    if unknown:
        problems.append(f"{name}: class ids {unknown} are not in the label map {sorted(label_ids)}")
    # strict=False: lists of other lengths are reported above; the boxes they share are checked still.
    for i, (x0, y0, x1, y1) in enumerate(
        zip(
            values(records.BBOX_XMIN),
            values(records.BBOX_YMIN),
            values(records.BBOX_XMAX),
            values(records.BBOX_YMAX),
            strict=False,
        )
    ):
        if not (x0 < x1 and y0 < y1):
            problems.append(
                f"{name}: instance {i} box is not ordered (xmin {x0:.3f} xmax {x1:.3f}, ymin {y0:.3f} ymax {y1:.3f})"
            )
    height, width = (values(records.IMAGE_HEIGHT) or [0])[0], (values(records.IMAGE_WIDTH) or [0])[0]
    for i, png in enumerate(values(records.OBJECT_MASK)):
        mask = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if mask is None:
            problems.append(f"{name}: instance {i} mask does not decode")
        elif mask.shape[:2] != (height, width):
            problems.append(f"{name}: instance {i} mask is {mask.shape[1]}x{mask.shape[0]}, image {width}x{height}")
    return problems


def _problems_file(report_uri: str, split: str) -> str:
    return os.path.join(report_uri, f"example_problems-{split}.txt")


def _check_splits(pipeline, examples_uri: str, report_uri: str, label_ids: frozenset[int]) -> None:
    """Every problem of every example, one line each, in a file per split of the report."""
    for split in layout.SPLITS:
        _ = (
            pipeline
            | f"Read{split}" >> beam.io.ReadFromTFRecord(layout.record_pattern(examples_uri, split))
            | f"Check{split}" >> beam.FlatMap(check_example, label_ids)
            | f"Write{split}" >> beam.io.WriteToText(_problems_file(report_uri, split), shard_name_template="")
        )


def _anomaly_lines(anomalies_artifact: types.Artifact, split: str) -> list[str]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    from tfx.components.example_validator.executor import DEFAULT_FILE_NAME

    path = os.path.join(artifact_utils.get_split_uri([anomalies_artifact], split), DEFAULT_FILE_NAME)
    with tf.io.gfile.GFile(path, "rb") as f:
        anomalies = anomalies_pb2.Anomalies.FromString(f.read())
    lines = [
        f"feature '{name}': {info.short_description}: {info.description}"
        for name, info in sorted(anomalies.anomaly_info.items())
    ]
    if anomalies.HasField("dataset_anomaly_info"):
        lines.append(f"dataset: {anomalies.dataset_anomaly_info.description}")
    return lines


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        statistics = artifact_utils.get_single_instance(input_dict["statistics"])
        anomalies = artifact_utils.get_single_instance(input_dict["anomalies"])
        schema = io_utils.SchemaReader().read(
            io_utils.get_only_uri_in_dir(artifact_utils.get_single_uri(input_dict["schema"]))
        )
        report_artifact = artifact_utils.get_single_instance(output_dict["report"])
        label_ids = frozenset(layout.read_label_map(examples.uri).ids)

        sections: dict[str, list[str]] = {}
        for split in layout.SPLITS:
            lines = _anomaly_lines(anomalies, split)
            if lines:
                sections[f"TFDV anomalies in {layout.split_dir_name(split)}"] = lines
        drift, drift_note = drift_check(statistics, schema, float(exec_properties[MAX_CLASS_DRIFT_KEY]))
        if drift:
            sections["class distribution"] = drift
        num_eval, min_eval = num_examples(statistics, layout.EVAL), int(exec_properties[MIN_EVAL_IMAGES_KEY])
        if num_eval < min_eval:
            sections["eval split"] = [
                f"{num_eval} eval images, fewer than the {min_eval} asked for (--min-eval-images): the AP scored on "
                f"them would be too uncertain to bless on; add labelled test images or raise --eval-fraction"
            ]

        tf.io.gfile.makedirs(report_artifact.uri)
        with self._make_beam_pipeline() as pipeline:
            _check_splits(pipeline, examples.uri, report_artifact.uri, label_ids)
        for split in layout.SPLITS:
            with tf.io.gfile.GFile(_problems_file(report_artifact.uri, split)) as f:
                problems = f.read().splitlines()
            if problems:
                shown = problems[:MAX_EXAMPLES_SHOWN] + (
                    [f"... {len(problems) - MAX_EXAMPLES_SHOWN} more in {_problems_file(report_artifact.uri, split)}"]
                    if len(problems) > MAX_EXAMPLES_SHOWN
                    else []
                )
                sections[f"example checks in {layout.split_dir_name(split)} ({len(problems)} problems)"] = shown

        report = format_report(sections, statistics.uri, notes=[drift_note])
        with tf.io.gfile.GFile(os.path.join(report_artifact.uri, REPORT_FILE), "w") as f:
            f.write(report)
        report_artifact.set_int_custom_property("num_anomalies", sum(len(v) for v in sections.values()))
        if sections:
            raise DataValidationError(report)


def format_report(sections: dict[str, Iterable[str]], statistics_uri: str, notes: Iterable[str] = ()) -> str:
    lines = [f"statistics: {statistics_uri}", *notes]
    if not sections:
        return "\n".join([*lines, "anomalies: none"])
    lines.append("the data is not fit for training; anomalies:")
    for title, items in sections.items():
        lines.append(f"  {title}:")
        lines.extend(f"    - {item}" for item in items)
    return "\n".join(lines)
