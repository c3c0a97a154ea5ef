"""One input of the classic folder ("seed" layout) -> its image and instances; runs in the Beam workers.

Mask values are first snapped to the label map's (soft edges, lossy files:
dataset/mask_values.py). Instances: with a VOC file, each box is one instance
(the class pixels inside the box); without one, each 8-connected component of a
class with at least `min_instance_area` pixels is one instance. A mask all
background is a negative example (no instance). A mask colour that merely shares
a class's grey value is rejected (dataset/colours.py).
"""

from __future__ import annotations

import dataclasses
import posixpath

import numpy as np

from dataset import colours, mask_values
from dataset.labelmap import LabelMap
from dataset.records import Converted, Instance, RejectError, WorkItem
from dataset.voc import parse_voc
from storage import fileio


@dataclasses.dataclass(frozen=True)
class SeedFiles:
    """A seed-layout image's own files (its WorkItem's source)."""

    mask_path: str
    voc_path: str = ""  # labelImg boxes, when the dataset has them


def _describe_values(counts: dict[int, int], limit: int = 6) -> str:
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{v} ({n} px)" for v, n in ordered[:limit])
    return text + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _read_mask(item: WorkItem):
    from dataset import images

    try:
        return images.decode_mask(fileio.read_bytes(item.source.mask_path))
    except images.ImageDecodeError as e:
        raise RejectError(f"mask {_mask_name(item)}: {e}") from e
    except OSError as e:
        raise RejectError(f"cannot read the mask {_mask_name(item)}: {e}") from e


def _mask_name(item: WorkItem) -> str:
    return posixpath.basename(item.source.mask_path.replace("\\", "/"))


def mask_colours(item: WorkItem) -> dict[int, dict[colours.Colour, int]]:
    """The colours behind each grey value of the item's colour mask ({} for grayscale, lossy or unreadable
    masks: a JPEG's colours are approximate, and the conversion reports unreadable ones)."""
    if not isinstance(item.source, SeedFiles) or item.reject_reason:
        return {}
    try:
        mask = _read_mask(item)
    except RejectError:
        return {}
    return {} if mask.colour is None or mask.lossy else colours.colours_by_value(mask.colour, mask.gray)


def convert_seed_item(
    item: WorkItem,
    label_map: LabelMap,
    min_instance_area: int,
    dataset_dir: str = "",
    own_colours: dict[int, colours.Colour] | None = None,
) -> Converted:
    """The item's image and instances (none: a negative example, the mask all background); raises RejectError.

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
    height, width = mask.gray.shape
    if (width, height) != (image.width, image.height):
        hint = ""
        if image.reencoded and (width, height) == image.stored_size:
            hint = " (the mask matches the image before its EXIF rotation; draw masks on the upright photo)"
        raise RejectError(f"mask {mask_name} is {width}x{height} but the image is {image.width}x{image.height}{hint}")

    snapped = mask_values.snap(mask.gray, label_map.by_pixel, mask.lossy)
    if snapped.unknown:
        known = ", ".join(f"{c.pixel_value} ({c.name})" for c in label_map.classes)
        where = f" --dataset {dataset_dir}" if dataset_dir else " --dataset DIR"
        lossy = (
            " The mask is JPEG data: compression moved its values too far to read them back; save masks as PNG."
            if mask.lossy
            else ""
        )
        raise RejectError(
            f"mask {mask_name} has pixel values that are not in the label map: {_describe_values(snapped.unknown)}, "
            f"painted as regions or dots of their own (not soft edges, which take the nearest class); the label map "
            f"has {known}. `maskrcnn-tfx labelmap{where}` lists the values of all masks.{lossy}"
        )
    gray = snapped.gray
    counts = images.value_counts(gray)
    counts.pop(0, None)
    if own_colours and mask.colour is not None and not mask.lossy:
        _check_colours(mask, own_colours, label_map, mask_name, dataset_dir)

    voc_path = item.source.voc_path
    voc_name = posixpath.basename(voc_path.replace("\\", "/")) if voc_path else ""
    voc_data = b""
    if voc_path:
        try:
            voc_data = fileio.read_bytes(voc_path)
        except OSError as e:
            raise RejectError(f"cannot read the VOC file: {e}") from e
    lossy_mask = item.source.mask_path if mask.lossy else ""
    if not counts and not (voc_path and parse_voc(voc_data)[1]):
        return Converted(
            image, [], pixels_reassigned=snapped.reassigned, lossy_mask=lossy_mask, alpha_pixels=mask.alpha_decided
        )
    boxed, boxes_by_class = _voc_boxes(voc_data, gray, label_map, voc_name) if voc_path else ([], None)
    reassigned = snapped.reassigned
    if mask.lossy:
        gray, pieces = _without_compression_pieces(gray, label_map, min_instance_area, boxes_by_class)
        reassigned += pieces
    if voc_path:
        instances, dropped = _instances_from_voc(boxed, boxes_by_class, gray, label_map, min_instance_area, voc_name)
    else:
        instances, dropped = _instances_from_components(gray, counts, label_map, min_instance_area)
    if not instances:
        raise RejectError(f"mask {mask_name} has no object of at least {min_instance_area} pixels (min_instance_area)")
    return Converted(image, instances, dropped, reassigned, lossy_mask, mask.alpha_decided)


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
            f"colour in the label map; `maskrcnn-tfx labelmap{where}` lists the colours behind each value"
        )


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


def _voc_boxes(data: bytes, gray, label_map: LabelMap, voc_name: str):
    """The VOC file's objects, each with its class and its box inside the image, and the boxes by class."""
    size, objects = parse_voc(data)
    height, width = gray.shape
    if size is not None and size != (width, height):
        raise RejectError(f"{voc_name} declares size {size[0]}x{size[1]} but the image is {width}x{height}")
    if not objects:
        raise RejectError(f"{voc_name} has no <object>")
    known = ", ".join(label_map.names)
    boxed = []
    boxes_by_class: dict[int, list[tuple[int, int, int, int]]] = {}
    for index, obj in enumerate(objects, start=1):
        cls = label_map.lookup_name(obj.name)
        if cls is None:
            raise RejectError(
                f"{voc_name}: object #{index} is named {obj.name!r}, which is not in the label map (classes: {known})"
            )
        x0, y0, x1, y1 = obj.box
        if x1 < x0 or y1 < y0:
            raise RejectError(f"{voc_name}: object #{index} ({obj.name}) has an empty box {list(obj.box)}")
        if x0 >= width or y0 >= height or x1 < 0 or y1 < 0:
            raise RejectError(
                f"{voc_name}: object #{index} ({obj.name}) box {list(obj.box)} is outside the {width}x{height} image"
            )
        box = max(0, x0), max(0, y0), min(width - 1, x1), min(height - 1, y1)
        boxed.append((index, obj, cls, box))
        boxes_by_class.setdefault(cls.id, []).append(box)
    return boxed, boxes_by_class


