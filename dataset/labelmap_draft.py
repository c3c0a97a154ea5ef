"""`maskrcnn-tfx labelmap`: the grayscale values of a dataset's masks, and a draft label map.

Replaces the tutorial's pixel-value notebook: for every value found in
train_masks/ and test_masks/ it prints the number of pixels and files and the
mask colours with that luma (flagging values that several colours make), then writes a YAML label map to be
completed (class names) by the user, with that table as comments. Values already in the dataset's label map
keep their id and name.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from dataset import colours
from dataset.labelmap import LabelClass, LabelMap, LabelMapError
from storage import fileio

DRAFT_FILE_NAME = "label_map.draft.yaml"
_DRAFT_HEADER = [
    "# Draft label map written by `maskrcnn-tfx labelmap`.",
    "# Name each class, delete values that are not classes (e.g. anti-aliased edges),",
    "# then save it as label_map.yaml in the dataset folder (and remove label.pbtxt).",
]


@dataclasses.dataclass
class ValueStats:
    value: int
    pixels: int = 0
    files: int = 0
    region_pixels: int = 0  # pixels inside a flat patch: painted, not only the blend of a soft edge

    @property
    def edge_only(self) -> bool:
        return self.region_pixels == 0


@dataclasses.dataclass
class MaskValues:
    values: dict[int, ValueStats]
    colours: colours.ColourTally  # the colours of colour masks behind each value
    num_files: int
    unreadable: list[tuple[str, str]]  # (file, reason)
    lossy: list[str] = dataclasses.field(default_factory=list)  # files holding JPEG data

    def colours_of(self, value: int) -> list[colours.Colour]:
        """The value's colours, most masks first."""
        files = self.colours.files.get(value, {})
        return sorted(files, key=lambda c: (-files[c], -self.colours.pixels[value][c], c))


def scan_masks(paths) -> MaskValues:
    """Grayscale value statistics (value 0, the background, excluded) and mask colours of mask PNGs."""
    from dataset import images
    from dataset.mask_values import flat_pixels

    values: dict[int, ValueStats] = {}
    tally = colours.ColourTally()
    unreadable, lossy, num_files = [], [], 0
    for path in paths:
        num_files += 1
        try:
            mask = images.decode_mask(fileio.read_bytes(path))
        except (OSError, images.ImageDecodeError) as e:
            unreadable.append((path, str(e)))
            continue
        in_regions = images.value_counts(mask.gray[flat_pixels(mask.gray)])
        for value, count in images.value_counts(mask.gray).items():
            if value == 0:
                continue
            stats = values.setdefault(value, ValueStats(value))
            stats.pixels += count
            stats.files += 1
            stats.region_pixels += in_regions.get(value, 0)
        if mask.lossy:
            lossy.append(path)
        elif mask.colour is not None:
            tally.add(colours.colours_by_value(mask.colour, mask.gray))
    return MaskValues(dict(sorted(values.items())), tally, num_files, unreadable, lossy)


def soft_edge_lines(found: MaskValues) -> list[str]:
    """What ingestion does with values seen only along edges, and with JPEG masks (dataset/mask_values.py)."""
    from dataset.mask_values import NOISE_TOLERANCE

    lines = []
    edge = [s for s in found.values.values() if s.edge_only]
    if edge:
        lines.append(
            f"soft edges: {len(edge)} values ({sum(s.pixels for s in edge)} px) appear only along object "
            f"edges, never as a painted region: the masks look antialiased or soft-edged. Ingestion gives each such "
            f"pixel the nearest class value (or the background): only values painted as regions need a "
            f"class"
        )
    if found.lossy:
        lines.append(
            f"lossy masks: {len(found.lossy)} masks are JPEG data: ingestion reads their values within "
            f"{NOISE_TOLERANCE} grey levels of a class value and warns; save masks as PNG to keep them "
            f"exact"
        )
    return lines


def describe_colours(found: MaskValues, value: int) -> str:
    files = found.colours.files.get(value, {})
    return "; ".join(f"RGB{c} in {files[c]} files" for c in found.colours_of(value))


def value_rows(found: MaskValues, known: Mapping[int, LabelClass] | None = None) -> list[str]:
    """A table of the values: value, pixels, files, the label map's class (when `known` is given), mask colours."""
    label_header = "" if known is None else f"{'label map':<24} "
    rows = [f"{'value':>5}  {'pixels':>10}  {'files':>5}  {label_header}mask colours"]
    for value, stats in found.values.items():
        row = f"{value:5d}  {stats.pixels:10d}  {stats.files:5d}  "
        if known is not None:
            name = known[value].name if value in known else "-- not in the label map"
            row += f"{name:<24} "
        rows.append(row + describe_colours(found, value) + ("  (never a painted region)" if stats.edge_only else ""))
    return rows


def draft_classes(found: MaskValues, existing: LabelMap | None = None) -> list[dict[str, Any]]:
    """One class per value: the label map's id and name when it has the value, else the next id and a placeholder."""
    known = existing.by_pixel if existing is not None else {}
    next_id = max(existing.ids) + 1 if existing is not None else 1
    classes = []
    for value in found.values:
        if value in known:
            entry: dict[str, Any] = {"id": known[value].id, "name": known[value].name}
        else:
            entry = {"id": next_id, "name": f"class_{value:03d}"}
            next_id += 1
        entry["pixel_value"] = value
        if own := found.colours_of(value):
            entry["colour"] = list(own[0])
        classes.append(entry)
    return classes


def draft_yaml(found: MaskValues, existing: LabelMap | None = None) -> str:
    """A label map in the explicit YAML form, after comments with each value's statistics."""
    table = [f"# {row}".rstrip() for row in value_rows(found)]
    data = yaml.safe_dump(
        {"classes": draft_classes(found, existing)}, sort_keys=False, allow_unicode=True, default_flow_style=None
    )  # None: flow style for the colours only
    return "\n".join([*_DRAFT_HEADER, "#", *table]) + "\n" + data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset folder (seed layout: *_masks/*.png)")
    parser.add_argument("--output", help=f"draft file to write (default: <dataset>/{DRAFT_FILE_NAME})")


def main(args: argparse.Namespace) -> int:
    from dataset.formats import seed

    paths = list(seed.mask_files(args.dataset))
    if not paths:
        print(
            f"maskrcnn-tfx labelmap: no masks (.png, .jpg) in {args.dataset}/train_masks or test_masks", file=sys.stderr
        )
        return 1
    existing = None
    try:
        existing = LabelMap.load(LabelMap.find(args.dataset))
    except LabelMapError as e:
        print(f"(no usable label map: {e})")
    found = scan_masks(paths)
    print(f"grayscale values of {found.num_files} mask files (0, the background, not listed):")
    print("\n".join(value_rows(found, existing.by_pixel if existing is not None else {})))
    for value, shared in found.colours.shared_values().items():
        print(
            f"value {value} comes from {len(shared)} colours ({', '.join(f'RGB{c}' for c in shared)}): one class "
            f"per grey value, so ingestion takes RGB{shared[0]} (the most used, or the label map's 'colour') "
            f"as the class and rejects the masks with the others"
        )
    for line in soft_edge_lines(found):
        print(line)
    for path, reason in found.unreadable:
        print(f"unreadable: {path}: {reason}")
    output = args.output or fileio.join(args.dataset, DRAFT_FILE_NAME)
    fileio.write_text(output, draft_yaml(found, existing))
    print(f"wrote the draft label map {output}")
    return 0
