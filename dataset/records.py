"""The units of ingestion work and what comes out of them.

A `WorkItem` is one input: an image with its annotations (mask PNG, VOC file
or COCO annotations) or a file already known to be unusable. Converting it
gives an `Outcome`: a serialized tf.train.Example or a reject reason, never
nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from dataset.labelmap import LabelMap

# tf.train.Example keys: what Model Garden's TfExampleDecoder(include_mask=True) reads, plus
# filename, format, sha256 and class text.
IMAGE_ENCODED = "image/encoded"
IMAGE_FORMAT = "image/format"
IMAGE_FILENAME = "image/filename"
IMAGE_SOURCE_ID = "image/source_id"
IMAGE_SHA256 = "image/key/sha256"
IMAGE_HEIGHT = "image/height"
IMAGE_WIDTH = "image/width"
BBOX_XMIN = "image/object/bbox/xmin"
BBOX_YMIN = "image/object/bbox/ymin"
BBOX_XMAX = "image/object/bbox/xmax"
BBOX_YMAX = "image/object/bbox/ymax"
CLASS_LABEL = "image/object/class/label"
CLASS_TEXT = "image/object/class/text"
OBJECT_AREA = "image/object/area"
OBJECT_IS_CROWD = "image/object/is_crowd"
OBJECT_MASK = "image/object/mask"


def feature_values(example, key: str) -> list:
    """The values of a tf.train.Example's feature, whatever its kind ([] when absent). For checks that must
    read malformed examples too; Model Garden's TfExampleDecoder reads well-formed ones."""
    if key not in example.features.feature:
        return []
    feature = example.features.feature[key]
    kind = feature.WhichOneof("kind")
    return list(getattr(feature, kind).value) if kind else []


class RejectError(Exception):
    """An input that cannot become an example; the message is the reason."""


class IngestError(RuntimeError):
    """The dataset cannot be ingested as a whole (layout, too many rejects, empty split, output folder)."""


@dataclasses.dataclass(frozen=True)
class WorkItem:
    rel_path: str  # the input's identity: its path relative to the dataset folder, '/'-separated
    path: str  # full path or URI of the input file (the image, or the rejected file)
    split: str
    format: str  # its format's name (dataset/formats/: the name of the format that listed it)
    source: Any = None  # the format's own fields (seed_convert.SeedFiles, ...); None when rejected while listing
    # Decided while listing the folder (a mask without image, a text file, ...)
    reject_reason: str = ""


@dataclasses.dataclass(frozen=True)
class Listing:
    """What listing a dataset folder finds, before any image is read."""

    label_map: LabelMap
    items: tuple[WorkItem, ...]
    unlabelled: tuple[str, ...]
    ignored: tuple[str, ...]
    eval_source: str  # how the eval split was chosen: "test_folder", "annotation_files", "hash_split"


@dataclasses.dataclass(frozen=True)
class Conversion:
    """What converting an input may read besides the input: each format's converter takes what it needs."""

    label_map: LabelMap
    min_instance_area: int
    dataset_dir: str = ""
    own_colours: dict | None = None  # `colours.own_colours` of the dataset's mask colour tally (seed layout)


@dataclasses.dataclass(frozen=True)
class Instance:
    class_id: int
    class_name: str
    mask: np.ndarray  # HxW uint8, 1 inside the object
    is_crowd: bool = False


@dataclasses.dataclass(frozen=True)
class Converted:
    """What a format's converter makes of one input: its image and instances (none: a negative example)."""

    image: Any  # images.EncodedImage
    instances: list[Instance]
    small_components_dropped: int = 0
    pixels_reassigned: int = 0  # mask pixels snapped to a class value (dataset/mask_values.py)
    lossy_mask: str = ""  # the mask's path when it holds JPEG data
    alpha_pixels: int = 0  # mask pixels whose value its alpha channel decided (images.DecodedMask)


@dataclasses.dataclass(frozen=True)
class Outcome:
    file: str
    split: str
    example: bytes | None = None
    num_instances: int = 0
    reason: str = ""
    num_small_components_dropped: int = 0
    pixels_reassigned: int = 0
    lossy_mask: str = ""  # the mask's path when it holds JPEG data
    alpha_pixels: int = 0

    @property
    def rejected(self) -> bool:
        return self.example is None

    def without_example(self) -> Outcome:
        return dataclasses.replace(self, example=None) if self.example is not None else self


def source_id(rel_path: str) -> str:
    """A stable 15-digit decimal id from the relative path (Model Garden parses it as int64)."""
    digest = int(hashlib.sha256(rel_path.encode("utf-8")).hexdigest(), 16)
    return str(10**14 + digest % (9 * 10**14))


def hash_split(rel_path: str, eval_fraction: float) -> str:
    """'eval' for a stable `eval_fraction` of relative paths, else 'train'."""
    digest = hashlib.sha256(b"split:" + rel_path.encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "eval" if position < eval_fraction else "train"


def build_example(
    rel_path: str,
    encoded_image: bytes,
    image_format: str,
    width: int,
    height: int,
    instances: list[Instance],
) -> bytes:
    """A serialized tf.train.Example; boxes are the tight boxes of the instance masks."""
    import cv2

    from dataset import example_proto

    xmin, ymin, xmax, ymax, areas, masks = [], [], [], [], [], []
    for inst in instances:
        # OpenCV rather than np.nonzero: the same tight box, without holding the GIL (Beam runs threads)
        x, y, w, h = cv2.boundingRect(inst.mask)
        xmin.append(x / width)
        xmax.append((x + w) / width)
        ymin.append(y / height)
        ymax.append((y + h) / height)
        areas.append(float(cv2.countNonZero(inst.mask)))
        ok, png = cv2.imencode(".png", inst.mask)
        if not ok:
            raise RuntimeError(f"{rel_path}: OpenCV could not encode an instance mask")
        masks.append(png.tobytes())

    return example_proto.serialize(
        {
            IMAGE_ENCODED: ("bytes", [encoded_image]),
            IMAGE_FORMAT: ("bytes", [image_format.encode()]),
            IMAGE_FILENAME: ("bytes", [rel_path.encode("utf-8")]),
            IMAGE_SOURCE_ID: ("bytes", [source_id(rel_path).encode()]),
            IMAGE_SHA256: ("bytes", [hashlib.sha256(encoded_image).hexdigest().encode()]),
            IMAGE_HEIGHT: ("int64", [height]),
            IMAGE_WIDTH: ("int64", [width]),
            BBOX_XMIN: ("float", xmin),
            BBOX_YMIN: ("float", ymin),
            BBOX_XMAX: ("float", xmax),
            BBOX_YMAX: ("float", ymax),
            CLASS_LABEL: ("int64", [inst.class_id for inst in instances]),
            CLASS_TEXT: ("bytes", [inst.class_name.encode("utf-8") for inst in instances]),
            OBJECT_AREA: ("float", areas),
            OBJECT_IS_CROWD: ("int64", [int(inst.is_crowd) for inst in instances]),
            OBJECT_MASK: ("bytes", masks),
        }
    )
