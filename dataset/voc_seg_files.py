"""Pascal VOC segmentation's own files (dataset/formats/voc_seg.py lists and converts the dataset with them):
the folders, the devkit's palette, CVAT's/datumaro's labelmap.txt and the palette-PNG masks, read and written."""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from dataset import shapes
from dataset.annotation_listing import full, join_rel
from dataset.labelmap import LabelClass, LabelMap, LabelMapError
from dataset.records import RejectError
from storage import fileio

PHOTOS, OBJECTS, CLASSES, LISTS = "JPEGImages", "SegmentationObject", "SegmentationClass", "ImageSets/Segmentation"
LABELMAP_FILE = "labelmap.txt"
VOID = 255
VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


@dataclasses.dataclass(frozen=True)
class VocSegFiles:
    """A VOC photo's own fields (its WorkItem's source)."""

    object_path: str
    class_path: str
    listed_in: str  # the ImageSets list naming it, for reasons
    positions: tuple[int, ...]  # class id (0: background) of each class index, labelmap.txt's order
    colours: tuple[tuple[tuple[int, int, int], int], ...] | None  # (RGB, class id): labelmap.txt's colours


def voc_colormap(count: int = 256) -> list[tuple[int, int, int]]:
    """The VOC devkit's palette (labelcolormap.m): index bits spread over the high bits of R, G and B."""
    colours = []
    for index in range(count):
        r = g = b = 0
        for shift in range(7, -1, -1):
            r, g, b = r | (index & 1) << shift, g | (index >> 1 & 1) << shift, b | (index >> 2 & 1) << shift
            index >>= 3
        colours.append((r, g, b))
    return colours


def read_label_map(dataset_dir: str, root: str) -> tuple[LabelMap, tuple[int, ...], tuple | None]:
    """(label map, class id of each class index, (colour, class id) pairs or None) of the dataset."""
    path = next(
        (
            p
            for p in (full(dataset_dir, join_rel(root, LABELMAP_FILE)), full(dataset_dir, LABELMAP_FILE))
            if fileio.exists(p)
        ),
        "",
    )
    if not path:
        classes = tuple(LabelClass(i, n, None) for i, n in enumerate(VOC_CLASSES, start=1))
        return LabelMap(classes, source="Pascal VOC's 20 classes"), tuple(range(len(VOC_CLASSES) + 1)), None
    try:
        text = fileio.read_text(path)
    except (OSError, UnicodeDecodeError) as e:
        raise LabelMapError(f"{path}: cannot read the label map: {e}") from e
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        colour = rest.partition(":")[0].strip()
        try:
            rgb = tuple(int(v) for v in colour.split(",")) if colour else None
        except ValueError:
            rgb = ()
        if not name.strip() or (rgb is not None and (len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb))):
            raise LabelMapError(f"{path}: line {number} ({line!r}) is not `name:r,g,b:parts:actions`")
        entries.append((name.strip(), rgb))
    background = next((i for i, (n, c) in enumerate(entries) if n.lower() == "background" or c == (0, 0, 0)), None)
    named = [n for i, (n, _) in enumerate(entries) if i != background]
    if not named:
        raise LabelMapError(f"{path}: no class besides the background")
    ids, next_id = [], 1
    for i in range(len(entries)):
        ids.append(0 if i == background else next_id)
        next_id += i != background
    label_map = LabelMap(
        tuple(LabelClass(ids[i], n, None, colour=c) for i, (n, c) in enumerate(entries) if i != background), source=path
    )
    colours = tuple((c, ids[i]) for i, (_, c) in enumerate(entries) if c is not None)
    return label_map, tuple(ids), colours if len(colours) == len(entries) else None


def read_mask(path: str, image) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(palette indices, palette as Nx3 or None for a grey index PNG, name) of a VOC mask."""
    from PIL import Image, UnidentifiedImageError

    from dataset.images import EMPTY_FILE

    name = "/".join(path.replace("\\", "/").split("/")[-2:])
    try:
        data = fileio.read_bytes(path)
        if not data:
            raise RejectError(f"{name}: {EMPTY_FILE}")
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            mode, array, palette = im.mode, np.array(im), im.getpalette()
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:  # PIL: SyntaxError for broken PNGs
        raise RejectError(f"cannot read {name}: {e}") from e
    if mode not in ("P", "L"):
        raise RejectError(
            f"{name} is in mode {mode}, not a palette PNG: VOC's masks hold the class "
            f"({CLASSES}) or the instance id ({OBJECTS}) as the palette index of each pixel"
        )
    shapes.check_size((array.shape[1], array.shape[0]), image, f"the mask {name} has")
    return array, np.reshape(palette, (-1, 3)) if mode == "P" and palette else None, name


def class_ids(array, palette, source: VocSegFiles, name: str, label_map: LabelMap) -> np.ndarray:
    """The class id of each pixel of a SegmentationClass mask (0 background, -1 void)."""
    lookup = np.zeros(256, np.int64)
    by_colour = dict(source.colours) if source.colours is not None and palette is not None else None
    for value in np.unique(array):
        if value == VOID:
            lookup[value] = -1
        elif by_colour is not None:
            colour = tuple(int(v) for v in palette[value]) if value < len(palette) else None
            if colour not in by_colour:
                raise RejectError(
                    f"{name}: index {value} has colour RGB{colour}, which is no colour of {label_map.source}"
                )
            lookup[value] = by_colour[colour]
        elif value < len(source.positions):
            lookup[value] = source.positions[value]
        else:
            raise RejectError(
                f"{name}: value {value} is no class of {label_map.source} (0 background, "
                f"1..{len(source.positions) - 1}, {VOID} void)"
            )
    return lookup[array]


def palette_png(array: np.ndarray, palette) -> bytes:
    from PIL import Image

    image = Image.fromarray(array)
    image.putpalette([v for colour in palette for v in colour])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
