"""The dataset formats ingestion reads, by name (as Detectron2's DatasetCatalog keeps datasets): how to tell a
folder is one, how to list its inputs and label map, how to convert one input. A new format is one entry of
FORMATS and the modules its functions live in; `--format`, detection, planning and conversion read it here.
"""
from __future__ import annotations

import dataclasses
import importlib
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


def _lazy(module: str, function: str, arity: int = 0) -> Callable:
    """dataset.<module>.<function>, imported when called (a Beam worker imports only the formats it converts);
    with arity, given only the first `arity` arguments (converters that need no more than the item and the
    label map)."""
    def call(*args):
        return getattr(importlib.import_module(f"dataset.{module}"), function)(*(args[:arity] if arity else args))

    return call


FORMATS: dict[str, DatasetFormat] = {f.name: f for f in (
    DatasetFormat("seed", "a seed layout (label.pbtxt + train_images/ + train_masks/)",
                  _lazy("seed", "looks_like_seed"), _seed_listing, _lazy("seed_convert", "convert_seed_item")),
    DatasetFormat("coco", "COCO (annotations/instances_*.json + images)", _lazy("coco", "looks_like_coco"),
                  _coco_listing, _lazy("coco_convert", "convert_coco_item", 2)),
    DatasetFormat("yolo", "YOLO segmentation (data.yaml + images/ + labels/)", _lazy("yolo", "looks_like_yolo"),
                  _lazy("yolo", "list_yolo_inputs"), _lazy("yolo_convert", "convert_yolo_item", 2)),
    DatasetFormat("labelme", "labelme (one .json with shapes per photo)", _lazy("labelme", "looks_like_labelme"),
                  _lazy("labelme", "list_labelme_inputs"), _lazy("labelme", "convert_labelme_item", 2)),
    DatasetFormat("via", "a VIA project (via_region_data.json beside the photos)", _lazy("via", "looks_like_via"),
                  _lazy("via", "list_via_inputs"), _lazy("via", "convert_via_item", 2)),
    DatasetFormat("voc-seg", "Pascal VOC segmentation (ImageSets/Segmentation/ + SegmentationObject/ + "
                  "SegmentationClass/)", _lazy("voc_segmentation", "looks_like_voc_segmentation"),
                  _lazy("voc_segmentation", "list_voc_segmentation_inputs"),
                  _lazy("voc_segmentation", "convert_voc_segmentation_item", 3)),
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
