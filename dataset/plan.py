"""Ingestion, step 1: the plan. Detects the layout, loads and checks the label map, lists the inputs and
assigns their splits; reads folder listings (and COCO JSON), never image data, so every layout or label map
error surfaces before any Beam work.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from dataset import formats
from dataset.labelmap import LabelMap
from dataset.records import IngestError, WorkItem
from storage import fileio

DATASET_FORMATS = formats.CHOICES  # auto: whichever the folder looks like, or a format's name
DEFAULT_DATASET_FORMAT = formats.AUTO
DEFAULT_EVAL_FRACTION = 0.2  # hash split of train when the dataset has no labelled test split
DEFAULT_MAX_REJECT_FRACTION = 0.05  # ingestion fails above this share of rejected inputs
DEFAULT_MIN_INSTANCE_AREA = 16  # pixels: smaller connected components of a mask are specks


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
    format: str  # a name of dataset.formats.FORMATS
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
    """The format of a dataset folder (dataset/formats/); IngestError when it is none, or several."""
    if not fileio.isdir(dataset_dir):
        raise IngestError(f"{dataset_dir}: not a folder")
    return formats.detect(dataset_dir)


def plan_ingest(dataset_dir: str, options: IngestOptions) -> IngestPlan:
    """Lists and validates everything that can be checked without reading images.

    Raises LabelMapError for a bad label map and IngestError for an unusable layout.
    """
    dataset_dir = absolute(dataset_dir)
    fmt = detect_format(dataset_dir) if options.format == formats.AUTO else options.format
    listing = formats.FORMATS[fmt].list_inputs(dataset_dir, options.eval_fraction)
    plan = IngestPlan(
        dataset_dir,
        fmt,
        listing.label_map,
        listing.items,
        listing.unlabelled,
        listing.ignored,
        listing.eval_source,
        options,
    )
    if not plan.items:
        raise IngestError(f"{dataset_dir}: no input files found ({fmt} layout)")
    return plan
