"""The sample's classes (sample_data/sample.py draws them): each a name, its colour in the colour masks (whose
grey value is the class's pixel value in the label map) and how its objects look; the defaults, and the checks
that keep them apart in the masks."""

from __future__ import annotations

import dataclasses

from dataset.images import luma
from sample_data.scene import KINDS


@dataclasses.dataclass(frozen=True)
class SampleClass:
    name: str
    mask_rgb: tuple[int, int, int]  # the class's colour in the masks
    kind: str = ""  # how its objects look: one of scene.KINDS; "" takes the kind of the class's position

    @property
    def pixel_value(self) -> int:
        return luma(self.mask_rgb)


# Pure red and green: luma 76 and 150 in both OpenCV's and PIL's grayscale conversion.
DEFAULT_CLASSES = (SampleClass("speaker", (255, 0, 0)), SampleClass("mug", (0, 255, 0)))


def check_classes(classes: tuple[SampleClass, ...]) -> None:
    """Names unique, colours not black, and no two colours with one grayscale value (they would be one class)."""
    if not classes:
        raise ValueError("at least one class is needed")
    unknown = [c.kind for c in classes if c.kind and c.kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown object kinds {', '.join(unknown)}; known: {', '.join(KINDS)}")
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be unique: {', '.join(names)}")
    by_value: dict[int, SampleClass] = {}
    for c in classes:
        if c.pixel_value == 0:
            raise ValueError(f"class {c.name}: colour {c.mask_rgb} has grayscale value 0, the background")
        if c.pixel_value in by_value:
            other = by_value[c.pixel_value]
            raise ValueError(
                f"classes {other.name} {other.mask_rgb} and {c.name} {c.mask_rgb} have the same "
                f"grayscale value {c.pixel_value}: the masks could not tell them apart"
            )
        by_value[c.pixel_value] = c
