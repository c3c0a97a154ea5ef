"""Formats that list each object as a shape (COCO, YOLO segmentation, labelme, VIA): an image with its shapes ->
its image and instances; runs in the Beam workers. A shape's segmentation is in COCO's form: polygons in pixels
([[x0, y0, x1, y1, ...], ...]), RLE or compressed RLE, each decoded with pycocotools as COCO's own tools do."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from dataset.labelmap import LabelClass
from dataset.records import Instance, RejectError
from storage import fileio


@dataclasses.dataclass(frozen=True)
class Shape:
    where: str  # how a reason names it: "annotation 12", "line 3 of x.txt", "shape 2 ('dog')"
    cls: LabelClass
    segmentation: Any  # COCO's form, in pixels
    is_crowd: bool = False


def segmentation_mask(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, RLE or compressed RLE) as an HxW 0/1 uint8 array."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list)]
        pieces = [_rle(p, height, width) for p in segmentation if isinstance(p, dict)]  # labelme's mask shapes
        if not segmentation or len(polygons) + len(pieces) != len(segmentation):
            raise ValueError("polygon segmentation must be a non-empty list of coordinate lists")
        if any(len(p) < 6 or len(p) % 2 for p in polygons):
            raise ValueError("a polygon needs at least 3 (x, y) points")
        rle = mask_utils.merge((mask_utils.frPyObjects(polygons, height, width) if polygons else []) + pieces)
    else:
        rle = _rle(segmentation, height, width)
    return np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)


def _rle(segmentation, height: int, width: int) -> dict:
    from pycocotools import mask as mask_utils

    if not (isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation):
        raise ValueError("segmentation is neither polygons nor RLE")
    if [int(v) for v in segmentation["size"]] != [height, width]:
        raise ValueError(f"RLE size {segmentation['size']} differs from the image's [{height}, {width}]")
    if isinstance(segmentation["counts"], list):
        return mask_utils.frPyObjects(segmentation, height, width)
    counts = segmentation["counts"]
    return {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def mask_rle(mask: np.ndarray) -> dict:
    """A 0/1 HxW mask as COCO's compressed RLE (a segmentation of the shapes' form)."""
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def ellipse_polygon(cx: float, cy: float, rx: float, ry: float, degrees: float = 0.0) -> list[float]:
    """A circle or ellipse (labelme's circle, VIA's circle and ellipse) as a polygon of 64 points."""
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    t = np.deg2rad(degrees)
    xs = cx + rx * np.cos(angles) * np.cos(t) - ry * np.sin(angles) * np.sin(t)
    ys = cy + rx * np.cos(angles) * np.sin(t) + ry * np.sin(angles) * np.cos(t)
    return np.stack([xs, ys], axis=1).ravel().tolist()


def rectangle_polygon(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def read_image(path: str, listed_in: str, data: bytes | None = None):
    """The image (images.EncodedImage) of `path`, or of `data` when given (labelme's embedded imageData)."""
    from dataset import images

    try:
        return images.prepare_image(fileio.read_bytes(path) if data is None else data)
    except images.ImageDecodeError as e:
        raise RejectError(str(e)) from e
    except OSError as e:
        if not fileio.exists(path):
            raise RejectError(f"image file not found (listed in {listed_in})") from e
        raise RejectError(f"cannot read the image: {e}") from e


def check_size(declared: tuple[int, int] | None, image, declared_by: str) -> None:
    """RejectError when the annotations' (width, height) is not the image's."""
    if declared is not None and declared != (image.width, image.height):
        hint = " (it matches the image before its EXIF rotation)" if declared == image.stored_size else ""
        raise RejectError(
            f"{declared_by} size {declared[0]}x{declared[1]} but the image is {image.width}x{image.height}{hint}"
        )


def to_instances(shapes, height: int, width: int) -> list[Instance]:
    """One instance per shape, in their order; RejectError naming the shape whose segmentation is unusable."""
    instances = []
    for shape in shapes:
        try:
            mask = segmentation_mask(shape.segmentation, height, width)
        except Exception as e:  # malformed segmentation data of any kind
            raise RejectError(f"{shape.where}: bad segmentation ({e})") from e
        if not mask.any():
            raise RejectError(f"{shape.where}: its segmentation covers no pixel")
        instances.append(Instance(shape.cls.id, shape.cls.name, mask, shape.is_crowd))
    return instances


def polygons(mask: np.ndarray) -> list[list[float]]:
    """The outer contours of a 0/1 mask as flat [x0, y0, x1, y1, ...] lists in pixels, largest first (what a
    format that keeps polygons is written with)."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = [c.reshape(-1, 2) for c in sorted(contours, key=cv2.contourArea, reverse=True) if len(c) >= 3]
    return [c.astype(float).ravel().tolist() for c in found]
