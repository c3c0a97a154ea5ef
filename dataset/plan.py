"""Ingestion, step 1: the plan. Detects the layout, loads and checks the label map, lists the inputs and
assigns their splits; reads folder listings (and COCO JSON), never image data, so every layout or label map
error surfaces before any Beam work.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from dataset import fileio
from dataset.labelmap import LabelMap
from dataset.records import IngestError, WorkItem

DATASET_FORMATS = ("auto", "seed", "coco")  # auto: seed if train_images/ or test_images/, else COCO JSON
DEFAULT_DATASET_FORMAT = "auto"
DEFAULT_EVAL_FRACTION = 0.2         # hash split of train when the dataset has no labelled test split
DEFAULT_MAX_REJECT_FRACTION = 0.05  # ingestion fails above this share of rejected inputs
DEFAULT_MIN_INSTANCE_AREA = 16      # pixels: smaller connected components of a mask are specks


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    format: str = DEFAULT_DATASET_FORMAT
    eval_fraction: float = DEFAULT_EVAL_FRACTION
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    min_instance_area: int = DEFAULT_MIN_INSTANCE_AREA

    def __post_init__(self):
        if self.format not in DATASET_FORMATS:
            raise ValueError(f"format must be one of {', '.join(DATASET_FORMATS)}, not {self.format}")
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be between 0 and 1 (exclusive), got {self.eval_fraction}")
        if not 0.0 <= self.max_reject_fraction <= 1.0:
            raise ValueError(f"max_reject_fraction must be within [0, 1], got {self.max_reject_fraction}")
        if self.min_instance_area < 1:
            raise ValueError(f"min_instance_area must be at least 1, got {self.min_instance_area}")


@dataclasses.dataclass(frozen=True)
class IngestPlan:
    dataset_dir: str
    format: str  # "seed" | "coco"
    label_map: LabelMap
    items: tuple[WorkItem, ...]
    unlabelled: tuple[str, ...]
    ignored: tuple[str, ...]
    eval_source: str
    options: IngestOptions

    def summary_fields(self) -> dict[str, Any]:
        """The summary entries known before conversion."""
        return {
            "format": self.format,
            "dataset": self.dataset_dir,
            "num_inputs": len(self.items) + len(self.unlabelled),
            "num_unlabelled": len(self.unlabelled),
            "unlabelled_images": list(self.unlabelled),
            "ignored_files": list(self.ignored),
            "eval_source": self.eval_source,
            "eval_fraction": self.options.eval_fraction,
            "min_instance_area": self.options.min_instance_area,
            "max_reject_fraction": self.options.max_reject_fraction,
            "num_classes": self.label_map.num_classes,
            "class_names": list(self.label_map.names),
        }


def absolute(path: str) -> str:
    path = str(path)
    return path if fileio.is_uri(path) else os.path.abspath(path)


def detect_format(dataset_dir: str) -> str:
    from dataset import coco, seed

    if not fileio.isdir(dataset_dir):
        raise IngestError(f"{dataset_dir}: not a folder")
    is_seed, is_coco = seed.looks_like_seed(dataset_dir), coco.looks_like_coco(dataset_dir)
    if is_seed and is_coco:
        raise IngestError(f"{dataset_dir}: holds both a seed layout (train_images/) and COCO JSON files "
                          f"({', '.join(coco.annotation_files(dataset_dir))}); pass --format seed or --format coco")
    if is_seed:
        return "seed"
    if is_coco:
        return "coco"
    raise IngestError(
        f"{dataset_dir}: neither a seed layout (label.pbtxt + train_images/ + train_masks/) nor COCO "
        f"(annotations/instances_*.json + images)")


def plan_ingest(dataset_dir: str, options: IngestOptions) -> IngestPlan:
    """Lists and validates everything that can be checked without reading images.

    Raises LabelMapError for a bad label map and IngestError for an unusable layout.
    """
    from dataset import coco, seed

    dataset_dir = absolute(dataset_dir)
    fmt = detect_format(dataset_dir) if options.format == "auto" else options.format
    if fmt == "seed":
        label_map = LabelMap.load(LabelMap.find(dataset_dir))
        try:
            listing = seed.list_seed_inputs(dataset_dir, options.eval_fraction)
        except FileNotFoundError as e:
            raise IngestError(str(e)) from e
        plan = IngestPlan(dataset_dir, fmt, label_map, listing.items, listing.unlabelled, listing.ignored,
                          listing.eval_source, options)
    else:
        try:
            listing = coco.list_coco_inputs(dataset_dir, options.eval_fraction)
        except coco.CocoLayoutError as e:
            raise IngestError(str(e)) from e
        plan = IngestPlan(dataset_dir, fmt, listing.label_map, listing.items, listing.unlabelled,
                          listing.ignored, listing.eval_source, options)
    if not plan.items:
        raise IngestError(f"{dataset_dir}: no input files found ({fmt} layout)")
    return plan