def _instances_from_voc(boxed, boxes_by_class, gray, label_map: LabelMap, min_area: int, voc_name: str):
    """Each box is one instance (its class's pixels inside it)."""
    dropped = _check_every_object_boxed(gray, label_map, min_area, boxes_by_class, voc_name)
    instances: list[Instance] = []
    for index, obj, cls, (x0, y0, x1, y1) in boxed:
        mask = np.zeros_like(gray, dtype=np.uint8)
        mask[y0 : y1 + 1, x0 : x1 + 1] = gray[y0 : y1 + 1, x0 : x1 + 1] == cls.pixel_value
        if not mask.any():
            raise RejectError(
                f"{voc_name}: object #{index} ({obj.name}) box {list(obj.box)} holds no pixel of "
                f"its class (value {cls.pixel_value}) in the mask"
            )
        instances.append(Instance(cls.id, cls.name, mask))
    return instances, dropped


def _in_a_box(stats, boxes) -> bool:
    x, y, w, h = (int(v) for v in stats[:4])
    return any(x <= bx1 and bx0 <= x + w - 1 and y <= by1 and by0 <= y + h - 1 for bx0, by0, bx1, by1 in boxes)


def _check_every_object_boxed(gray, label_map: LabelMap, min_area: int, boxes_by_class: dict, voc_name: str) -> int:
    """Every object of the mask needs a box of its class, otherwise it would be silently lost; returns the specks
    dropped."""
    dropped = 0
    for cls in label_map.classes:
        binary = (gray == cls.pixel_value).astype(np.uint8)
        if not binary.any():
            continue
        n, _, stats = _components(binary)
        for index in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[index, :5])
            if area < min_area:
                dropped += 1
            elif not _in_a_box(stats[index], boxes_by_class.get(cls.id, [])):
                raise RejectError(
                    f"{voc_name}: the mask has a '{cls.name}' object at x={x} y={y} ({w}x{h}, {area} px) "
                    f"outside every '{cls.name}' box; add a box for it or remove it from the mask"
                )
    return dropped


def _without_compression_pieces(gray, label_map: LabelMap, min_area: int, boxes_by_class: dict | None):
    """A lossy mask with the compression's thin pieces (dataset/mask_values.py) given their neighbour's value;
    with labelImg boxes, only pieces outside every box of their class. Returns the mask and the pixels changed."""
    gray, reassigned = gray.copy(), 0
    margin = mask_values.LOSSY_PIECE_WIDTH + 1
    for cls in label_map.classes:
        n, labels, stats = _components((gray == cls.pixel_value).astype(np.uint8))
        for index in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[index, :5])
            if area < min_area or (
                boxes_by_class is not None and _in_a_box(stats[index], boxes_by_class.get(cls.id, []))
            ):
                continue
            window = slice(max(0, y - margin), y + h + margin), slice(max(0, x - margin), x + w + margin)
            piece = labels[window] == index
            value = mask_values.compression_piece(gray[window], piece, cls.pixel_value)
            if value is not None:
                gray[window][piece] = value
                reassigned += area
    return gray, reassigned
