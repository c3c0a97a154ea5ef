"""`maskrcnn-tfx labelmap`: the grayscale values of a dataset's masks, and a draft label map.

Replaces the tutorial's pixel-value notebook: for every value found in
train_masks/ and test_masks/ it prints the number of pixels and files and the
most common mask colour with that luma, then writes a YAML label map to be
completed (class names) by the user. Values already in the dataset's label map
keep their id and name.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter

import numpy as np

from dataset import fileio

DRAFT_FILE_NAME = "label_map.draft.yaml"


@dataclasses.dataclass
class ValueStats:
    value: int
    pixels: int = 0
    files: int = 0
    colours: Counter = dataclasses.field(default_factory=Counter)  # (r, g, b) -> pixels

    @property
    def colour(self) -> tuple[int, int, int] | None:
        return self.colours.most_common(1)[0][0] if self.colours else None


@dataclasses.dataclass
class MaskValues:
    values: dict[int, ValueStats]
    num_files: int
    unreadable: list[tuple[str, str]]  # (file, reason)


def scan_masks(paths) -> MaskValues:
    """Grayscale value statistics (value 0, the background, excluded) of mask PNGs."""
    import cv2

    from dataset import images

    values: dict[int, ValueStats] = {}
    unreadable, num_files = [], 0
    for path in paths:
        num_files += 1
        try:
            data = fileio.read_bytes(path)
            gray = images.decode_mask_gray(data)
        except (OSError, images.ImageDecodeError) as e:
            unreadable.append((path, str(e)))
            continue
        colour = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # BGR, palette expanded
        for value, count in images.value_counts(gray).items():
            if value == 0:
                continue
            stats = values.setdefault(value, ValueStats(value))
            stats.pixels += count
            stats.files += 1
            if colour is not None:
                bgr = colour[gray == value]
                uniques, counts = np.unique(bgr, axis=0, return_counts=True)
                for (b, g, r), n in zip(uniques.tolist(), counts.tolist()):
                    stats.colours[(r, g, b)] += n
    return MaskValues(dict(sorted(values.items())), num_files, unreadable)


def draft_yaml(found: MaskValues, existing=None) -> str:
    """A label map in the explicit YAML form; unknown values get placeholder names."""
    known = existing.by_pixel if existing is not None else {}
    next_id = max(existing.ids) + 1 if existing is not None else 1
    lines = [
        "# Draft label map written by `maskrcnn-tfx labelmap`.",
        "# Name each class, delete values that are not classes (e.g. anti-aliased edges),",
        "# then save it as label_map.yaml in the dataset folder (and remove label.pbtxt).",
        "classes:",
    ]
    for value, stats in found.values.items():
        if value in known:
            class_id, name = known[value].id, known[value].name
        else:
            class_id, name = next_id, f"class_{value:03d}"
            next_id += 1
        colour = f", mask colour RGB{stats.colour}" if stats.colour else ""
        lines.append(f"  - {{id: {class_id}, name: {name}, pixel_value: {value}}}"
                     f"  # {stats.pixels} px in {stats.files} files{colour}")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset folder (seed layout: *_masks/*.png)")
    parser.add_argument("--output", help=f"draft file to write (default: <dataset>/{DRAFT_FILE_NAME})")


def main(args: argparse.Namespace) -> int:
    from dataset import seed
    from dataset.labelmap import LabelMap, LabelMapError

    paths = list(seed.mask_files(args.dataset))
    if not paths:
        print(f"maskrcnn-tfx labelmap: no mask PNGs in {args.dataset}/train_masks or test_masks", file=sys.stderr)
        return 1
    existing = None
    try:
        existing = LabelMap.load(LabelMap.find(args.dataset))
    except LabelMapError as e:
        print(f"(no usable label map: {e})")
    found = scan_masks(paths)
    known = existing.by_pixel if existing is not None else {}
    print(f"grayscale values of {found.num_files} mask files (0, the background, not listed):")
    print(f"{'value':>5}  {'pixels':>10}  {'files':>5}  {'colour (RGB)':<16} label map")
    for value, stats in found.values.items():
        label = known[value].name if value in known else "-- not in the label map"
        print(f"{value:5d}  {stats.pixels:10d}  {stats.files:5d}  {str(stats.colour or ''):<16} {label}")
    for path, reason in found.unreadable:
        print(f"unreadable: {path}: {reason}")
    output = args.output or fileio.join(args.dataset, DRAFT_FILE_NAME)
    fileio.write_text(output, draft_yaml(found, existing))
    print(f"wrote the draft label map {output}")
    return 0
