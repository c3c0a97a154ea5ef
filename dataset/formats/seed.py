"""The classic custom Mask R-CNN folder ("seed" layout).

    label.pbtxt | label_map.pbtxt | label_map.yaml | ...
    train_images/<stem>.jpg|.jpeg|.png     train_masks/<stem>.png     [train_bboxes/<stem>.xml]
                                           (or <stem>.jpg: a lossy mask, read through dataset/mask_values.py)
    [test_images/<stem>.jpg ...            test_masks/<stem>.png      test_bboxes/<stem>.xml]

Listing (`list_seed_inputs`) only reads folder entries; the files are read by
`dataset.seed_convert.convert_seed_item` inside the Beam workers (the sample is generated in this layout:
no sample writer). Test images
without a mask are unlabelled (kept for prediction), train images without a
mask are rejects; every other file is paired or a reject with its reason.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable

from dataset import records
from dataset.formats.registry import DatasetFormat, register
from dataset.images import IMAGE_EXTENSIONS, OTHER_IMAGE_EXTENSIONS
from dataset.labelmap import LabelMap
from dataset.records import Conversion, IngestError, Listing, WorkItem
from dataset.seed_convert import SeedFiles, convert_seed_item
from storage import fileio

FOLDERS = {
    "train": ("train_images", "train_masks", "train_bboxes"),
    "test": ("test_images", "test_masks", "test_bboxes"),
}


@dataclasses.dataclass(frozen=True)
class SeedListing:
    items: tuple[WorkItem, ...]
    unlabelled: tuple[str, ...]  # full paths of test images without mask
    ignored: tuple[str, ...]  # hidden files (.DS_Store, ...)
    eval_source: str  # "test_folder" | "hash_split"


def looks_like_seed(dataset_dir: str) -> bool:
    return fileio.isdir(fileio.join(dataset_dir, "train_images")) or fileio.isdir(
        fileio.join(dataset_dir, "test_images")
    )


def _entries(dataset_dir: str, folder: str) -> list[tuple[str, bool]]:
    path = fileio.join(dataset_dir, folder)
    if not fileio.isdir(path):
        return []
    return fileio.list_entries(path)


def _stem_ext(name: str) -> tuple[str, str]:
    stem, ext = posixpath.splitext(name)
    return stem, ext.lower()


@dataclasses.dataclass
class _Found:
    """What the listing found so far: paths relative to the dataset folder."""

    rejects: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (rel, reason, kind)
    ignored: list[str] = dataclasses.field(default_factory=list)
    unlabelled: list[str] = dataclasses.field(default_factory=list)
    pending: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)  # (kind, image, mask, voc)


MASK_EXTENSIONS = (".png", ".jpg", ".jpeg")
_ACCEPTED = {"image": IMAGE_EXTENSIONS, "mask": MASK_EXTENSIONS, "VOC": (".xml",)}
_EXPECTED = {"image": "a .jpg/.jpeg/.png image", "mask": "a .png mask", "VOC": "a labelImg .xml file"}


def _files_by_stem(dataset_dir: str, folder: str, what: str, kind: str, found: _Found) -> dict[str, list[str]]:
    """The usable files of one folder by stem; everything else becomes a reject or is ignored."""
    table: dict[str, list[str]] = {}
    for name, is_dir in _entries(dataset_dir, folder):
        rel = f"{folder}/{name}"
        stem, ext = _stem_ext(name)
        if name.startswith("."):
            found.ignored.append(rel)
        elif is_dir:
            found.rejects.append((rel, f"a folder inside {folder}/ (nested folders are not read)", kind))
        elif ext in _ACCEPTED[what]:
            table.setdefault(stem, []).append(rel)
        elif what == "image" and ext in OTHER_IMAGE_EXTENSIONS:
            found.rejects.append((rel, f"unsupported image type {ext} (use JPEG or PNG)", kind))
        elif what == "mask" and ext in OTHER_IMAGE_EXTENSIONS:
            found.rejects.append((rel, f"the mask is a {ext} file; masks are .png files (lossless)", kind))
        else:
            found.rejects.append((rel, f"not {_EXPECTED[what]} (non-image file in {folder}/)", kind))
    return table


def _drop_duplicates(table: dict[str, list[str]], what: str, kind: str, found: _Found) -> None:
    for stem, rels in list(table.items()):
        if len(rels) > 1:
            found.rejects += [(rel, f"several {what} for '{stem}' ({', '.join(rels)})", kind) for rel in rels]
            del table[stem]


def _pair(kind: str, folders: tuple[str, str, str], images: dict, masks: dict, boxes: dict, found: _Found) -> None:
    """Each image with its mask and VOC file; what has no partner is unlabelled (test images) or a reject."""
    images_dir, masks_dir, _ = folders
    for stem, rels in images.items():
        mask, voc = masks.pop(stem, [None])[0], boxes.pop(stem, [None])[0]
        if len(rels) > 1:
            found.rejects += [
                (
                    rel,
                    f"several images named '{stem}.*' ({', '.join(rels)}): cannot tell which one the mask belongs to",
                    kind,
                )
                for rel in rels
            ]
            if voc:
                found.rejects.append((voc, f"belongs to the ambiguous images {', '.join(rels)}", kind))
        elif mask is None and kind == "test":
            found.unlabelled.append(rels[0])
            if voc:
                found.rejects.append((voc, f"VOC file for {rels[0]}, which has no mask in {masks_dir}/", kind))
        elif mask is None:
            found.rejects.append((rels[0], f"no mask {masks_dir}/{stem}.png for this image", kind))
            if voc:
                found.rejects.append((voc, f"VOC file for {rels[0]}, which has no mask", kind))
        else:
            found.pending.append((kind, rels[0], mask, voc or ""))
    for table, what in ((masks, "mask"), (boxes, "VOC file")):
        found.rejects += [
            (rels[0], f"{what} without image (no {images_dir}/{stem}.jpg|.jpeg|.png)", kind)
            for stem, rels in table.items()
        ]


def list_seed_inputs(dataset_dir: str, eval_fraction: float) -> SeedListing:
    dataset_dir = str(dataset_dir)
    if not fileio.isdir(fileio.join(dataset_dir, "train_images")):
        raise FileNotFoundError(f"{dataset_dir}: no train_images/ folder (seed layout)")
    found = _Found()
    for kind, folders in FOLDERS.items():
        images, masks, boxes = (
            _files_by_stem(dataset_dir, folder, what, kind, found)
            for folder, what in zip(folders, ("image", "mask", "VOC"), strict=True)
        )
        _drop_duplicates(masks, "masks", kind, found)
        _drop_duplicates(boxes, "VOC files", kind, found)
        _pair(kind, folders, images, masks, boxes, found)

    test_labelled = any(kind == "test" for kind, *_ in found.pending)

    def full(rel: str) -> str:
        return fileio.join(dataset_dir, *rel.split("/"))

    def split_of(kind: str, rel: str) -> str:
        if kind == "test":
            return "eval"
        return "train" if test_labelled else records.hash_split(rel, eval_fraction)

    items = [
        WorkItem(
            rel_path=rel,
            path=full(rel),
            split=split_of(kind, rel),
            format=FORMAT.name,
            source=SeedFiles(full(mask), full(voc) if voc else ""),
        )
        for kind, rel, mask, voc in found.pending
    ]
    items += [
        WorkItem(rel_path=rel, path=full(rel), split=split_of(kind, rel), format=FORMAT.name, reject_reason=reason)
        for rel, reason, kind in found.rejects
    ]
    items.sort(key=lambda item: item.rel_path)
    return SeedListing(
        tuple(items),
        tuple(sorted(map(full, found.unlabelled))),
        tuple(sorted(map(full, found.ignored))),
        "test_folder" if test_labelled else "hash_split",
    )


def list_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    label_map = LabelMap.load(LabelMap.find(dataset_dir))
    try:
        found = list_seed_inputs(dataset_dir, eval_fraction)
    except FileNotFoundError as e:
        raise IngestError(str(e)) from e
    return Listing(label_map, found.items, found.unlabelled, found.ignored, found.eval_source)


def convert(item: WorkItem, given: Conversion):
    return convert_seed_item(item, given.label_map, given.min_instance_area, given.dataset_dir, given.own_colours)


def mask_files(dataset_dir: str) -> Iterable[str]:
    """Full paths of the masks (PNG, or JPEG) of a seed folder (train and test)."""
    for kind in FOLDERS.values():
        for name, is_dir in _entries(dataset_dir, kind[1]):
            if not is_dir and not name.startswith(".") and name.lower().endswith(MASK_EXTENSIONS):
                yield fileio.join(dataset_dir, kind[1], name)


FORMAT = register(
    DatasetFormat(
        name="seed",
        help="a seed layout (label.pbtxt + train_images/ + train_masks/)",
        rank=0,
        looks_like=looks_like_seed,
        list_inputs=list_inputs,
        convert=convert,
    )
)
