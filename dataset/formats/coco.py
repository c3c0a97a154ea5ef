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

from dataset import annotation_listing, coco_files, records, shapes
from dataset.annotation_listing import full as _full
from dataset.annotation_listing import join_rel as _join_rel
from dataset.formats.registry import DatasetFormat, json_format, register
from dataset.labelmap import LabelMap
from dataset.records import Converted, IngestError, Listing, RejectError, WorkItem


@dataclasses.dataclass(frozen=True)
class CocoEntry:
    """A COCO image entry's own fields (its WorkItem's source)."""

    size: tuple[int, int] | None  # (width, height) as the entry declares it
    annotations: tuple[dict, ...]


def looks_like_coco(dataset_dir: str) -> bool:
    """COCO files by their place, or a JSON file at the top of the folder that is no other format's (labelme
    and VIA keep JSON files there too)."""
    found = coco_files.annotation_files(dataset_dir)
    at_top = [rel for rel in found if "/" not in rel]
    return len(found) > len(at_top) or any(json_format(_full(dataset_dir, rel)) in (FORMAT, None) for rel in at_top[:1])


def owns_json(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("images"), list) and isinstance(data.get("annotations"), list)


def _annotations_by_image(json_path: str, data: dict, split: str, rejects: list) -> dict[object, list[dict]]:
    image_ids = {image.get("id") for image in data["images"]}
    by_image: dict[object, list[dict]] = {}
    for ann in data["annotations"]:
        if ann.get("image_id") not in image_ids:
            rejects.append(
                (
                    f"{json_path}#annotation={ann.get('id')}",
                    f"annotation {ann.get('id')} points to image_id {ann.get('image_id')!r}, which is not in 'images'",
                    split,
                )
            )
            continue
        by_image.setdefault(ann.get("image_id"), []).append(
            {k: ann.get(k) for k in ("id", "category_id", "segmentation", "iscrowd")}
        )
    return by_image


def _image_item(
    dataset_dir: str,
    rel_json: str,
    root: str,
    image: dict,
    split_of,
    seen_ids: set,
    referenced: dict[str, str],
    annotations: tuple,
) -> WorkItem:
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
    return WorkItem(
        rel_path=image_rel,
        path=_full(dataset_dir, image_rel),
        split=split_of(image_rel),
        format=FORMAT.name,
        source=CocoEntry(size, annotations),
        reject_reason=reason,
    )


def list_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    try:
        return list_coco_inputs(dataset_dir, eval_fraction)
    except coco_files.CocoLayoutError as e:
        raise IngestError(str(e)) from e


def list_coco_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    rel_jsons = coco_files.annotation_files(dataset_dir)
    if not rel_jsons:
        raise coco_files.CocoLayoutError(f"{dataset_dir}: no COCO annotation file (annotations/*.json or *.json)")
    rejects: list[tuple[str, str, str]] = []  # (full path, reason, split)
    loaded = coco_files.load_files(dataset_dir, rel_jsons, rejects)
    roles, files_split = coco_files.roles(dataset_dir, loaded)
    label_map = coco_files.label_map(dataset_dir, loaded)
    items: list[WorkItem] = []
    referenced: dict[str, str] = {}  # image rel path -> annotation file
    roots: set[str] = set()
    for rel_json, data in loaded:
        file_split = "eval" if roles[rel_json] == "eval" else "train"

        def split_of(image_rel: str, file_split: str = file_split) -> str:
            return file_split if files_split else records.hash_split(image_rel, eval_fraction)

        root = coco_files.image_root(dataset_dir, rel_json, data["images"])
        roots.add(root)
        by_image = _annotations_by_image(_full(dataset_dir, rel_json), data, file_split, rejects)
        seen_ids: set = set()
        items += [
            _image_item(
                dataset_dir,
                rel_json,
                root,
                image,
                split_of,
                seen_ids,
                referenced,
                tuple(by_image.get(image.get("id"), ())),
            )
            for image in data["images"]
        ]
    unlabelled, ignored = annotation_listing.unlisted_files(
        dataset_dir, roots, set(referenced) | set(rel_jsons), eval_fraction, rejects
    )
    items += [
        WorkItem(rel_path=path, path=path, split=split, format=FORMAT.name, reject_reason=reason)
        for path, reason, split in rejects
    ]
    items.sort(key=lambda item: item.rel_path)
    return Listing(
        label_map,
        tuple(items),
        tuple(sorted(unlabelled)),
        tuple(sorted(ignored)),
        "annotation_files" if files_split else "hash_split",
    )


BOX_ONLY_REASON = (
    "has a box but no segmentation: a rectangle drawn with a box tool (CVAT's rectangle, Label Studio's "
    "RectangleLabels, a Roboflow object-detection project) exports no mask, and Mask R-CNN learns from masks. "
    "Draw the object as a polygon or mask (CVAT and Label Studio can convert boxes with SAM), or export a "
    "segmentation project"
)


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
            raise RejectError(
                f"annotation {ann.get('id')} has category_id {ann.get('category_id')!r}, which is not in 'categories'"
            )
        if not ann.get("segmentation"):
            raise RejectError(f"annotation {ann.get('id')} {BOX_ONLY_REASON}")
        found.append(
            shapes.Shape(f"annotation {ann.get('id')}", cls, ann["segmentation"], bool(ann.get("iscrowd") or 0))
        )
    return Converted(image, shapes.to_instances(found, image.height, image.width))


FORMAT = register(
    DatasetFormat(
        name="coco",
        help="COCO (annotations/instances_*.json + images)",
        rank=1,
        looks_like=looks_like_coco,
        list_inputs=list_inputs,
        convert=lambda item, given: convert_coco_item(item, given.label_map),
        owns_json=owns_json,
    )
)
