"""The classic custom Mask R-CNN folder ("seed" layout).

    label.pbtxt | label_map.pbtxt | label_map.yaml | ...
    train_images/<stem>.jpg|.jpeg|.png     train_masks/<stem>.png     [train_bboxes/<stem>.xml]
    [test_images/<stem>.jpg ...            test_masks/<stem>.png      test_bboxes/<stem>.xml]

Listing (`list_seed_inputs`) only reads folder entries; the files are read by
`convert_seed_item` inside the Beam workers.

Instances: with a VOC file, each box is one instance (the class pixels inside
the box); without one, each 8-connected component of a class with at least
`min_instance_area` pixels is one instance. Test images without a mask are
unlabelled (kept for prediction), train images without a mask are rejects.
"""
from __future__ import annotations

import dataclasses
import posixpath
from typing import Iterable

import numpy as np

from dataset import colours, fileio, records
from dataset.labelmap import LabelMap
from dataset.records import Instance, RejectError, WorkItem

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
OTHER_IMAGE_EXTENSIONS = (".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".heif")
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
        fileio.join(dataset_dir, "test_images"))


def _entries(dataset_dir: str, folder: str) -> list[tuple[str, bool]]:
    path = fileio.join(dataset_dir, folder)
    if not fileio.isdir(path):
        return []
    return fileio.list_entries(path)


def _stem_ext(name: str) -> tuple[str, str]:
    stem, ext = posixpath.splitext(name)
    return stem, ext.lower()


def list_seed_inputs(dataset_dir: str, eval_fraction: float) -> SeedListing:
    dataset_dir = str(dataset_dir)
    if not fileio.isdir(fileio.join(dataset_dir, "train_images")):
        raise FileNotFoundError(f"{dataset_dir}: no train_images/ folder (seed layout)")

    def full(rel: str) -> str:
        return fileio.join(dataset_dir, *rel.split("/"))

    rejects: list[tuple[str, str, str]] = []  # (rel, reason, folder kind)
    ignored: list[str] = []
    unlabelled: list[str] = []
    pending: list[tuple[str, str, str, str]] = []  # (kind, image rel, mask rel, voc rel)

    for kind, (images_dir, masks_dir, boxes_dir) in FOLDERS.items():
        images: dict[str, list[str]] = {}
        masks: dict[str, list[str]] = {}
        boxes: dict[str, list[str]] = {}
        for folder, accepted, table, what in (
            (images_dir, IMAGE_EXTENSIONS, images, "image"),
            (masks_dir, (".png",), masks, "mask"),
            (boxes_dir, (".xml",), boxes, "VOC"),
        ):
            for name, is_dir in _entries(dataset_dir, folder):
                rel = f"{folder}/{name}"
                stem, ext = _stem_ext(name)
                if name.startswith("."):
                    ignored.append(full(rel))
                elif is_dir:
                    rejects.append((rel, f"a folder inside {folder}/ (nested folders are not read)", kind))
                elif ext in accepted:
                    table.setdefault(stem, []).append(rel)
                elif what == "image" and ext in OTHER_IMAGE_EXTENSIONS:
                    rejects.append((rel, f"unsupported image type {ext} (use JPEG or PNG)", kind))
                elif what == "mask" and ext in IMAGE_EXTENSIONS + OTHER_IMAGE_EXTENSIONS:
                    rejects.append((rel, f"the mask is a {ext} file; masks must be lossless .png files", kind))
                else:
                    expected = {"image": "a .jpg/.jpeg/.png image", "mask": "a .png mask",
                                "VOC": "a labelImg .xml file"}[what]
                    rejects.append((rel, f"not {expected} (non-image file in {folder}/)", kind))

        for table, what in ((masks, "masks"), (boxes, "VOC files")):
            for stem, rels in list(table.items()):
                if len(rels) > 1:
                    for rel in rels:
                        rejects.append((rel, f"several {what} for '{stem}' ({', '.join(rels)})", kind))
                    del table[stem]
        for stem, rels in images.items():
            mask = masks.pop(stem, [None])[0]
            voc = boxes.pop(stem, [None])[0]
            if len(rels) > 1:
                for rel in rels:
                    rejects.append((rel, f"several images named '{stem}.*' ({', '.join(rels)}): "
                                         f"cannot tell which one the mask belongs to", kind))
                if voc:
                    rejects.append((voc, f"belongs to the ambiguous images {', '.join(rels)}", kind))
                continue
            rel = rels[0]
            if mask is None:
                if kind == "test":
                    unlabelled.append(full(rel))
                    if voc:
                        rejects.append((voc, f"VOC file for {rel}, which has no mask in {masks_dir}/", kind))
                else:
                    rejects.append((rel, f"no mask {masks_dir}/{stem}.png for this image", kind))
                    if voc:
                        rejects.append((voc, f"VOC file for {rel}, which has no mask", kind))
                continue
            pending.append((kind, rel, mask, voc or ""))
        for stem, rels in masks.items():
            rejects.append((rels[0], f"mask without image (no {images_dir}/{stem}.jpg|.jpeg|.png)", kind))
        for stem, rels in boxes.items():
            rejects.append((rels[0], f"VOC file without image (no {images_dir}/{stem}.jpg|.jpeg|.png)", kind))

    test_labelled = any(kind == "test" for kind, *_ in pending)
    eval_source = "test_folder" if test_labelled else "hash_split"

    def split_of(kind: str, rel: str) -> str:
        if kind == "test":
            return "eval"
        return "train" if test_labelled else records.hash_split(rel, eval_fraction)

    items = [
        WorkItem(rel_path=rel, path=full(rel), split=split_of(kind, rel), format="seed",
                 mask_path=full(mask), voc_path=full(voc) if voc else "")
        for kind, rel, mask, voc in pending
    ]
    items += [
        WorkItem(rel_path=rel, path=full(rel), split=split_of(kind, rel), format="seed", reject_reason=reason)
        for rel, reason, kind in rejects
    ]
    items.sort(key=lambda item: item.rel_path)
    return SeedListing(tuple(items), tuple(sorted(unlabelled)), tuple(sorted(ignored)), eval_source)


