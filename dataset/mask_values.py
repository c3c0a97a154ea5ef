"""Mask values as people paint them: soft edges and lossy files snapped to the label map's values.

A hard brush and a lossless file give every pixel of a class exactly its value,
and such a mask is read as it is. Soft brushes, antialiased shapes and resizes
with interpolation blend a class's value with its neighbour's (the background's
or another class's) along object edges, and JPEG moves values a little
everywhere. In a mask holding any value that is neither the background's (0)
nor a class's, every pixel is decided by one rule:

- in a flat patch (FLAT_PATCH x FLAT_PATCH pixels within FLAT_SPREAD levels) further than NOISE_TOLERANCE
  from the background and every class value: a region painted in a value of its own, which no rule places:
  the mask is rejected;
- in a painted region: that value. A region grows from seeds, pixels nearest to the value and shaped toward
  it (flat, or below it a crest, above it a trough) within NOISE_TOLERANCE of it or OVERSHOOT of the gap to
  the next value, through pixels within NOISE_TOLERANCE of it on no steep slope;
- elsewhere (edges), a value between those of the regions within EDGE_RADIUS pixels (give or take
  NOISE_TOLERANCE, or OVERSHOOT of the step between them: cubic resizing and JPEG ring past both sides of an
  edge) is a blend, which takes the nearest of those regions' values, even when it equals a third class's
  (a blur from 150 to 0 passes through 76); inside a blur wider than EDGE_RADIUS, the nearest value;
- other edge pixels keep their value when it is a class's or close to one (a thin stroke), and are a stray
  dot of a value of their own otherwise: rejected.

A JPEG mask is first median-filtered over 3x3 pixels: that removes the compression's speckle (up to 20 levels
inside a 5 px wide object at quality 75) and keeps edges, at the cost of features 1 px wide.

At the photo's border the rule reads the mask inside a frame of background: a strip of blends between an
object and the border is an edge like any other, not a region of its own.

In a lossy mask with labelImg boxes, a piece of a class outside every box of that class which is thin (at most
LOSSY_PIECE_WIDTH px across) and lies along an object of another class is the compression's (ringing beside an
edge that lands within NOISE_TOLERANCE of a third class): it takes the nearest of the background's and that
object's values (`compression_piece`), and its pixels are counted as reassigned.

A blend of two colours has the blend of their grey values (luma is linear in RGB), so the rule reads colour
masks through their grey values too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

NOISE_TOLERANCE = 12
FLAT_PATCH = 3
FLAT_SPREAD = 2
EDGE_RADIUS = 8  # one JPEG block: its ringing stays inside the 8x8 blocks an edge crosses
OVERSHOOT = 0.4
LOSSY_PIECE_WIDTH = 4  # px: JPEG's ringing beside an edge, within the 8x8 blocks the edge crosses
BORDER = EDGE_RADIUS + FLAT_PATCH  # the frame of background around the mask: an edge's width and a patch


@dataclasses.dataclass(frozen=True)
class Snapped:
    gray: np.ndarray  # HxW uint8, every value the background's or a class's
    reassigned: int  # pixels whose value the rule changed
    unknown: dict[int, int]  # {value: pixels} of values painted as regions or dots of their own (mask unusable)


def _patches(centres: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.dilate(centres.astype(np.uint8), np.ones((FLAT_PATCH, FLAT_PATCH), np.uint8)).astype(bool)


def _spread(plane: np.ndarray) -> np.ndarray:
    import cv2

    kernel = np.ones((FLAT_PATCH, FLAT_PATCH), np.uint8)
    return cv2.dilate(plane, kernel).astype(np.int16) - cv2.erode(plane, kernel)


def flat_pixels(image: np.ndarray) -> np.ndarray:
    """HxW bool: the pixels of a grey (HxW) or colour (HxWxC) image inside a patch of exactly one value/colour."""
    planes = [image] if image.ndim == 2 else [np.ascontiguousarray(image[..., c]) for c in range(3)]
    return _patches(np.logical_and.reduce([_spread(plane) == 0 for plane in planes]))


def _extremes(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(no 3x3 neighbour more than FLAT_SPREAD above, none more than FLAT_SPREAD below): crests and troughs."""
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    values = gray.astype(np.int16)
    return cv2.dilate(gray, kernel) <= values + FLAT_SPREAD, cv2.erode(gray, kernel) >= values - FLAT_SPREAD


def _nearest_table(palette: np.ndarray) -> np.ndarray:
    grey = np.arange(256, dtype=np.int16)
    return palette[np.argmin(np.abs(grey[:, None] - palette[None, :]), axis=1)].astype(np.uint8)


