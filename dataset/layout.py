"""The ingestion's output layout: the TFX Examples artifact's directory.

    <uri>/Split-train/data_tfrecord-*.gz   GZIP TFRecords of tf.train.Example
    <uri>/Split-eval/data_tfrecord-*.gz
    <uri>/label_map.json                   the LabelMap used (LabelMap.write)
    <uri>/rejects.jsonl                    one {"file", "reason", "split"} per rejected input
    <uri>/ingest_summary.json              counts (see `read_summary`)

The file names follow TFX's ExampleGen (`Split-<name>`, `data_tfrecord`, `.gz`),
so TFX components and tfx_bsl read the splits as any ExampleGen output.
This module is light (no TensorFlow import) so that trainers, evaluators and
commands can import it cheaply.
"""

from __future__ import annotations

import json
from typing import Any

from storage import fileio

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)

SPLIT_DIR_PREFIX = "Split-"
RECORD_FILE_PREFIX = "data_tfrecord"
RECORD_FILE_SUFFIX = ".gz"
LABEL_MAP_FILE = "label_map.json"
REJECTS_FILE = "rejects.jsonl"
SUMMARY_FILE = "ingest_summary.json"

# Model Garden data config value for these files.
TFRECORD_FILE_TYPE = "tfrecord_compressed"


def split_dir_name(split: str) -> str:
    return f"{SPLIT_DIR_PREFIX}{split}"


def split_dir(uri: str, split: str) -> str:
    return fileio.join(uri, split_dir_name(split))


def record_prefix(uri: str, split: str) -> str:
    """The prefix Beam's WriteToTFRecord shards (adding -SSSSS-of-NNNNN.gz)."""
    return fileio.join(split_dir(uri, split), RECORD_FILE_PREFIX)


def record_pattern(uri: str, split: str) -> str:
    """A glob of the split's files, as Model Garden's `input_path` takes it."""
    return fileio.join(split_dir(uri, split), f"{RECORD_FILE_PREFIX}-*{RECORD_FILE_SUFFIX}")


def label_map_path(uri: str) -> str:
    return fileio.join(uri, LABEL_MAP_FILE)


def rejects_path(uri: str) -> str:
    return fileio.join(uri, REJECTS_FILE)


def summary_path(uri: str) -> str:
    return fileio.join(uri, SUMMARY_FILE)


def read_summary(uri: str) -> dict[str, Any]:
    """The ingestion summary of an output directory or Examples artifact uri.

    Keys: format (a name of dataset.formats.FORMATS), num_inputs, num_examples {split: n},
    num_instances {split: n}, num_rejected, reject_fraction, num_unlabelled,
    unlabelled_images [paths], ignored_files [paths], eval_source
    ("test_folder"|"hash_split"|"annotation_files"), num_classes, and the options used.
    """
    return json.loads(fileio.read_text(summary_path(uri)))


def read_rejects(uri: str) -> list[dict[str, str]]:
    text = fileio.read_text(rejects_path(uri))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_label_map(uri: str):
    from dataset.labelmap import LabelMap

    path = label_map_path(uri)
    return LabelMap.from_json(fileio.read_text(path), source=path)