# --- conversion (runs in the Beam workers) -----------------------------------
@dataclasses.dataclass(frozen=True)
class VocObject:
    name: str
    box: tuple[int, int, int, int]  # xmin, ymin, xmax, ymax in pixels, inclusive


def parse_voc(data: bytes) -> tuple[tuple[int, int] | None, list[VocObject]]:
    """(declared (width, height) or None, objects) of a labelImg Pascal VOC file."""
    import xml.etree.ElementTree as ET

    from dataset.images import EMPTY_FILE

    if not data:
        raise RejectError(f"VOC file: {EMPTY_FILE}")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise RejectError(f"malformed VOC XML: {e}") from e
    if root.tag != "annotation":
        raise RejectError(f"malformed VOC XML: the root element is <{root.tag}>, not <annotation>")
    size = None
    w, h = root.findtext("size/width"), root.findtext("size/height")
    if w and h:
        try:
            size = (int(float(w)), int(float(h)))
        except ValueError:
            raise RejectError(f"malformed VOC XML: size {w!r}x{h!r} is not numeric") from None
        if size[0] <= 0 or size[1] <= 0:
            size = None
    objects = []
    for index, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise RejectError(f"malformed VOC XML: object #{index} has no <name>")
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = obj.findtext(f"bndbox/{tag}")
            if text is None:
                raise RejectError(f"malformed VOC XML: object #{index} ({name}) has no bndbox/{tag}")
            try:
                coords.append(int(round(float(text))))
            except ValueError:
                raise RejectError(f"malformed VOC XML: object #{index} ({name}) {tag}={text!r}") from None
        objects.append(VocObject(name, tuple(coords)))
    return size, objects


