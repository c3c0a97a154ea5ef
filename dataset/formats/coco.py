"""COCO instance annotations (as CVAT, Label Studio, Roboflow and others export them).

Annotation files looked for: ``annotations/*.json``, ``*.json`` at the top of
the folder and ``*/_annotations.coco.json``. Their role comes from their path:
``train`` -> train split; ``val``, ``valid``, ``test``, ``eval`` -> eval split;
a single file of no role (``instances_default.json``, ``result.json``) is split
by a hash of the image paths. Images are looked up relative to the JSON file's
folder, the dataset folder and their ``images/`` subfolders.

Categories become contiguous class ids 1..N in the order of the COCO ids; the
COCO id is kept as ``source_id`` in the label map. Listing reads the JSON files
and folder entries only; `convert_coco_item` reads the images and decodes the
segmentations in the Beam workers.
"""
from __future__ import annotations

import dataclasses
import posixpath
import re

from dataset import annotation_listing, records, shapes
from dataset.annotation_listing import full as _full, join_rel as _join_rel
from dataset.formats.registry import DatasetFormat, json_format, register
from dataset.labelmap import LABEL_MAP_FILE_NAMES, LabelMap, LabelMapError
from dataset.records import Converted, IngestError, Listing, RejectError, WorkItem
from storage import fileio

_PROBE_IMAGES = 20


class CocoLayoutError(ValueError):
    """The folder's COCO files cannot be used at all (not one image): fails before Beam."""


@dataclasses.dataclass(frozen=True)
class CocoEntry:
    """A COCO image entry's own fields (its WorkItem's source)."""
    size: tuple[int, int] | None  # (width, height) as the entry declares it
    annotations: tuple[dict, ...]


def annotation_files(dataset_dir: str) -> list[str]:
    """Relative paths of candidate COCO annotation files."""
    found = []
    for name, is_dir in fileio.list_entries(dataset_dir):
        if is_dir:
            if name == "annotations":
                found += [f"annotations/{n}" for n, d in fileio.list_entries(fileio.join(dataset_dir, name))
                          if not d and n.lower().endswith(".json") and not n.startswith(".")]
            elif fileio.exists(fileio.join(dataset_dir, name, "_annotations.coco.json")):
                found.append(f"{name}/_annotations.coco.json")
        elif name.lower().endswith(".json") and name not in LABEL_MAP_FILE_NAMES and not name.startswith("."):
            found.append(name)
    return sorted(found)


def looks_like_coco(dataset_dir: str) -> bool:
    """COCO files by their place, or a JSON file at the top of the folder that is no other format's (labelme
    and VIA keep JSON files there too)."""
    found = annotation_files(dataset_dir)
    at_top = [rel for rel in found if "/" not in rel]
    return len(found) > len(at_top) or any(
        json_format(_full(dataset_dir, rel)) in (FORMAT, None) for rel in at_top[:1])


def owns_json(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("images"), list) and isinstance(data.get("annotations"), list)


def _load(dataset_dir: str, rel: str) -> dict:
    data = annotation_listing.load_json(_full(dataset_dir, rel))
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        raise RejectError("not a COCO annotation file (needs lists 'images' and 'annotations')")
    if not isinstance(data.get("categories"), list) or not data["categories"]:
        raise RejectError("COCO file without 'categories'")
    return data


def _root_candidates(rel_json: str, images: list[dict]) -> list[str]:
    json_dir = posixpath.dirname(rel_json)
    parent = posixpath.dirname(json_dir)
    stem = posixpath.splitext(posixpath.basename(rel_json))[0]
    derived = re.sub(r"^(instances|annotations?)_", "", stem)
    candidates = [json_dir, "", "images", posixpath.join(json_dir, "images"), parent,
                  posixpath.join(parent, "images"), derived, posixpath.join("images", derived)]
    seen, unique = set(), []
    for c in candidates:
        c = posixpath.normpath(c) if c else ""
        c = "" if c == "." else c
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


