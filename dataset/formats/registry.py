"""What a dataset format is (`DatasetFormat`) and the formats registered so far. Each module of dataset/formats/
registers its one format with `register` (as Model Garden's registries take a factory, and Detectron2's
DatasetCatalog a dataset); dataset/formats/__init__.py imports them all."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataset.annotation_listing import load_json
from dataset.labelmap import LabelMap
from dataset.records import Conversion, Converted, Listing, RejectError, WorkItem

SPLIT_FOLDERS = {"train": "train", "eval": "val"}  # the folders a sample writer puts each split in


@dataclasses.dataclass(frozen=True)
class Photo:
    """A labelled photo as ingestion read it: what a format's sample writer is given."""

    split: str  # "train" | "eval"
    name: str  # file name
    data: bytes
    width: int
    height: int
    instances: tuple  # records.Instance


# folder, label map, labelled photos, paths of the unlabelled photos
SampleWriter = Callable[[Path, LabelMap, list[Photo], list[str]], None]


@dataclasses.dataclass(frozen=True)
class DatasetFormat:
    name: str  # --format's value, and its WorkItems' format
    help: str  # what its folder holds: in --help and detection's errors
    rank: int  # its place in --format's choices and in messages
    looks_like: Callable[[str], bool]  # dataset folder -> is it this format (--format auto)
    list_inputs: Callable[[str, float], Listing]  # dataset folder, eval fraction (IngestError)
    convert: Callable[[WorkItem, Conversion], Converted]  # one input -> its image and instances (RejectError)
    write_sample: SampleWriter | None = None  # a dataset written in it (`sample-data --format`)
    owns_json: Callable[[Any], bool] | None = None  # a parsed JSON file is one of its annotation files


_REGISTERED: dict[str, DatasetFormat] = {}


def register(fmt: DatasetFormat) -> DatasetFormat:
    """Adds a format (once: a second one of its name is an error); returns it, for its module to keep."""
    if fmt.name in _REGISTERED:
        raise ValueError(f"two dataset formats named {fmt.name}")
    _REGISTERED[fmt.name] = fmt
    return fmt


def registered() -> dict[str, DatasetFormat]:
    """The formats registered so far, by name, in their rank's order."""
    return {f.name: f for f in sorted(_REGISTERED.values(), key=lambda f: f.rank)}


def json_format(path: str) -> DatasetFormat | None:
    """The format whose annotation file a JSON file is by its content (the first by rank), or None: unreadable,
    or no format's."""
    try:
        data = load_json(path)
    except RejectError:
        return None
    return next((f for f in registered().values() if f.owns_json and f.owns_json(data)), None)


def write_file(path: Path, data: bytes | str) -> None:
    """A sample writer's file, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
