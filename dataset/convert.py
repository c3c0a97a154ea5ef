"""Ingestion, step 2: one input (an image with its mask, VOC boxes or COCO annotations) -> an `Outcome`, a
serialized example or a reject reason. Runs in the Beam workers and in the sequential reference alike."""

from __future__ import annotations

from dataset import formats, records
from dataset.labelmap import LabelMap
from dataset.records import Conversion, Outcome, RejectError, WorkItem


def convert_item(
    item: WorkItem, label_map: LabelMap, min_instance_area: int, dataset_dir: str = "", own_colours: dict | None = None
) -> Outcome:
    """One input -> an example or a reject. The same function runs in Beam and in the sequential reference.

    own_colours: `colours.own_colours` of the dataset's mask colour tally (seed layout).
    """
    if item.reject_reason:
        return Outcome(file=item.path, split=item.split, reason=item.reject_reason)
    try:
        given = Conversion(label_map, min_instance_area, dataset_dir, own_colours)
        converted = formats.FORMATS[item.format].convert(item, given)
    except RejectError as e:
        return Outcome(file=item.path, split=item.split, reason=str(e))
    image = converted.image
    example = records.build_example(
        item.rel_path, image.data, image.format, image.width, image.height, converted.instances
    )
    return Outcome(
        file=item.path,
        split=item.split,
        example=example,
        num_instances=len(converted.instances),
        num_small_components_dropped=converted.small_components_dropped,
        pixels_reassigned=converted.pixels_reassigned,
        lossy_mask=converted.lossy_mask,
        alpha_pixels=converted.alpha_pixels,
    )