def _regions(
    usable: np.ndarray,
    extremes: tuple[np.ndarray, np.ndarray],
    nearest: np.ndarray,
    grey: np.ndarray,
    palette: np.ndarray,
) -> np.ndarray:
    """The painted regions (the module's rule). A blur from 150 to 0 passes through 76 in a ring that is all
    slope; a thin object's crest (137 where a 5 px wide object of 150 was blurred) is a seed of 150."""
    import cv2

    regions = np.zeros(usable.shape, bool)
    crest, trough = extremes
    grey_u8, kernel = grey.astype(np.uint8), np.ones((3, 3), np.uint8)
    # JPEG's noisy interiors: regions grow through close pixels that are on no steep slope
    steep = (cv2.erode(grey_u8, kernel) < grey - NOISE_TOLERANCE // 2) & (
        cv2.dilate(grey_u8, kernel) > grey + NOISE_TOLERANCE // 2
    )
    for value in palette:
        candidates = usable & (nearest == value)
        gap = min(abs(int(value) - int(other)) for other in palette if other != value)
        # below its value a region shows as a crest (a thin object blurred into the background), above it as a
        # trough; the valley between two blurred mugs passes through 76 and is no speaker
        shaped = np.where(grey < value, crest, trough) | (crest & trough)
        seeds = candidates & shaped & (np.abs(grey - value) <= max(NOISE_TOLERANCE, OVERSHOOT * gap))
        grow = (candidates & (np.abs(grey - value) <= NOISE_TOLERANCE) & ~steep) | seeds
        _, labels = cv2.connectedComponents(grow.astype(np.uint8), connectivity=8)
        regions |= grow & np.isin(labels, np.unique(labels[seeds]))
    return regions


def _regions_near(regions: np.ndarray, nearest: np.ndarray, values: np.ndarray, palette: np.ndarray):
    """Per pixel: the lowest and highest value of the regions within EDGE_RADIUS, and the nearest of them."""
    import cv2

    kernel = np.ones((2 * EDGE_RADIUS + 1, 2 * EDGE_RADIUS + 1), np.uint8)
    far = 1 << 10
    best, choice = np.full(values.shape, far, np.int16), nearest.copy()
    low, high = np.full(values.shape, far, np.int16), np.full(values.shape, -far, np.int16)
    for value in palette:
        near = cv2.dilate((regions & (nearest == value)).astype(np.uint8), kernel).astype(bool)
        gap = np.where(near, np.abs(values - value), far)
        closer = gap < best
        best[closer], choice[closer] = gap[closer], value
        low[near], high[near] = np.minimum(low[near], value), np.maximum(high[near], value)
    return low, high, choice, low == far


def snap(painted: np.ndarray, class_values: Iterable[int], lossy: bool = False) -> Snapped:
    """The mask's values decided by the module's rule; a lossy (JPEG) mask is median-filtered first."""
    import cv2

    palette = np.array(sorted({0, *class_values}), np.int16)
    if np.isin(painted, palette).all():
        return Snapped(painted, 0, {})
    gray = cv2.medianBlur(painted, 3) if lossy else painted
    # beyond the photo's border lies background, so a blend in a strip between an object and the border
    # is an edge like any other: the rule reads the mask inside a frame of background
    gray = cv2.copyMakeBorder(gray, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=0)
    values = gray.astype(np.int16)
    nearest = _nearest_table(palette)[gray]
    close = np.abs(values - nearest) <= NOISE_TOLERANCE
    own_value = _patches(_spread(gray) <= FLAT_SPREAD) & ~close
    regions = _regions(~own_value, _extremes(gray), nearest, values, palette)
    low, high, choice, alone = _regions_near(regions, nearest, values, palette)
    margin = np.maximum(NOISE_TOLERANCE, OVERSHOOT * (high - low))
    blend = ~regions & (alone | ((values >= low - margin) & (values <= high + margin)))
    inside = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    unknown = (own_value | (~regions & ~blend & ~close))[inside]
    gray = gray[inside]
    if unknown.any():
        found, counts = np.unique(gray[unknown], return_counts=True)
        return Snapped(gray, 0, {int(v): int(n) for v, n in zip(found, counts, strict=True)})
    result = np.where(blend, choice, nearest).astype(np.uint8)[inside]
    return Snapped(result, int(np.count_nonzero(result != painted)), {})


def compression_piece(gray: np.ndarray, piece: np.ndarray, value: int) -> int | None:
    """The value a piece (HxW bool) of `value` in a snapped lossy mask takes when it is the compression's (see
    the module's rule), or None when it is not thin or lies along no object of another class."""
    import cv2

    binary = piece.astype(np.uint8)
    kernel = np.ones((LOSSY_PIECE_WIDTH + 1, LOSSY_PIECE_WIDTH + 1), np.uint8)
    # beyond the border is background here too: a strip 4 px tall along the border is thin
    if cv2.erode(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).any():
        return None
    around = gray[cv2.dilate(binary, kernel).astype(bool) & ~piece]
    neighbours = set(np.unique(around).tolist()) - {0, value}
    if not neighbours:
        return None
    return min((0, *sorted(neighbours)), key=lambda other: abs(other - value))
