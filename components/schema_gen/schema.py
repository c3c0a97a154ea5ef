"""The TFDV schema of the ingested examples: curated rules + the dataset's classes.

The curated schema (components/schema_gen/schema.pbtxt, or a user's `--schema`)
holds the structural rules: presence, value counts, types, ranges, formats. The
class domains (`image/object/class/label` in 1..N, `image/object/class/text`
in the class names) come from the label map ingestion wrote, on every run
(`with_classes`), so TFDV checks ids and names against the dataset's own
classes and a new dataset needs no schema step. `maskrcnn-tfx schema` drafts
the structural rules from an ingestion output.
"""

from __future__ import annotations

import argparse
import os

from components.util.package_data import package_file
from dataset import records
from dataset.labelmap import LabelMap

SCHEMA_PATH = package_file("schema_gen", "schema.pbtxt")

PER_INSTANCE = (
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
# Unique per example: a vocabulary of them would only say "new file".
UNIQUE_KEYS = (records.IMAGE_FILENAME, records.IMAGE_SHA256)
# Encoded images: TFDV computes byte statistics for them instead of string top-k values.
IMAGE_FEATURES = (records.IMAGE_ENCODED, records.OBJECT_MASK)


class SchemaClassesError(ValueError):
    """A curated schema states classes other than the dataset's label map."""


def _feature(schema, name: str):
    import tensorflow_data_validation as tfdv

    return tfdv.get_feature(schema, name)


def stated_classes(schema) -> tuple[tuple[int, int] | None, tuple[str, ...] | None]:
    """The class id range and names a schema states itself (None where it leaves them to the label map)."""
    domain = _feature(schema, records.CLASS_LABEL).int_domain
    id_range = (domain.min, domain.max) if domain.HasField("min") or domain.HasField("max") else None
    names = tuple(sorted(_feature(schema, records.CLASS_TEXT).string_domain.value)) or None
    return id_range, names


def with_classes(schema, label_map: LabelMap, schema_source: str = "the schema"):
    """The schema with the label map's class domains; fails when the schema states other classes."""
    id_range, names = stated_classes(schema)
    wanted_range, wanted_names = (min(label_map.ids), max(label_map.ids)), tuple(sorted(label_map.names))
    if (id_range is not None and id_range != wanted_range) or (names is not None and names != wanted_names):
        stated = ", ".join(
            filter(
                None,
                [f"ids {id_range[0]}..{id_range[1]}" if id_range else "", f"names {', '.join(names)}" if names else ""],
            )
        )
        raise SchemaClassesError(
            f"{schema_source} states the classes ({stated}) but the dataset's label map "
            f"{label_map.source or ''} has ids {wanted_range[0]}..{wanted_range[1]}, names "
            f"{', '.join(wanted_names)}. Remove the int_domain min/max of '{records.CLASS_LABEL}' and the "
            f"string_domain of '{records.CLASS_TEXT}' from the schema (every run takes them from the label map), "
            f"or redraft it with `maskrcnn-tfx schema --examples DIR --output FILE`"
        )
    schema = type(schema).FromString(schema.SerializeToString())
    label = _feature(schema, records.CLASS_LABEL)
    label.int_domain.min, label.int_domain.max = wanted_range
    label.int_domain.is_categorical = True
    _feature(schema, records.CLASS_TEXT).string_domain.value[:] = wanted_names
    return schema


def curate(schema):
    """Turns TFDV's inferred schema into the structural rules every dataset's examples must follow."""
    schema.ClearField("string_domain")
    for feature in schema.feature:
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        if feature.WhichOneof("domain_info") is not None:
            feature.ClearField(feature.WhichOneof("domain_info"))
        if feature.name in PER_INSTANCE:
            feature.ClearField("shape")
            feature.value_count.min = 0  # a background image (negative example) has no instance
        if feature.name in IMAGE_FEATURES:
            feature.image_domain.SetInParent()
    for name in (records.IMAGE_HEIGHT, records.IMAGE_WIDTH):
        _feature(schema, name).int_domain.min = 1
    _feature(schema, records.IMAGE_SOURCE_ID).int_domain.SetInParent()  # a decimal number, as Model Garden parses it
    for name in (records.BBOX_XMIN, records.BBOX_YMIN, records.BBOX_XMAX, records.BBOX_YMAX):
        _feature(schema, name).float_domain.min, _feature(schema, name).float_domain.max = 0.0, 1.0
    _feature(schema, records.OBJECT_AREA).float_domain.min = 1.0
    is_crowd = _feature(schema, records.OBJECT_IS_CROWD).int_domain
    is_crowd.min, is_crowd.max, is_crowd.is_categorical = 0, 1, True
    label = _feature(schema, records.CLASS_LABEL)
    label.int_domain.is_categorical = True  # the range comes from the label map (with_classes)
    _feature(schema, records.IMAGE_FORMAT).string_domain.value[:] = ["jpeg", "png"]
    return schema


def draft_schema(examples_uri: str):
    """Statistics of an ingestion output's train split -> inferred schema -> curated structural rules."""
    import tensorflow_data_validation as tfdv

    from dataset import layout

    stats = tfdv.generate_statistics_from_tfrecord(
        layout.record_pattern(examples_uri, layout.TRAIN),
        stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True),
    )
    return curate(tfdv.infer_schema(stats, infer_feature_shape=True))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--examples",
        required=True,
        help="an ingestion output folder (`maskrcnn-tfx ingest --output`, or an Examples artifact)",
    )
    parser.add_argument("--output", required=True, help="schema file to write")


def main(args: argparse.Namespace) -> int:
    import tensorflow_data_validation as tfdv

    schema = draft_schema(args.examples)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tfdv.write_schema_text(schema, args.output)
    print(
        f"wrote {args.output} ({len(schema.feature)} features; the classes come from each run's label map); "
        f"review it, then pass it with --schema"
    )
    return 0
