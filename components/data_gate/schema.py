"""The curated TFDV schema of the ingested examples, and `maskrcnn-tfx schema` to redraft it.

The committed schema (pipeline/schema/schema.pbtxt) is this module's draft of
the sample dataset. For your own data, run `maskrcnn-tfx schema --examples DIR`
on an ingestion output and review the result before committing it.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from dataset import records
from dataset.labelmap import LabelMap

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "pipeline" / "schema" / "schema.pbtxt"
DEFAULT_MAX_CLASS_DRIFT = 0.25

PER_INSTANCE = (records.BBOX_XMIN, records.BBOX_YMIN, records.BBOX_XMAX, records.BBOX_YMAX, records.CLASS_LABEL,
                records.CLASS_TEXT, records.OBJECT_AREA, records.OBJECT_IS_CROWD, records.OBJECT_MASK)
# Unique per example: a vocabulary of them would only say "new file".
UNIQUE_KEYS = (records.IMAGE_FILENAME, records.IMAGE_SHA256)
# Encoded images: TFDV computes byte statistics for them instead of string top-k values.
IMAGE_FEATURES = (records.IMAGE_ENCODED, records.OBJECT_MASK)


def curate(schema, label_map: LabelMap, max_class_drift: float = DEFAULT_MAX_CLASS_DRIFT):
    """Turns TFDV's inferred schema into the rules the examples must follow."""
    import tensorflow_data_validation as tfdv

    schema.ClearField("string_domain")
    for feature in schema.feature:
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        if feature.WhichOneof("domain_info") is not None:
            feature.ClearField(feature.WhichOneof("domain_info"))
        if feature.name in PER_INSTANCE:
            feature.ClearField("shape")
            feature.value_count.min = 1  # at least one instance per example
        if feature.name in IMAGE_FEATURES:
            feature.image_domain.SetInParent()
    get = lambda name: tfdv.get_feature(schema, name)  # noqa: E731
    for name in (records.IMAGE_HEIGHT, records.IMAGE_WIDTH):
        get(name).int_domain.min = 1
    get(records.IMAGE_SOURCE_ID).int_domain.SetInParent()  # a decimal number, as Model Garden parses it
    for name in (records.BBOX_XMIN, records.BBOX_YMIN, records.BBOX_XMAX, records.BBOX_YMAX):
        get(name).float_domain.min, get(name).float_domain.max = 0.0, 1.0
    get(records.OBJECT_AREA).float_domain.min = 1.0
    is_crowd = get(records.OBJECT_IS_CROWD).int_domain
    is_crowd.min, is_crowd.max, is_crowd.is_categorical = 0, 1, True
    label = get(records.CLASS_LABEL)
    label.int_domain.min, label.int_domain.max = min(label_map.ids), max(label_map.ids)
    label.int_domain.is_categorical = True
    label.drift_comparator.infinity_norm.threshold = max_class_drift
    get(records.CLASS_TEXT).string_domain.value[:] = sorted(label_map.names)
    formats = get(records.IMAGE_FORMAT).string_domain.value
    formats[:] = ["jpeg", "png"]
    return schema


def draft_schema(examples_uri: str, max_class_drift: float = DEFAULT_MAX_CLASS_DRIFT):
    """Statistics of an ingestion output's train split -> inferred schema -> curated schema."""
    import tensorflow_data_validation as tfdv

    from dataset import layout

    stats = tfdv.generate_statistics_from_tfrecord(
        os.path.join(layout.split_dir(examples_uri, layout.TRAIN), "*"),
        stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True))
    return curate(tfdv.infer_schema(stats, infer_feature_shape=True), layout.read_label_map(examples_uri),
                  max_class_drift)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", required=True,
                        help="an ingestion output folder (`maskrcnn-tfx ingest --output`, or an Examples artifact)")
    parser.add_argument("--output", default=str(SCHEMA_PATH), help=f"schema file to write (default {SCHEMA_PATH})")
    parser.add_argument("--max-class-drift", type=float, default=DEFAULT_MAX_CLASS_DRIFT,
                        help="L-infinity threshold between the train and eval class distributions")


def main(args: argparse.Namespace) -> int:
    import tensorflow_data_validation as tfdv

    schema = draft_schema(args.examples, args.max_class_drift)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tfdv.write_schema_text(schema, args.output)
    print(f"wrote {args.output} ({len(schema.feature)} features); review it, then commit it or pass it with --schema")
    return 0
