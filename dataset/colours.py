"""Which mask colours make each class value, across a dataset.

A mask pixel's class is its grayscale value, so two colours with one grey value
(red 255,0,0 and green 0,130,0 are both 76) would silently be one class.
Ingestion tallies, per grey value, the colours of the colour masks (RGB, RGBA,
palette) across the dataset; where one value comes from several colours, the
class's own colour is the one its label map entry states, else the one in the
most masks, and masks holding another colour of that value are rejected.
Grayscale masks hold values, not colours: they take no part.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dataset.labelmap import LabelMap

Colour = tuple[int, int, int]  # R, G, B


def colours_by_value(colour: np.ndarray, gray: np.ndarray) -> dict[int, dict[Colour, int]]:
    """{grey value: {RGB colour: pixels}} of the non-background colours of a BGR(A) mask that are painted as
    regions (dataset/mask_values.py's flat patches), not only as the blends of a soft edge."""
    from dataset.mask_values import flat_pixels

    def pack(bgr: np.ndarray) -> np.ndarray:
        bgr = bgr.astype(np.uint32)
        return (bgr[:, 2] << 16) | (bgr[:, 1] << 8) | bgr[:, 0]

    foreground = gray > 0
    packed = pack(colour[..., :3][foreground])
    painted = set(np.unique(pack(colour[..., :3][foreground & flat_pixels(colour)])).tolist())
    keys, first, counts = np.unique(packed, return_index=True, return_counts=True)
    found: dict[int, dict[Colour, int]] = {}
    # A colour has one grey value: the grey value of its first pixel.
    for key, value, count in zip(keys.tolist(), gray[foreground][first].tolist(), counts.tolist(), strict=True):
        if key in painted:
            found.setdefault(int(value), {})[(key >> 16, (key >> 8) & 255, key & 255)] = int(count)
    return found


@dataclasses.dataclass
class ColourTally:
    """Per grey value, per colour: in how many masks, and how many pixels."""

    files: dict[int, dict[Colour, int]] = dataclasses.field(default_factory=dict)
    pixels: dict[int, dict[Colour, int]] = dataclasses.field(default_factory=dict)

    def add(self, found: dict[int, dict[Colour, int]]) -> ColourTally:
        for value, colours in found.items():
            for colour, count in colours.items():
                self.files.setdefault(value, {})[colour] = self.files.get(value, {}).get(colour, 0) + 1
                self.pixels.setdefault(value, {})[colour] = self.pixels.get(value, {}).get(colour, 0) + count
        return self

    def merge(self, other: ColourTally) -> ColourTally:
        for value, colours in other.files.items():
            for colour, files in colours.items():
                self.files.setdefault(value, {})[colour] = self.files.get(value, {}).get(colour, 0) + files
                self.pixels.setdefault(value, {})[colour] = (
                    self.pixels.get(value, {}).get(colour, 0) + other.pixels[value][colour]
                )
        return self

    def shared_values(self) -> dict[int, list[Colour]]:
        """Grey values made by more than one colour, each with its colours, most masks first."""
        return {
            value: sorted(colours, key=lambda c: (-colours[c], -self.pixels[value][c], c))
            for value, colours in sorted(self.files.items())
            if len(colours) > 1
        }


def own_colours(tally: ColourTally, label_map: LabelMap) -> dict[int, Colour]:
    """For each grey value made by several colours: the class's own colour (stated, else the most used)."""
    stated = {c.pixel_value: c.colour for c in label_map.classes if c.colour is not None}
    return {value: stated.get(value) or colours[0] for value, colours in tally.shared_values().items()}


def foreign_colours(found: dict[int, dict[Colour, int]], own: dict[int, Colour]) -> list[tuple[int, Colour, int]]:
    """(value, colour, pixels) of a mask's colours that are not their value's own colour."""
    return [
        (value, colour, pixels)
        for value, colours in sorted(found.items())
        if value in own
        for colour, pixels in sorted(colours.items())
        if colour != own[value]
    ]
