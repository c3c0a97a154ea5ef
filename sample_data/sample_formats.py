"""A classic-layout dataset (the sample, or anyone's) written in the other formats people export: each format's
sample writer (dataset/formats/: `write_sample`). Its instances are the ones ingestion reads from it
(dataset/seed_convert.py), so each copy holds the same examples and instances; polygons are the instances' outer
contours (one polygon an object where a format has one: its largest piece). Test photos without a mask stay
unlabelled in every format (a folder no annotation lists); background photos are listed without objects.
"""

from __future__ import annotations

import dataclasses
import posixpath
from pathlib import Path

from dataset import formats
from dataset.formats import seed
from dataset.formats.registry import Photo
from dataset.labelmap import LabelMap

FORMATS = tuple(name for name, fmt in formats.FORMATS.items() if fmt.write_sample)  # the formats with a writer


def read_classic(classic_dir: str) -> tuple[LabelMap, list[Photo], list[str]]:
    """(label map, labelled photos, unlabelled photo paths) of a classic-layout folder, as ingestion reads it."""
    from dataset import plan as planning
    from dataset.records import Conversion, RejectError

    plan = planning.plan_ingest(classic_dir, planning.IngestOptions(format=seed.FORMAT.name))
    given = Conversion(plan.label_map, plan.options.min_instance_area)
    photos = []
    for item in plan.items:
        try:
            if item.reject_reason:
                raise RejectError(item.reject_reason)
            converted = seed.FORMAT.convert(item, given)
        except RejectError as e:
            raise ValueError(f"{item.path}: {e}") from e
        image = converted.image
        photos.append(
            Photo(
                item.split,
                posixpath.basename(item.rel_path),
                image.data,
                image.width,
                image.height,
                tuple(converted.instances),
            )
        )
    return plan.label_map, photos, list(plan.unlabelled)


def generate_as(fmt: str, output_dir, generate, arguments: dict):
    """sample.generate's dataset (`generate(folder, **arguments)`) written as `fmt` into output_dir."""
    import tempfile

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt}; the sample is written as {seed.FORMAT.name} or {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory() as classic:
        summary = generate(Path(classic) / "dataset", **arguments)
        write(fmt, str(Path(classic) / "dataset"), str(output_dir))
    return dataclasses.replace(summary, output_dir=str(output_dir), num_voc_files=0)


def write(fmt: str, classic_dir: str, out: str) -> None:
    """The classic-layout folder `classic_dir` written as `fmt` (one of FORMATS) into `out`."""
    label_map, photos, unlabelled = read_classic(str(classic_dir))
    formats.FORMATS[fmt].write_sample(Path(out), label_map, photos, unlabelled)