def _image_root(dataset_dir: str, rel_json: str, images: list[dict]) -> str:
    """The folder (relative to dataset_dir) under which the images' file_name resolve best."""
    probe = [str(im.get("file_name", "")) for im in images[:_PROBE_IMAGES] if im.get("file_name")]
    if not probe:
        return posixpath.dirname(rel_json)
    best, best_score = None, 0
    for root in _root_candidates(rel_json, images):
        score = sum(fileio.exists(_full(dataset_dir, _join_rel(root, name))) for name in probe)
        if score > best_score:
            best, best_score = root, score
        if score == len(probe):
            break
    if best is None:
        tried = ", ".join(f"{r or '.'}/" for r in _root_candidates(rel_json, images))
        raise CocoLayoutError(
            f"{_full(dataset_dir, rel_json)}: none of its first images (e.g. {probe[0]!r}) exists under {tried}")
    return best


def _load_files(dataset_dir: str, rel_jsons: list[str], rejects: list) -> list[tuple[str, dict]]:
    loaded = []
    for rel in rel_jsons:
        try:
            loaded.append((rel, _load(dataset_dir, rel)))
        except RejectError as e:
            rejects.append((_full(dataset_dir, rel), str(e), "train"))
    if not loaded:
        raise CocoLayoutError(f"{dataset_dir}: no usable COCO annotation file among {', '.join(rel_jsons)}: "
                              f"{rejects[0][1]}")
    return loaded


def _roles(dataset_dir: str, loaded: list[tuple[str, dict]]) -> tuple[dict[str, str], bool]:
    """Each file's role ("train", "eval" or "") and whether the files make the splits themselves."""
    roles = {rel: annotation_listing.role(rel) for rel, _ in loaded}
    if len(loaded) > 1 and not all(roles.values()):
        unknown = [rel for rel, role in roles.items() if not role]
        raise CocoLayoutError(
            f"{dataset_dir}: several COCO files and no train/val role in the name of {', '.join(unknown)} "
            f"(name them e.g. instances_train.json and instances_val.json)")
    if len(loaded) > 1 and all(role == "eval" for role in roles.values()):
        raise CocoLayoutError(f"{dataset_dir}: COCO files only for evaluation ({', '.join(roles)}), none for train")
    return roles, "eval" in roles.values() and "train" in roles.values()


def _annotations_by_image(json_path: str, data: dict, split: str, rejects: list) -> dict[object, list[dict]]:
    image_ids = {image.get("id") for image in data["images"]}
    by_image: dict[object, list[dict]] = {}
    for ann in data["annotations"]:
        if ann.get("image_id") not in image_ids:
            rejects.append((f"{json_path}#annotation={ann.get('id')}", f"annotation {ann.get('id')} points to "
                            f"image_id {ann.get('image_id')!r}, which is not in 'images'", split))
            continue
        by_image.setdefault(ann.get("image_id"), []).append(
            {k: ann.get(k) for k in ("id", "category_id", "segmentation", "iscrowd")})
    return by_image


def _image_item(dataset_dir: str, rel_json: str, root: str, image: dict, split_of, seen_ids: set,
                referenced: dict[str, str], annotations: tuple) -> WorkItem:
    """One image entry of an annotation file, with the reason it cannot be used, if any."""
    name = str(image.get("file_name") or "")
    image_rel = _join_rel(root, name) if name else f"{rel_json}#image={image.get('id')}"
    reason = ""
    if not name:
        reason = f"image entry {image.get('id')!r} of {rel_json} has no file_name"
    elif image.get("id") in seen_ids:
        reason = f"duplicate image id {image.get('id')!r} in {rel_json}"
    elif image_rel in referenced:
        reason = f"listed in both {referenced[image_rel]} and {rel_json}"
    seen_ids.add(image.get("id"))
    referenced.setdefault(image_rel, rel_json)
    size = None
    try:
        if image.get("width") and image.get("height"):
            size = (int(image["width"]), int(image["height"]))
    except (TypeError, ValueError):
        reason = reason or f"image entry {image.get('id')!r} has a non-numeric width/height"
    return WorkItem(rel_path=image_rel, path=_full(dataset_dir, image_rel), split=split_of(image_rel),
                    format=FORMAT.name, source=CocoEntry(size, annotations), reject_reason=reason)