def _describe_values(counts: dict[int, int], limit: int = 6) -> str:
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{v} ({n} px)" for v, n in ordered[:limit])
    return text + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _read_mask(item: WorkItem):
    from dataset import images

    try:
        return images.decode_mask(fileio.read_bytes(item.mask_path))
    except images.ImageDecodeError as e:
        raise RejectError(f"mask {_mask_name(item)}: {e}") from e
    except OSError as e:
        raise RejectError(f"cannot read the mask {_mask_name(item)}: {e}") from e


def _mask_name(item: WorkItem) -> str:
    return posixpath.basename(item.mask_path.replace("\\", "/"))


def mask_colours(item: WorkItem) -> dict[int, dict[colours.Colour, int]]:
    """The colours behind each grey value of the item's colour mask ({} for grayscale or unreadable masks:
    the conversion reports those)."""
    if item.format != "seed" or not item.mask_path or item.reject_reason:
        return {}
    try:
        mask = _read_mask(item)
    except RejectError:
        return {}
    return {} if mask.colour is None else colours.colours_by_value(mask.colour, mask.gray)


def convert_seed_item(item: WorkItem, label_map: LabelMap, min_instance_area: int, dataset_dir: str = "",
                      own_colours: dict[int, colours.Colour] | None = None):
    """Returns (EncodedImage, instances, number of small components dropped); raises RejectError.

    own_colours: for grey values that several mask colours make, the class's own colour (dataset/colours.py).
    """
    from dataset import images

    try:
        image = images.prepare_image(fileio.read_bytes(item.path))
    except images.ImageDecodeError as e:
        raise RejectError(str(e)) from e
    except OSError as e:
        raise RejectError(f"cannot read the image: {e}") from e
    mask_name = _mask_name(item)
    mask = _read_mask(item)
    gray = mask.gray
    height, width = gray.shape
    if (width, height) != (image.width, image.height):
        hint = ""
        if image.reencoded and (width, height) == image.stored_size:
            hint = " (the mask matches the image before its EXIF rotation; draw masks on the upright photo)"
        raise RejectError(f"mask {mask_name} is {width}x{height} but the image is {image.width}x{image.height}{hint}")

    counts = images.value_counts(gray)
    counts.pop(0, None)
    by_pixel = label_map.by_pixel
    unknown = {v: n for v, n in counts.items() if v not in by_pixel}
    if unknown:
        known = ", ".join(f"{c.pixel_value} ({c.name})" for c in label_map.classes)
        where = f" --dataset {dataset_dir}" if dataset_dir else " --dataset DIR"
        raise RejectError(
            f"mask {mask_name} has pixel values that are not in the label map: {_describe_values(unknown)}; "
            f"the label map has {known}. `maskrcnn-tfx labelmap{where}` lists the values of all masks"
        )
    if not counts:
        raise RejectError(f"mask {mask_name} has no object (every pixel is 0, the background)")
    if own_colours and mask.colour is not None:
        _check_colours(mask, own_colours, label_map, mask_name, dataset_dir)

    if item.voc_path:
        try:
            voc_data = fileio.read_bytes(item.voc_path)
        except OSError as e:
            raise RejectError(f"cannot read the VOC file: {e}") from e
        instances, dropped = _instances_from_voc(voc_data, gray, label_map, min_instance_area, image,
                                                 posixpath.basename(item.voc_path.replace("\\", "/")))
    else:
        instances, dropped = _instances_from_components(gray, counts, label_map, min_instance_area)
    if not instances:
        raise RejectError(
            f"mask {mask_name} has no object of at least {min_instance_area} pixels (min_instance_area)")
    return image, instances, dropped


def _check_colours(mask, own: dict[int, colours.Colour], label_map: LabelMap, mask_name: str, dataset_dir: str):
    foreign = colours.foreign_colours(colours.colours_by_value(mask.colour, mask.gray), own)
    if foreign:
        value, colour, pixels = foreign[0]
        name = label_map.by_pixel[value].name
        where = f" --dataset {dataset_dir}" if dataset_dir else " --dataset DIR"
        raise RejectError(
            f"mask {mask_name} paints {pixels} px in colour RGB{colour}, whose grey value {value} is the value of "
            f"class '{name}', whose colour elsewhere is RGB{own[value]}: a mask pixel's class is its grey value, "
            f"so both colours would be '{name}'. Repaint them in their class's colour, or state the class's "
            f"colour in the label map; `maskrcnn-tfx labelmap{where}` lists the colours behind each value")


