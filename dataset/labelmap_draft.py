"""`maskrcnn-tfx labelmap`: the grayscale values of a dataset's masks, and a draft label map.

Replaces the tutorial's pixel-value notebook: for every value found in
train_masks/ and test_masks/ it prints the number of pixels and files and the
mask colours with that luma (flagging values that several colours make), then writes a YAML label map to be
completed (class names) by the user. Values already in the dataset's label map
keep their id and name.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from dataset import colours, fileio

DRAFT_FILE_NAME = "label_map.draft.yaml"


@dataclasses.dataclass
class ValueStats:
    value: int
    pixels: int = 0
    files: int = 0


@dataclasses.dataclass
class MaskValues:
    values: dict[int, ValueStats]
    colours: colours.ColourTally  # the colours of colour masks behind each value
    num_files: int
    unreadable: list[tuple[str, str]]  # (file, reason)

    def colours_of(self, value: int) -> list[colours.Colour]:
        """The value's colours, most masks first."""
        files = self.colours.files.get(value, {})
        return sorted(files, key=lambda c: (-files[c], -self.colours.pixels[value][c], c))


def scan_masks(paths) -> MaskValues:
    """Grayscale value statistics (value 0, the background, excluded) and mask colours of mask PNGs."""
    from dataset import images

    values: dict[int, ValueStats] = {}
    tally = colours.ColourTally()
    unreadable, num_files = [], 0
    for path in paths:
        num_files += 1
        try:
            mask = images.decode_mask(fileio.read_bytes(path))
        except (OSError, images.ImageDecodeError) as e:
            unreadable.append((path, str(e)))
            continue
        for value, count in images.value_counts(mask.gray).items():
            if value == 0:
                continue
            stats = values.setdefault(value, ValueStats(value))
            stats.pixels += count
            stats.files += 1
        if mask.colour is not None:
            tally.add(colours.colours_by_value(mask.colour, mask.gray))
    return MaskValues(dict(sorted(values.items())), tally, num_files, unreadable)


def describe_colours(found: MaskValues, value: int) -> str:
    files = found.colours.files.get(value, {})
    return "; ".join(f"RGB{c} in {files[c]} files" for c in found.colours_of(value))


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
        own = found.colours_of(value)
        colour = f", colour: [{', '.join(map(str, own[0]))}]" if own else ""
        note = f"; other colours with this value: {', '.join(f'RGB{c}' for c in own[1:])}" if len(own) > 1 else ""
        lines.append(f"  - {{id: {class_id}, name: {name}, pixel_value: {value}{colour}}}"
                     f"  # {stats.pixels} px in {stats.files} files{note}")
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
    print(f"{'value':>5}  {'pixels':>10}  {'files':>5}  {'label map':<24} mask colours")
    for value, stats in found.values.items():
        label = known[value].name if value in known else "-- not in the label map"
        print(f"{value:5d}  {stats.pixels:10d}  {stats.files:5d}  {label:<24} {describe_colours(found, value)}")
    for value, shared in found.colours.shared_values().items():
        print(f"value {value} comes from {len(shared)} colours ({', '.join(f'RGB{c}' for c in shared)}): one class "
              f"per grey value, so ingestion takes RGB{shared[0]} (the most used, or the label map's 'colour') "
              f"as the class and rejects the masks with the others")
    for path, reason in found.unreadable:
        print(f"unreadable: {path}: {reason}")
    output = args.output or fileio.join(args.dataset, DRAFT_FILE_NAME)
    fileio.write_text(output, draft_yaml(found, existing))
    print(f"wrote the draft label map {output}")
    return 0