def list_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    try:
        return list_coco_inputs(dataset_dir, eval_fraction)
    except CocoLayoutError as e:
        raise IngestError(str(e)) from e


def list_coco_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    rel_jsons = annotation_files(dataset_dir)
    if not rel_jsons:
        raise CocoLayoutError(f"{dataset_dir}: no COCO annotation file (annotations/*.json or *.json)")
    rejects: list[tuple[str, str, str]] = []  # (full path, reason, split)
    loaded = _load_files(dataset_dir, rel_jsons, rejects)
    roles, files_split = _roles(dataset_dir, loaded)
    label_map = _label_map(dataset_dir, loaded)
    items: list[WorkItem] = []
    referenced: dict[str, str] = {}  # image rel path -> annotation file
    roots: set[str] = set()
    for rel_json, data in loaded:
        file_split = "eval" if roles[rel_json] == "eval" else "train"

        def split_of(image_rel: str) -> str:
            return file_split if files_split else records.hash_split(image_rel, eval_fraction)

        root = _image_root(dataset_dir, rel_json, data["images"])
        roots.add(root)
        by_image = _annotations_by_image(_full(dataset_dir, rel_json), data, file_split, rejects)
        seen_ids: set = set()
        items += [_image_item(dataset_dir, rel_json, root, image, split_of, seen_ids, referenced,
                              tuple(by_image.get(image.get("id"), ()))) for image in data["images"]]
    unlabelled, ignored = annotation_listing.unlisted_files(dataset_dir, roots, set(referenced) | set(rel_jsons),
                                                            eval_fraction, rejects)
    items += [WorkItem(rel_path=path, path=path, split=split, format=FORMAT.name, reject_reason=reason)
              for path, reason, split in rejects]
    items.sort(key=lambda item: item.rel_path)
    return Listing(label_map, tuple(items), tuple(sorted(unlabelled)), tuple(sorted(ignored)),
                       "annotation_files" if files_split else "hash_split")


def _label_map(dataset_dir: str, loaded: list[tuple[str, dict]]) -> LabelMap:
    first_rel, first = loaded[0]
    label_map = LabelMap.from_coco_categories(first["categories"], source=_full(dataset_dir, first_rel))
    for rel, data in loaded[1:]:
        other = LabelMap.from_coco_categories(data["categories"], source=_full(dataset_dir, rel))
        if other != label_map:
            raise LabelMapError(f"{_full(dataset_dir, rel)}: its categories differ from those of {first_rel}")
    return label_map


BOX_ONLY_REASON = (
    "has a box but no segmentation: a rectangle drawn with a box tool (CVAT's rectangle, Label Studio's "
    "RectangleLabels, a Roboflow object-detection project) exports no mask, and Mask R-CNN learns from masks. "
    "Draw the object as a polygon or mask (CVAT and Label Studio can convert boxes with SAM), or export a "
    "segmentation project")


def convert_coco_item(item: WorkItem, label_map: LabelMap) -> Converted:
    """The image and its instances (none: a background image, listed without annotation, kept as a negative
    example); raises RejectError."""
    image = shapes.read_image(item.path, "the COCO annotations")
    shapes.check_size(item.source.size, image, "the annotations give")
    by_source_id = label_map.by_source_id
    found = []
    for ann in item.source.annotations:  # in the file's order
        cls = by_source_id.get(ann.get("category_id"))
        if cls is None:
            raise RejectError(f"annotation {ann.get('id')} has category_id {ann.get('category_id')!r}, "
                              f"which is not in 'categories'")
        if not ann.get("segmentation"):
            raise RejectError(f"annotation {ann.get('id')} {BOX_ONLY_REASON}")
        found.append(shapes.Shape(f"annotation {ann.get('id')}", cls, ann["segmentation"],
                                  bool(ann.get("iscrowd") or 0)))
    return Converted(image, shapes.to_instances(found, image.height, image.width))


FORMAT = register(DatasetFormat(
    name="coco", help="COCO (annotations/instances_*.json + images)", rank=1, looks_like=looks_like_coco,
    list_inputs=list_inputs, convert=lambda item, given: convert_coco_item(item, given.label_map),
    owns_json=owns_json))