def _components(binary: np.ndarray):
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return n, labels, stats


def _instances_from_components(gray, counts, label_map: LabelMap, min_area: int) -> tuple[list[Instance], int]:
    import cv2

    instances, dropped = [], 0
    for cls in label_map.classes:  # ordered by class id
        if cls.pixel_value not in counts:
            continue
        binary = (gray == cls.pixel_value).astype(np.uint8)
        n, labels, stats = _components(binary)
        for index in range(1, n):
            if stats[index, cv2.CC_STAT_AREA] < min_area:
                dropped += 1
                continue
            instances.append(Instance(cls.id, cls.name, (labels == index).astype(np.uint8)))
    return instances, dropped


def _instances_from_voc(data: bytes, gray, label_map: LabelMap, min_area: int, image, voc_name: str):
    size, objects = parse_voc(data)
    height, width = gray.shape
    if size is not None and size != (width, height):
        raise RejectError(f"{voc_name} declares size {size[0]}x{size[1]} but the image is {width}x{height}")
    if not objects:
        raise RejectError(f"{voc_name} has no <object>")
    known = ", ".join(label_map.names)
    instances: list[Instance] = []
    boxes_by_class: dict[int, list[tuple[int, int, int, int]]] = {}
    for index, obj in enumerate(objects, start=1):
        cls = label_map.lookup_name(obj.name)
        if cls is None:
            raise RejectError(f"{voc_name}: object #{index} is named {obj.name!r}, which is not in the "
                              f"label map (classes: {known})")
        x0, y0, x1, y1 = obj.box
        if x1 < x0 or y1 < y0:
            raise RejectError(f"{voc_name}: object #{index} ({obj.name}) has an empty box {list(obj.box)}")
        if x0 >= width or y0 >= height or x1 < 0 or y1 < 0:
            raise RejectError(f"{voc_name}: object #{index} ({obj.name}) box {list(obj.box)} is outside "
                              f"the {width}x{height} image")
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width - 1, x1), min(height - 1, y1)
        mask = np.zeros_like(gray, dtype=np.uint8)
        mask[y0:y1 + 1, x0:x1 + 1] = gray[y0:y1 + 1, x0:x1 + 1] == cls.pixel_value
        if not mask.any():
            raise RejectError(f"{voc_name}: object #{index} ({obj.name}) box {list(obj.box)} holds no pixel of "
                              f"its class (value {cls.pixel_value}) in the mask")
        instances.append(Instance(cls.id, cls.name, mask))
        boxes_by_class.setdefault(cls.id, []).append((x0, y0, x1, y1))

    # Every object of the mask needs a box, otherwise it would be silently lost.
    dropped = 0
    for cls in label_map.classes:
        binary = (gray == cls.pixel_value).astype(np.uint8)
        if not binary.any():
            continue
        n, labels, stats = _components(binary)
        for index in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[index, :5])
            if area < min_area:
                dropped += 1
                continue
            if not any(x <= bx1 and bx0 <= x + w - 1 and y <= by1 and by0 <= y + h - 1
                       for bx0, by0, bx1, by1 in boxes_by_class.get(cls.id, [])):
                raise RejectError(
                    f"{voc_name}: the mask has a '{cls.name}' object at x={x} y={y} ({w}x{h}, {area} px) "
                    f"outside every '{cls.name}' box; add a box for it or remove it from the mask")
    return instances, dropped


def mask_files(dataset_dir: str) -> Iterable[str]:
    """Full paths of the mask PNGs of a seed folder (train and test)."""
    for kind in FOLDERS.values():
        for name, is_dir in _entries(dataset_dir, kind[1]):
            if not is_dir and not name.startswith(".") and name.lower().endswith(".png"):
                yield fileio.join(dataset_dir, kind[1], name)
