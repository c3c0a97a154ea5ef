"""One image of a COCO dataset with its annotations -> its image and instances; runs in the Beam workers."""
from __future__ import annotations

from dataset import shapes
from dataset.labelmap import LabelMap
from dataset.records import Converted, RejectError, WorkItem

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
