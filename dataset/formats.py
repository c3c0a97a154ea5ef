"""The dataset formats ingestion reads, by name (as Detectron2's DatasetCatalog keeps datasets): how to tell a
folder is one, how to list its inputs and label map, how to convert one input. A new format is one entry of
FORMATS and the modules its functions live in; `--format`, detection, planning and conversion read it here.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from dataset.labelmap import LabelMap
from dataset.records import Converted, IngestError, Listing, WorkItem


@dataclasses.dataclass(frozen=True)
class DatasetFormat:
    name: str
    layout: str                                             # what its folder holds, said in errors
    looks_like: Callable[[str], bool]                       # dataset folder -> is it this format
    list_inputs: Callable[[str, float], Listing]            # dataset folder, eval fraction (IngestError)
    convert: Callable[[WorkItem, LabelMap, int, str, Any], Converted]  # item, label map, min area, folder, colours


def _seed_listing(dataset_dir: str, eval_fraction: float) -> Listing:
    from dataset import seed

    label_map = LabelMap.load(LabelMap.find(dataset_dir))
    try:
        found = seed.list_seed_inputs(dataset_dir, eval_fraction)
    except FileNotFoundError as e:
        raise IngestError(str(e)) from e
    return Listing(label_map, found.items, found.unlabelled, found.ignored, found.eval_source)


def _coco_listing(dataset_dir: str, eval_fraction: float) -> Listing:
    from dataset import coco

    try:
        return coco.list_coco_inputs(dataset_dir, eval_fraction)
    except coco.CocoLayoutError as e:
        raise IngestError(str(e)) from e


def _seed_looks(dataset_dir: str) -> bool:
    from dataset import seed

    return seed.looks_like_seed(dataset_dir)


def _coco_looks(dataset_dir: str) -> bool:
    from dataset import coco

    return coco.looks_like_coco(dataset_dir)


def _seed_convert(item, label_map, min_instance_area, dataset_dir, own_colours) -> Converted:
    from dataset import seed_convert

    return seed_convert.convert_seed_item(item, label_map, min_instance_area, dataset_dir, own_colours)


def _coco_convert(item, label_map, min_instance_area, dataset_dir, own_colours) -> Converted:
    from dataset import coco_convert

    return coco_convert.convert_coco_item(item, label_map)


FORMATS: dict[str, DatasetFormat] = {f.name: f for f in (
    DatasetFormat("seed", "a seed layout (label.pbtxt + train_images/ + train_masks/)", _seed_looks, _seed_listing,
                  _seed_convert),
    DatasetFormat("coco", "COCO (annotations/instances_*.json + images)", _coco_looks, _coco_listing,
                  _coco_convert),
)}
AUTO = "auto"  # whichever format the folder looks like


def detect(dataset_dir: str) -> str:
    """The one format a dataset folder looks like, or an IngestError saying which it looks like or could be."""
    matches = [f for f in FORMATS.values() if f.looks_like(dataset_dir)]
    if len(matches) > 1:
        raise IngestError(f"{dataset_dir}: holds both {' and '.join(f.layout for f in matches)}; pass "
                          + " or ".join(f"--format {f.name}" for f in matches))
    if not matches:
        raise IngestError(f"{dataset_dir}: neither {' nor '.join(f.layout for f in FORMATS.values())}")
    return matches[0].name
