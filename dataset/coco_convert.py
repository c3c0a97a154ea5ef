"""One image of a COCO dataset with its annotations -> its image and instances; runs in the Beam workers."""
from __future__ import annotations

import numpy as np

from dataset import fileio
from dataset.labelmap import LabelMap
from dataset.records import Converted, Instance, RejectError, WorkItem


def segmentation_mask(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, RLE or compressed RLE) as an HxW 0/1 uint8 array."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list)]
        if not polygons or len(polygons) != len(segmentation):
            raise ValueError("polygon segmentation must be a non-empty list of coordinate lists")
        if any(len(p) < 6 or len(p) % 2 for p in polygons):
            raise ValueError("a polygon needs at least 3 (x, y) points")
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        if [int(v) for v in segmentation["size"]] != [height, width]:
            raise ValueError(f"RLE size {segmentation['size']} differs from the image's [{height}, {width}]")
        if isinstance(segmentation["counts"], list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            counts = segmentation["counts"]
            rle = {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    else:
        raise ValueError("segmentation is neither polygons nor RLE")
    return np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)


BOX_ONLY_REASON = (
    "has a box but no segmentation: a rectangle drawn with a box tool (CVAT's rectangle, Label Studio's "
    "RectangleLabels, a Roboflow object-detection project) exports no mask, and Mask R-CNN learns from masks. "
    "Draw the object as a polygon or mask (CVAT and Label Studio can convert boxes with SAM), or export a "
    "segmentation project")


def convert_coco_item(item: WorkItem, label_map: LabelMap) -> Converted:
    """The image and its instances (none: a background image, listed without annotation, kept as a negative
    example); raises RejectError."""
    from dataset import images

    try:
        image = images.prepare_image(fileio.read_bytes(item.path))
    except images.ImageDecodeError as e:
        raise RejectError(str(e)) from e
    except OSError as e:
        if not fileio.exists(item.path):
            raise RejectError("image file not found (listed in the COCO annotations)") from e
        raise RejectError(f"cannot read the image: {e}") from e
    size = item.source.size
    if size is not None and size != (image.width, image.height):
        hint = " (it matches the image before its EXIF rotation)" if size == image.stored_size else ""
        raise RejectError(f"the annotations give size {size[0]}x{size[1]} but the image is "
                          f"{image.width}x{image.height}{hint}")
    by_source_id = label_map.by_source_id
    instances = []
    for ann in item.source.annotations:  # in the file's order
        cls = by_source_id.get(ann.get("category_id"))
        if cls is None:
            raise RejectError(f"annotation {ann.get('id')} has category_id {ann.get('category_id')!r}, "
                              f"which is not in 'categories'")
        if not ann.get("segmentation"):
            raise RejectError(f"annotation {ann.get('id')} {BOX_ONLY_REASON}")
        try:
            mask = segmentation_mask(ann["segmentation"], image.height, image.width)
        except Exception as e:  # malformed segmentation data of any kind
            raise RejectError(f"annotation {ann.get('id')}: bad segmentation ({e})") from e
        if not mask.any():
            raise RejectError(f"annotation {ann.get('id')}: its segmentation covers no pixel")
        instances.append(Instance(cls.id, cls.name, mask, is_crowd=bool(ann.get("iscrowd") or 0)))
    return Converted(image, instances)
