"""Pascal VOC segmentation datasets, as the VOC devkit, torchvision's VOCSegmentation and CVAT's/datumaro's VOC
exports lay them out (the dataset folder, or VOCdevkit/VOC2012 inside it):

    JPEGImages/x.jpg              the photo
    SegmentationObject/x.png      palette PNG: the index is the instance id (1..N), 0 background, 255 void
    SegmentationClass/x.png       palette PNG: the index is the class, 0 background, 255 void
    ImageSets/Segmentation/train.txt, val.txt, trainval.txt, test.txt   one id (x) a line
    labelmap.txt                  optional (CVAT, datumaro): `name:r,g,b:parts:actions` a line, background first

An instance is the pixels of one id in SegmentationObject; its class is the majority class under it in
SegmentationClass, void (255, VOC's boundary band) counting as neither. Classes: labelmap.txt's, in its order
(a palette mask's colours then say the class, as datumaro reads them), else VOC's 20 by index. Splits: train.txt
-> train, val.txt -> eval, ids only in trainval.txt hash-split (and all of them with no val.txt); test.txt's ids
without masks are unlabelled (with them, eval). Photos of JPEGImages that no list names are ignored, named;
masks of no listed id are rejects.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import numpy as np

from dataset import records, shapes
from dataset.annotation_listing import full, is_image, join_rel
from dataset.formats.registry import SPLIT_FOLDERS, DatasetFormat, Photo, register, write_file
from dataset.labelmap import LabelMap
from dataset.records import Conversion, Converted, IngestError, Listing, RejectError, WorkItem
from dataset.voc_seg_files import (
    CLASSES,
    LABELMAP_FILE,
    LISTS,
    OBJECTS,
    PHOTOS,
    VOID,
    VocSegFiles,
    class_ids,
    palette_png,
    read_label_map,
    read_mask,
    voc_colormap,
)
from storage import fileio

NESTED_ROOTS = ("VOC2012", "VOCdevkit/VOC2012", "VOC2007", "VOCdevkit/VOC2007")


def _root(dataset_dir: str) -> str | None:
    for rel in ("", *NESTED_ROOTS):
        if fileio.isdir(full(dataset_dir, join_rel(rel, LISTS))) and any(
            fileio.isdir(full(dataset_dir, join_rel(rel, sub))) for sub in (OBJECTS, CLASSES)
        ):
            return rel
    return None


def looks_like_voc_segmentation(dataset_dir: str) -> bool:
    return _root(dataset_dir) is not None


def _read_list(dataset_dir: str, rel: str) -> list[str]:
    return [line.split()[0] for line in fileio.read_text(full(dataset_dir, rel)).splitlines() if line.strip()]


def _files(dataset_dir: str, rel: str) -> list[str]:
    folder = full(dataset_dir, rel)
    return sorted(name for name, is_dir in fileio.list_entries(folder) if not is_dir) if fileio.isdir(folder) else []


def list_voc_segmentation_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    root = _root(dataset_dir)
    if root is None:
        raise IngestError(f"{dataset_dir}: no Pascal VOC {LISTS}/ beside {OBJECTS}/ or {CLASSES}/")
    label_map, positions, colours = read_label_map(dataset_dir, root)
    lists = join_rel(root, LISTS)
    named = {n: _read_list(dataset_dir, join_rel(lists, n)) for n in _files(dataset_dir, lists) if n.endswith(".txt")}
    has_val = bool(named.get("val.txt"))  # else train.txt's ids are hash-split too
    split_of: dict[str, tuple[str, str]] = {}  # id -> (split, list); split "" hash-split, "test" unlabelled if bare
    rejects: list[tuple[str, str, str, str]] = []  # (rel, path, reason, split)
    for name in sorted(named, key=lambda n: ("train.txt", "val.txt").index(n) if n in ("train.txt", "val.txt") else 2):
        split = {"train.txt": "train" if has_val else "", "val.txt": "eval", "test.txt": "test"}.get(name, "")
        for ident in named[name]:
            if ident not in split_of:
                split_of[ident] = (split, name)
            elif {split_of[ident][0], split} == {"train", "eval"}:
                split_of[ident] = ("both", f"{split_of[ident][1]} and {name}")
    in_photos = _files(dataset_dir, join_rel(root, PHOTOS))
    photos = {posixpath.splitext(n)[0]: n for n in in_photos if is_image(n) and not n.startswith(".")}
    masks = {sub: set(_files(dataset_dir, join_rel(root, sub))) for sub in (OBJECTS, CLASSES)}
    items, unlabelled = [], []
    for ident, (split, listed) in sorted(split_of.items()):
        photo = join_rel(root, f"{PHOTOS}/{photos.get(ident, ident + '.jpg')}")
        missing = [sub for sub in (OBJECTS, CLASSES) if f"{ident}.png" not in masks[sub]]
        where = f"{LISTS}/{listed}"
        if split == "test" and len(missing) == 2 and ident in photos:
            unlabelled.append(full(dataset_dir, photo))
            continue
        split = "eval" if split == "test" else split
        split = split if split in ("train", "eval") else records.hash_split(photo, eval_fraction)
        reason = (
            f"listed in both {listed} of {LISTS}"
            if split_of[ident][0] == "both"
            else f"no photo {PHOTOS}/{ident}.jpg for the id {ident} listed in {where}"
            if ident not in photos
            else f"no {' and no '.join(f'{s}/{ident}.png' for s in missing)} for the id {ident} listed in {where} "
            f"(Mask R-CNN needs its instances and their classes)"
            if missing
            else ""
        )
        source = VocSegFiles(
            *(full(dataset_dir, join_rel(root, f"{s}/{ident}.png")) for s in (OBJECTS, CLASSES)),
            where,
            positions,
            colours,
        )
        items.append(WorkItem(photo, full(dataset_dir, photo), split, FORMAT.name, None if reason else source, reason))
    for sub in (OBJECTS, CLASSES):
        for name in sorted(masks[sub]):
            rel = join_rel(root, f"{sub}/{name}")
            reason = (
                "not a PNG mask"
                if not name.lower().endswith(".png")
                else f"mask of no id listed in {LISTS}"
                if posixpath.splitext(name)[0] not in split_of
                else ""
            )
            if reason and not name.startswith("."):
                rejects.append((rel, full(dataset_dir, rel), reason, records.hash_split(rel, eval_fraction)))
    for name in in_photos:
        rel = join_rel(root, f"{PHOTOS}/{name}")
        if not is_image(name) and not name.startswith("."):
            rejects.append(
                (
                    rel,
                    full(dataset_dir, rel),
                    "not an image file (non-image file in the image folder)",
                    records.hash_split(rel, eval_fraction),
                )
            )
    items += [WorkItem(rel, path, split, FORMAT.name, reject_reason=reason) for rel, path, reason, split in rejects]
    ignored = [
        full(dataset_dir, join_rel(root, f"{PHOTOS}/{n}"))
        for n in in_photos
        if n.startswith(".") or (is_image(n) and posixpath.splitext(n)[0] not in split_of)
    ]
    return Listing(
        label_map,
        tuple(sorted(items, key=lambda i: i.rel_path)),
        tuple(sorted(unlabelled)),
        tuple(sorted(ignored)),
        "annotation_files" if has_val else "hash_split",
    )


def convert_voc_segmentation_item(item: WorkItem, label_map: LabelMap, min_area: int) -> Converted:
    source = item.source
    image = shapes.read_image(item.path, source.listed_in)
    objects, _, object_name = read_mask(source.object_path, image)
    class_array, palette, class_name = read_mask(source.class_path, image)
    classes = class_ids(class_array, palette, source, class_name, label_map)
    names = {c.id: c.name for c in label_map.classes}
    instances, reassigned = [], 0
    for value in (int(v) for v in np.unique(objects) if v not in (0, VOID)):
        inside = objects == value
        counts = np.bincount(np.clip(classes[inside], 0, None), minlength=2)[1:]
        if not counts.any():
            raise RejectError(
                f"instance {value} of {object_name} lies on no class in {class_name} (only "
                f"background or void {VOID} there)"
            )
        order = np.argsort(counts)[::-1] + 1
        if len(order) > 1 and counts[order[1] - 1] >= min_area:
            raise RejectError(
                f"instance {value} of {object_name} spans two classes in {class_name}: "
                f"{counts[order[0] - 1]} px {names[order[0]]}, {counts[order[1] - 1]} px "
                f"{names[order[1]]}; give each object its own instance id"
            )
        reassigned += int(counts.sum() - counts[order[0] - 1])
        instances.append(records.Instance(int(order[0]), names[int(order[0])], inside.astype(np.uint8)))
    outside = (classes > 0) & ((objects == 0) | (objects == VOID))
    if outside.sum() >= min_area:
        found = np.bincount(classes[outside])
        cls = int(found.argmax())
        raise RejectError(
            f"{int(outside.sum())} px of {class_name} ({found[cls]} of them {names[cls]}) lie in no "
            f"instance of {object_name}: an object with no instance id"
        )
    return Converted(image, instances, pixels_reassigned=reassigned + int(outside.sum()))


def write_voc_segmentation(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    """VOC's folders as datumaro exports them: palette PNGs in VOC's colours, labelmap.txt, the split lists; a
    background photo has masks all 0."""
    palette = voc_colormap()
    index = {c.id: i for i, c in enumerate(label_map.classes, start=1)}  # 0 is the background
    ids: dict[str, list[str]] = {"train": [], "eval": []}
    for photo in photos:
        stem, ext = posixpath.splitext(photo.name)
        if stem in ids["train"] + ids["eval"]:  # VOC's ids are unique; the classic folders' names per folder
            stem = f"{SPLIT_FOLDERS[photo.split]}_{stem}"
        objects, classes = (np.zeros((photo.height, photo.width), np.uint8) for _ in range(2))
        for number, inst in enumerate(photo.instances, start=1):
            objects[inst.mask > 0], classes[inst.mask > 0] = number, index[inst.class_id]
        write_file(out / PHOTOS / f"{stem}{ext}", photo.data)
        write_file(out / OBJECTS / f"{stem}.png", palette_png(objects, palette))
        write_file(out / CLASSES / f"{stem}.png", palette_png(classes, palette))
        ids[photo.split].append(stem)
    for path in unlabelled:  # VOC's test list: photos without masks
        write_file(out / PHOTOS / Path(path).name, Path(path).read_bytes())
    lists = {
        "train": ids["train"],
        "val": ids["eval"],
        "trainval": ids["train"] + ids["eval"],
        "test": [Path(p).stem for p in unlabelled],
    }
    for name, listed in lists.items():
        write_file(out / LISTS / f"{name}.txt", "".join(f"{i}\n" for i in listed))
    lines = [f"{n}:{','.join(map(str, palette[i]))}::\n" for i, n in enumerate(("background", *label_map.names))]
    write_file(out / LABELMAP_FILE, "# label:color_rgb:parts:actions\n" + "".join(lines))


def _convert(item: WorkItem, given: Conversion) -> Converted:
    return convert_voc_segmentation_item(item, given.label_map, given.min_instance_area)


FORMAT = register(
    DatasetFormat(
        name="voc-seg",
        help="Pascal VOC segmentation (ImageSets/Segmentation/ + SegmentationObject/ + SegmentationClass/)",
        rank=5,
        looks_like=looks_like_voc_segmentation,
        list_inputs=list_voc_segmentation_inputs,
        convert=_convert,
        write_sample=write_voc_segmentation,
    )
)
