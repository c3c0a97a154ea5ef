"""One image of a YOLO segmentation dataset with its label file -> its image and instances; runs in the Beam
workers. The label file is read as Ultralytics' verify_image_label reads it: one object a line, `class x1 y1 x2
y2 ...` in fractions of the width and height, duplicate lines dropped; a missing or empty file is a background
photo. A line of a box only (`class x y w h`, a detection label) is rejected: Mask R-CNN learns from masks."""
from __future__ import annotations

import posixpath

from dataset import shapes
from dataset.labelmap import LabelMap
from dataset.records import Converted, RejectError, WorkItem
from storage import fileio

BOX_ONLY_REASON = (
    "is a box (class x_centre y_centre width height), a YOLO detection label: Mask R-CNN learns from masks. "
    "Label the object as a polygon (a segmentation project: Ultralytics' `yolo task=segment`, CVAT's, Roboflow's "
    "instance segmentation export)")


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise RejectError(f"{where}: {text!r} is not a number") from None


def parse_label(text: str, name: str, label_map: LabelMap, names_file: str, width: int, height: int):
    """The shapes of a label file's text, polygons in pixels."""
    by_source_id = label_map.by_source_id
    found, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tuple(tokens) in seen:
            continue
        seen.add(tuple(tokens))
        where = f"line {number} of {name}"
        class_id = _number(tokens[0], where)
        cls = by_source_id.get(int(class_id)) if class_id.is_integer() else None
        if cls is None:
            raise RejectError(f"{where}: class {tokens[0]} is not one of the ids 0..{len(by_source_id) - 1} "
                              f"of 'names' in {posixpath.basename(names_file)}")
        coords = [_number(t, where) for t in tokens[1:]]
        if len(coords) == 4:
            raise RejectError(f"{where} {BOX_ONLY_REASON}")
        if len(coords) < 6 or len(coords) % 2:
            raise RejectError(f"{where}: a polygon needs at least 3 (x, y) pairs; it has {len(coords)} numbers")
        if min(coords) < 0 or max(coords) > 1:
            raise RejectError(f"{where}: coordinates must be fractions of the image's width and height (0 to 1), "
                              f"as YOLO writes them; it has {min(coords):g} to {max(coords):g}")
        polygon = [v * (width if i % 2 == 0 else height) for i, v in enumerate(coords)]
        found.append(shapes.Shape(where, cls, [polygon]))
    return found


def convert_yolo_item(item: WorkItem, label_map: LabelMap) -> Converted:
    image = shapes.read_image(item.path, "the splits of the YOLO data.yaml")
    if not item.source.label_path:
        return Converted(image, [])
    name = posixpath.basename(item.source.label_path.replace("\\", "/"))
    try:
        text = fileio.read_text(item.source.label_path)
    except (OSError, UnicodeDecodeError) as e:
        raise RejectError(f"cannot read the label file {name}: {e}") from e
    found = parse_label(text, name, label_map, item.source.names_file, image.width, image.height)
    return Converted(image, shapes.to_instances(found, image.height, image.width))
