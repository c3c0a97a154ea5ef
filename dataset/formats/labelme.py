"""labelme datasets (wkentaro/labelme): one JSON file a photo, beside it or anywhere below the folder.

    x.json   {"shapes": [{"label": "dog", "points": [[x, y], ...], "shape_type": "polygon", "group_id": null}],
              "imagePath": "x.jpg", "imageData": null | base64, "imageHeight": 480, "imageWidth": 640}
    labels.txt   optional: __ignore__, _background_, then one class a line (labelme's own examples)

`imagePath` is relative to the JSON's folder (Windows separators too); without that file, the embedded
`imageData` is the photo. Shapes of one label and one `group_id` are one instance (labelme2coco's rule);
polygons, rectangles, circles and masks (a PNG of a box, labelme >= 5.3) have an area, lines and points do
not (rejected). Classes: labels.txt's order, else the labels found, sorted; ids 1..N. A file's split comes from
its path (train/, val/, ...) when both roles are there, else from a hash of the path. Photos in the JSON files'
folders that none lists are unlabelled.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import posixpath
from pathlib import Path

import numpy as np

from dataset import records, shapes
from dataset.annotation_listing import full, join_rel, load_json, role, unlisted_files, walk
from dataset.formats.registry import SPLIT_FOLDERS, DatasetFormat, Photo, json_format, register, write_file
from dataset.labelmap import LABEL_MAP_FILE_NAMES, LabelClass, LabelMap, LabelMapError
from dataset.records import Converted, IngestError, Listing, RejectError, WorkItem
from storage import fileio

LABELS_FILE = "labels.txt"
NOT_CLASSES = ("__ignore__", "_background_")  # labels.txt's first lines, and labels of no object


@dataclasses.dataclass(frozen=True)
class LabelmeFile:
    """A labelme photo's own fields (its WorkItem's source)."""

    json_path: str
    size: tuple[int, int] | None
    shapes: tuple[dict, ...]
    embedded: bool  # the photo is the JSON's imageData (its imagePath is not there)


def _json_files(dataset_dir: str) -> list[str]:
    return [
        rel
        for rel, hidden in walk(dataset_dir, "")
        if not hidden and rel.lower().endswith(".json") and rel not in LABEL_MAP_FILE_NAMES
    ]


def looks_like_labelme(dataset_dir: str) -> bool:
    for name, is_dir in fileio.list_entries(dataset_dir):
        names = [f"{name}/{n}" for n, d in fileio.list_entries(full(dataset_dir, name)) if not d] if is_dir else [name]
        first = next((n for n in names if n.lower().endswith(".json") and n not in LABEL_MAP_FILE_NAMES), "")
        if first:
            return json_format(full(dataset_dir, first)) is FORMAT
    return False


def owns_json(data) -> bool:
    return isinstance(data, dict) and "shapes" in data and "imagePath" in data


def _label_map(dataset_dir: str, found: list[dict]) -> LabelMap:
    path = full(dataset_dir, LABELS_FILE)
    if fileio.exists(path):
        names = [line.strip() for line in fileio.read_text(path).splitlines()]
    else:
        names = sorted({str(s.get("label", "")).strip() for shapes_ in found for s in shapes_})
        path = f"the labels of the labelme files of {dataset_dir}"
    names = [n for n in names if n and n not in NOT_CLASSES]
    if not names:
        raise LabelMapError(f"{path}: no class (labels.txt lists one a line after __ignore__ and _background_)")
    return LabelMap(tuple(LabelClass(i, n, None) for i, n in enumerate(names, start=1)), source=path)


def _entry(dataset_dir: str, rel: str, data, files: set[str]) -> tuple[str, object, str]:
    """(image relative path, source, reason) of one JSON file."""
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list) or not data.get("imagePath"):
        return rel, None, "not a labelme file (needs 'shapes' and 'imagePath')"
    image = join_rel(posixpath.dirname(rel), str(data["imagePath"]))
    embedded = image not in files
    if embedded and not data.get("imageData"):
        return (
            rel,
            None,
            (f"its imagePath {data['imagePath']} (relative to the JSON's folder) is not there and it has no imageData"),
        )
    try:
        size = (int(data["imageWidth"]), int(data["imageHeight"])) if data.get("imageWidth") else None
    except (TypeError, ValueError):
        return rel, None, "imageWidth/imageHeight are not numbers"
    kept = tuple(
        {k: s.get(k) for k in ("label", "points", "shape_type", "group_id", "mask")}
        for s in data["shapes"]
        if isinstance(s, dict)
    )
    if len(kept) != len(data["shapes"]):
        return rel, None, "a shape is not a mapping with label and points"
    return (rel if embedded else image), LabelmeFile(full(dataset_dir, rel), size, kept, embedded), ""


def list_labelme_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    jsons = _json_files(dataset_dir)
    if not jsons:
        raise IngestError(f"{dataset_dir}: no labelme JSON file")
    files = {rel for rel, _ in walk(dataset_dir, "")}
    entries, referenced = [], {}
    for rel in jsons:
        try:
            image, source, reason = _entry(dataset_dir, rel, load_json(full(dataset_dir, rel)), files)
        except RejectError as e:
            image, source, reason = rel, None, str(e)
        if source is not None and image in referenced:
            image, source, reason = rel, None, f"{image} is the imagePath of {referenced[image]} too"
        referenced.setdefault(image, rel)
        entries.append((rel, image, source, reason))
    label_map = _label_map(dataset_dir, [s.shapes for _, _, s, _ in entries if s is not None])
    by_folder = {"train", "eval"} <= {role(rel) for rel in jsons}
    items = [
        WorkItem(
            image,
            full(dataset_dir, image),
            role(rel) if by_folder and role(rel) else records.hash_split(image, eval_fraction),
            FORMAT.name,
            source,
            reason,
        )
        for rel, image, source, reason in entries
    ]
    rejects: list = []
    roots = {posixpath.dirname(rel) for rel in jsons} | {posixpath.dirname(i) for _, i, s, _ in entries if s}
    unlabelled, ignored = unlisted_files(dataset_dir, roots, set(referenced) | set(jsons), eval_fraction, rejects)
    items += [
        WorkItem(p, p, split, FORMAT.name, reject_reason=reason)
        for p, reason, split in rejects
        if not p.endswith(LABELS_FILE)
    ]
    return Listing(
        label_map,
        tuple(sorted(items, key=lambda i: i.rel_path)),
        tuple(sorted(unlabelled)),
        tuple(sorted(ignored)),
        "annotation_files" if by_folder else "hash_split",
    )


def _piece(shape: dict, where: str, height: int, width: int) -> list[float] | dict:
    """A shape's polygon in pixels, or a mask shape's compressed RLE."""
    kind, points = shape.get("shape_type") or "polygon", shape.get("points") or []
    try:
        flat = [float(v) for point in points for v in point[:2]]
    except (TypeError, ValueError):
        raise RejectError(f"{where}: its points are not (x, y) pairs of numbers") from None
    if kind == "mask":
        return shapes.mask_rle(_mask_shape(shape.get("mask"), flat, where, height, width))
    if kind == "polygon" and len(flat) >= 6:
        return flat
    if kind == "rectangle" and len(flat) == 4:
        return shapes.rectangle_polygon(
            min(flat[0], flat[2]), min(flat[1], flat[3]), max(flat[0], flat[2]), max(flat[1], flat[3])
        )
    if kind == "circle" and len(flat) == 4:
        radius = ((flat[2] - flat[0]) ** 2 + (flat[3] - flat[1]) ** 2) ** 0.5
        return shapes.ellipse_polygon(flat[0], flat[1], radius, radius)
    if kind in ("polygon", "rectangle", "circle"):
        raise RejectError(f"{where}: a {kind} with {len(flat) // 2} points")
    raise RejectError(f"{where} is a {kind}, which has no area: an instance needs a polygon, rectangle, circle or mask")


def _mask_shape(data, flat: list[float], where: str, height: int, width: int):
    """labelme's mask shape (labelme >= 5.3): a PNG of the box from its first point to its second, both
    included, placed on the image as labelme's shapes_to_label places it (the points truncated to pixels, the
    parts outside the image cut off)."""
    import io

    from PIL import Image

    if len(flat) != 4 or not isinstance(data, str):
        raise RejectError(f"{where}: a mask shape needs its 2 corner points and a base64 PNG 'mask'")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            piece = np.array(im).astype(bool)
    except Exception as e:  # base64 or image data of any malformed kind
        raise RejectError(f"{where}: its mask is not a base64 PNG ({e})") from e
    x1, y1, x2, y2 = (int(v) for v in flat)
    if piece.ndim != 2 or piece.shape != (y2 - y1 + 1, x2 - x1 + 1):
        raise RejectError(
            f"{where}: its mask is {'x'.join(map(str, piece.shape[1::-1]))} px, but its points "
            f"({x1}, {y1}) to ({x2}, {y2}) make a {x2 - x1 + 1}x{y2 - y1 + 1} box"
        )
    mask = np.zeros((height, width), np.uint8)
    top, bottom, left, right = max(y1, 0), min(y2 + 1, height), max(x1, 0), min(x2 + 1, width)
    if top < bottom and left < right:
        mask[top:bottom, left:right] = piece[top - y1 : bottom - y1, left - x1 : right - x1]
    return mask


def convert_labelme_item(item: WorkItem, label_map: LabelMap) -> Converted:
    source = item.source
    name = posixpath.basename(source.json_path.replace("\\", "/"))
    data = None
    if source.embedded:
        try:
            data = base64.b64decode(load_json(source.json_path)["imageData"])
        except (ValueError, TypeError) as e:
            raise RejectError(f"the imageData of {name} is not base64 image data") from e
    image = shapes.read_image(item.path, name, data)
    shapes.check_size(source.size, image, f"{name}'s imageWidth and imageHeight give")
    groups: dict[object, shapes.Shape] = {}
    for number, shape in enumerate(source.shapes, start=1):
        label = str(shape.get("label") or "").strip()
        if label in NOT_CLASSES:
            continue
        where = f"shape {number} ('{label}') of {name}"
        cls = next((c for c in label_map.classes if c.name == label), None)
        if cls is None:
            raise RejectError(f"{where}: its label is not a class of {label_map.source} ({', '.join(label_map.names)})")
        key = (label, shape["group_id"]) if shape.get("group_id") is not None else number
        piece = _piece(shape, where, image.height, image.width)
        if key in groups:
            groups[key] = dataclasses.replace(groups[key], segmentation=[*groups[key].segmentation, piece])
        else:
            groups[key] = shapes.Shape(where, cls, [piece])
    return Converted(image, shapes.to_instances(list(groups.values()), image.height, image.width))


def write_labelme(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    for photo in photos:
        folder = out / SPLIT_FOLDERS[photo.split]
        write_file(folder / photo.name, photo.data)
        found = []
        for group, inst in enumerate(photo.instances):
            pieces = shapes.polygons(inst.mask)
            found += [
                {
                    "label": inst.class_name,
                    "points": np.reshape(p, (-1, 2)).tolist(),
                    "group_id": group if len(pieces) > 1 else None,
                    "description": "",
                    "shape_type": "polygon",
                    "flags": {},
                    "mask": None,
                }
                for p in pieces
            ]
        write_file(
            folder / f"{posixpath.splitext(photo.name)[0]}.json",
            json.dumps(
                {
                    "version": "5.5.0",
                    "flags": {},
                    "shapes": found,
                    "imagePath": photo.name,
                    "imageData": None,
                    "imageHeight": photo.height,
                    "imageWidth": photo.width,
                },
                indent=1,
            ),
        )
    for path in unlabelled:
        write_file(out / "val" / Path(path).name, Path(path).read_bytes())
    write_file(out / LABELS_FILE, "".join(f"{n}\n" for n in (*NOT_CLASSES, *label_map.names)))


FORMAT = register(
    DatasetFormat(
        name="labelme",
        help="labelme (one .json with shapes per photo)",
        rank=3,
        looks_like=looks_like_labelme,
        list_inputs=list_labelme_inputs,
        convert=lambda item, given: convert_labelme_item(item, given.label_map),
        write_sample=write_labelme,
        owns_json=owns_json,
    )
)
