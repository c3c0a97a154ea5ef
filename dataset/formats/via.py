"""VGG Image Annotator (VIA) projects, as the matterport Mask R-CNN tutorial keeps them: train/via_region_data.json
and val/via_region_data.json beside their photos (VIA 1 and 2 exports, or a VIA 2 project's _via_img_metadata).

    {"x.jpg12345": {"filename": "x.jpg", "size": 12345, "file_attributes": {},
                    "regions": [{"shape_attributes": {"name": "polygon", "all_points_x": [...], "all_points_y": [...]},
                                 "region_attributes": {"class": "balloon"}}]}}

`regions` is a list (VIA 2) or a mapping (VIA 1). A region's class is its region attribute: the one the
project's _via_attributes defines, else the first of CLASS_ATTRIBUTES present, else the only one there is;
regions without attributes are one class, "object". Polygons, rectangles, circles and ellipses have an area;
points and polylines do not (rejected). Photos are found relative to the JSON's folder. Splits, the label map's
order (names sorted, ids 1..N) and unlisted photos (unlabelled) as for labelme.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from pathlib import Path

import numpy as np

from dataset import records, shapes
from dataset.annotation_listing import full, join_rel, load_json, role, unlisted_files, walk
from dataset.formats.registry import SPLIT_FOLDERS, DatasetFormat, Photo, json_format, register, write_file
from dataset.labelmap import LabelClass, LabelMap
from dataset.records import Converted, IngestError, Listing, RejectError, WorkItem

CLASS_ATTRIBUTES = ("class", "label", "name", "type", "category", "object")
ONE_CLASS = "object"


@dataclasses.dataclass(frozen=True)
class ViaEntry:
    """A VIA photo's own fields (its WorkItem's source)."""

    json_path: str
    regions: tuple[tuple[dict, str], ...]  # (shape_attributes, class name)


def _via_files(dataset_dir: str) -> list[str]:
    candidates = [
        rel
        for rel, hidden in walk(dataset_dir, "")
        if not hidden and rel.lower().endswith(".json") and rel.count("/") <= 1
    ]
    return [rel for rel in candidates if json_format(full(dataset_dir, rel)) is FORMAT]


def looks_like_via(dataset_dir: str) -> bool:
    """The first JSON file of the folder or of any folder in it is a VIA one (labelme keeps many there)."""
    firsts: dict[str, str] = {}
    for rel, hidden in walk(dataset_dir, ""):
        if not hidden and rel.lower().endswith(".json") and rel.count("/") <= 1:
            firsts.setdefault(posixpath.dirname(rel), rel)
    return any(json_format(full(dataset_dir, rel)) is FORMAT for rel in firsts.values())


def owns_json(data) -> bool:
    """A VIA export ({key: {"filename", "regions"}}) or project (its _via_img_metadata)."""
    entries = data.get("_via_img_metadata", data) if isinstance(data, dict) else None
    return (
        isinstance(entries, dict)
        and bool(entries)
        and all(isinstance(v, dict) and "filename" in v and "regions" in v for v in entries.values())
    )


def _class_attribute(data: dict, entries: dict) -> str:
    defined = list((data.get("_via_attributes") or {}).get("region") or {})
    used = {key for e in entries.values() for r in _regions(e) for key in (r.get("region_attributes") or {})}
    if len(defined) == 1:
        return defined[0]
    return next((a for a in CLASS_ATTRIBUTES if a in used), next(iter(used)) if len(used) == 1 else "")


def _regions(entry: dict) -> list[dict]:
    regions = entry.get("regions") or []
    return [r for r in (regions.values() if isinstance(regions, dict) else regions) if isinstance(r, dict)]


def _class_name(region: dict, attribute: str) -> str:
    value = (region.get("region_attributes") or {}).get(attribute) if attribute else ONE_CLASS
    if isinstance(value, dict):  # a checkbox attribute: {option: true}
        chosen = [k for k, v in value.items() if v]
        value = chosen[0] if len(chosen) == 1 else ""
    return str(value or "").strip()


def list_via_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    rel_jsons = _via_files(dataset_dir)
    if not rel_jsons:
        raise IngestError(f"{dataset_dir}: no VIA project JSON file (via_region_data.json)")
    by_folder = {"train", "eval"} <= {role(rel) for rel in rel_jsons}
    items, referenced, names = [], {}, set()
    for rel_json in rel_jsons:
        data = load_json(full(dataset_dir, rel_json))
        entries = data.get("_via_img_metadata", data)
        attribute = _class_attribute(data, entries)
        for key, entry in entries.items():
            image = join_rel(posixpath.dirname(rel_json), str(entry.get("filename") or key))
            regions = tuple((r.get("shape_attributes") or {}, _class_name(r, attribute)) for r in _regions(entry))
            names |= {name for _, name in regions if name}
            reason = f"listed in both {referenced[image]} and {rel_json}" if image in referenced else ""
            referenced.setdefault(image, rel_json)
            split = role(rel_json) if by_folder else records.hash_split(image, eval_fraction)
            items.append(
                WorkItem(
                    image,
                    full(dataset_dir, image),
                    split,
                    FORMAT.name,
                    ViaEntry(full(dataset_dir, rel_json), regions),
                    reason,
                )
            )
    if not names:
        raise IngestError(f"{dataset_dir}: the VIA files name no class in their regions' attributes")
    label_map = LabelMap(
        tuple(LabelClass(i, n, None) for i, n in enumerate(sorted(names), start=1)),
        source=", ".join(full(dataset_dir, r) for r in rel_jsons),
    )
    rejects: list = []
    roots = {posixpath.dirname(rel) for rel in rel_jsons}
    unlabelled, ignored = unlisted_files(dataset_dir, roots, set(referenced) | set(rel_jsons), eval_fraction, rejects)
    items += [WorkItem(p, p, split, FORMAT.name, reject_reason=reason) for p, reason, split in rejects]
    return Listing(
        label_map,
        tuple(sorted(items, key=lambda i: i.rel_path)),
        tuple(sorted(unlabelled)),
        tuple(sorted(ignored)),
        "annotation_files" if by_folder else "hash_split",
    )


def _polygon(shape: dict, where: str) -> list[float]:
    kind = shape.get("name")
    try:
        if kind == "polygon":
            xs, ys = shape["all_points_x"], shape["all_points_y"]
            if len(xs) != len(ys) or len(xs) < 3:
                raise RejectError(f"{where}: a polygon needs as many x as y and at least 3 points")
            return [float(v) for point in zip(xs, ys, strict=True) for v in point]
        if kind == "rect":
            x, y = float(shape["x"]), float(shape["y"])
            return shapes.rectangle_polygon(x, y, x + float(shape["width"]), y + float(shape["height"]))
        if kind == "circle":
            return shapes.ellipse_polygon(float(shape["cx"]), float(shape["cy"]), float(shape["r"]), float(shape["r"]))
        if kind == "ellipse":
            theta = float(shape.get("theta") or 0.0) * 180 / 3.141592653589793  # radians in VIA 2
            return shapes.ellipse_polygon(
                float(shape["cx"]), float(shape["cy"]), float(shape["rx"]), float(shape["ry"]), theta
            )
    except (KeyError, TypeError, ValueError):
        raise RejectError(f"{where}: a {kind} without its numeric coordinates") from None
    raise RejectError(
        f"{where} is a {kind or 'shape of no name'}, which has no area: an instance needs a polygon, "
        f"rect, circle or ellipse"
    )


def convert_via_item(item: WorkItem, label_map: LabelMap) -> Converted:
    name = posixpath.basename(item.source.json_path.replace("\\", "/"))
    image = shapes.read_image(item.path, name)
    by_name = {c.name: c for c in label_map.classes}
    found = []
    for number, (shape, class_name) in enumerate(item.source.regions, start=1):
        where = f"region {number} of {posixpath.basename(item.rel_path)} in {name}"
        if class_name not in by_name:
            raise RejectError(f"{where} has no class in its region attributes (classes: {', '.join(by_name)})")
        found.append(shapes.Shape(where, by_name[class_name], [_polygon(shape, where)]))
    return Converted(image, shapes.to_instances(found, image.height, image.width))


def write_via(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    projects: dict[str, dict] = {}
    for photo in photos:
        folder = SPLIT_FOLDERS[photo.split]
        write_file(out / folder / photo.name, photo.data)
        regions = []
        for inst in photo.instances:
            xs, ys = np.reshape(shapes.polygons(inst.mask)[0], (-1, 2)).T
            regions.append(
                {
                    "shape_attributes": {
                        "name": "polygon",
                        "all_points_x": xs.astype(int).tolist(),
                        "all_points_y": ys.astype(int).tolist(),
                    },
                    "region_attributes": {"class": inst.class_name},
                }
            )
        projects.setdefault(folder, {})[f"{photo.name}{len(photo.data)}"] = {
            "filename": photo.name,
            "size": len(photo.data),
            "regions": regions,
            "file_attributes": {},
        }
    for folder, entries in projects.items():
        write_file(out / folder / "via_region_data.json", json.dumps(entries))
    for path in unlabelled:
        write_file(out / "val" / Path(path).name, Path(path).read_bytes())


FORMAT = register(
    DatasetFormat(
        name="via",
        help="a VIA project (via_region_data.json beside the photos)",
        rank=4,
        looks_like=looks_like_via,
        list_inputs=list_via_inputs,
        convert=lambda item, given: convert_via_item(item, given.label_map),
        write_sample=write_via,
        owns_json=owns_json,
    )
)
