"""Copies of a classic-layout dataset whose masks come out the way everyday tools make them.

For measuring and testing how ingestion reads hand-made masks (dataset/mask_values.py): a soft brush or
blur, a resize with interpolation, antialiased (sub-pixel) drawing, and JPEG files. Images, boxes and the
label map are copied unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dataset.formats import seed


def blurred(mask: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """A soft brush's edges: a Gaussian blur of the mask."""
    import cv2

    return cv2.GaussianBlur(mask, (0, 0), sigma)


def resized(mask: np.ndarray, factor: float = 0.5) -> np.ndarray:
    """A mask drawn at another size and resized to the photo's: area down, cubic (overshooting) up."""
    import cv2

    height, width = mask.shape[:2]
    small = cv2.resize(
        mask, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def antialiased(mask: np.ndarray, shift: float = 0.5) -> np.ndarray:
    """Shapes drawn at sub-pixel positions: every edge pixel a blend of the two sides."""
    import cv2

    height, width = mask.shape[:2]
    matrix = np.float32([[1, 0, shift], [0, 1, shift]])
    return cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def grayscale(mask: np.ndarray) -> np.ndarray:
    """A colour mask as the grey values that carry its classes."""
    import cv2

    return mask if mask.ndim == 2 else cv2.cvtColor(mask, cv2.COLOR_BGR2GRAY)


STYLES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "blurred": blurred,
    "resized": resized,
    "antialiased": antialiased,
}


def copy_with_masks(
    source: Path,
    target: Path,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    jpeg_quality: int | None = None,
) -> Path:
    """A copy of a seed dataset with every mask transformed, and saved as JPEG when jpeg_quality is given."""
    import cv2

    shutil.copytree(source, target)
    for path in seed.mask_files(str(target)):
        path = Path(path)
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if transform is not None:
            mask = transform(mask)
        if jpeg_quality is None:
            cv2.imwrite(str(path), mask)
        else:
            path.unlink()
            cv2.imwrite(str(path.with_suffix(".jpg")), mask, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return target


def ingested_instances(output_dir: str) -> dict[str, list[tuple[int, np.ndarray]]]:
    """{image file name: [(class id, instance mask)]} of every example of an ingestion output."""
    import cv2
    import tensorflow as tf

    from dataset import layout, records

    found = {}
    for split in layout.SPLITS:
        for path in tf.io.gfile.glob(layout.record_pattern(output_dir, split)):
            for raw in tf.data.TFRecordDataset(path, compression_type="GZIP"):
                example = tf.train.Example.FromString(raw.numpy())
                name = records.feature_values(example, records.IMAGE_FILENAME)[0].decode()
                masks = [
                    cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
                    for png in records.feature_values(example, records.OBJECT_MASK)
                ]
                found[name] = list(zip(records.feature_values(example, records.CLASS_LABEL), masks, strict=True))
    return found


def instance_ious(clean: list[tuple[int, np.ndarray]], other: list[tuple[int, np.ndarray]]) -> list[float]:
    """For each (class, mask) instance of `clean`, the best IoU among `other`'s instances of its class (0 if none)."""
    ious = []
    for cls, mask in clean:
        best = 0.0
        for other_cls, other_mask in other:
            if other_cls == cls:
                union = np.logical_or(mask, other_mask).sum()
                best = max(best, float(np.logical_and(mask, other_mask).sum() / union) if union else 0.0)
        ious.append(best)
    return ious
