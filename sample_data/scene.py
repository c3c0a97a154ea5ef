"""Synthetic photos of household objects with their instance labels (the sample dataset's pictures).

`render_scene` draws a textured background (wall, table edge, lighting, grain)
and 1-3 objects that never touch, each with shading, a soft edge and a shadow.
Object kinds are drawn by the functions in `DRAWERS` (named in `KINDS`); each
class of a dataset is drawn as one kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class DrawnObject:
    class_index: int  # 1-based index into the classes
    # x0, y0, x1, y1: the tight box of the object's mask pixels, inclusive
    box: tuple[int, int, int, int]


def render_scene(
    rng: np.random.Generator, width: int, height: int, kinds: tuple[int, ...], border_gaps: tuple[int, ...] = ()
):
    """Returns (photo RGB uint8, label map uint8 of class indices, objects); class i (1-based) is drawn as
    DRAWERS[kinds[i - 1]].

    border_gaps: when given, the first object is put against a random side of the photo with one of these gaps
    of background between it and the border (0: it touches the border; negative: the border cuts it).
    """
    num_classes = len(kinds)
    base = min(width, height)
    pad = base if border_gaps else 0  # drawn on a larger canvas, then cropped: objects can cross the border
    photo = _background(rng, width, height)
    if pad:
        import cv2

        photo = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    label = np.zeros((height + 2 * pad, width + 2 * pad), np.uint8)
    objects: list[DrawnObject] = []
    taken: list[tuple[int, int, int, int]] = []

    if rng.random() < 0.35:  # several objects of one class
        plan = [int(rng.integers(1, num_classes + 1))] * int(rng.integers(2, 4))
    else:
        plan = [int(rng.integers(1, num_classes + 1)) for _ in range(int(rng.integers(1, 4)))]
    margin = max(6, base // 40)
    for number, class_index in enumerate(plan):
        shape, layer = DRAWERS[kinds[class_index - 1]](rng, base)
        h, w = shape.shape
        if w + 2 * margin >= width or h + 2 * margin >= height:
            continue
        ys, xs = np.nonzero(shape)
        for _ in range(40):
            x0 = int(rng.integers(margin, width - w - margin))
            y0 = int(rng.integers(margin, height - h - margin))
            if border_gaps and number == 0:
                x0, y0 = _against_border(rng, x0, y0, shape, width, height, border_gaps)
            box = (
                max(0, x0 + int(xs.min())),
                max(0, y0 + int(ys.min())),
                min(width - 1, x0 + int(xs.max())),
                min(height - 1, y0 + int(ys.max())),
            )
            padded = (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
            if box[0] > box[2] or box[1] > box[3] or any(_intersects(padded, t) for t in taken):
                continue
            _composite(photo, x0 + pad, y0 + pad, shape, layer, rng)
            label[y0 + pad : y0 + pad + h, x0 + pad : x0 + pad + w][shape > 0] = class_index
            objects.append(DrawnObject(class_index, box))
            taken.append(padded)
            break
    photo, label = photo[pad : pad + height, pad : pad + width], label[pad : pad + height, pad : pad + width]
    return _finish(np.ascontiguousarray(photo), rng), np.ascontiguousarray(label), objects


def _against_border(rng, x0: int, y0: int, shape: np.ndarray, width: int, height: int, gaps: tuple[int, ...]):
    """(x0, y0) moved so that the shape's pixels end `gap` pixels from a random side of the photo."""
    ys, xs = np.nonzero(shape)
    gap = int(gaps[int(rng.integers(len(gaps)))])
    side = int(rng.integers(4))
    if side == 0:
        return gap - int(xs.min()), y0
    if side == 1:
        return width - 1 - gap - int(xs.max()), y0
    if side == 2:
        return x0, gap - int(ys.min())
    return x0, height - 1 - gap - int(ys.max())


def render_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A photo of the same surroundings with no object (RGB uint8): a negative example."""
    return _finish(_background(rng, width, height), rng)


def _finish(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    photo = photo + rng.standard_normal((*photo.shape[:2], 1), dtype=np.float32) * 2.5  # sensor noise
    photo = cv2.GaussianBlur(photo, (3, 3), 0.6)
    return np.clip(photo, 0, 255).astype(np.uint8)


def _intersects(a, b) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    import cv2

    x = np.arange(width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    angle = rng.uniform(0, 2 * np.pi)
    t = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    c1 = rng.uniform(70, 220, 3).astype(np.float32)
    c2 = np.clip(c1 + rng.normal(0, 35, 3), 40, 235).astype(np.float32)
    img = c1 + (c2 - c1) * t[..., None]

    if rng.random() < 0.6:  # a table edge: a surface of another colour below a wall
        edge = rng.uniform(0.35, 0.7) * height
        surface = np.clip(rng.uniform(60, 200, 3) + rng.normal(0, 10, 3), 30, 230).astype(np.float32)
        blend = np.clip((y - edge) / 3.0, 0, 1)[..., None]  # (H, 1, 1)
        surface_rows = surface * (0.85 + 0.3 * (y / height))[..., None]
        img = img * (1 - blend) + surface_rows * blend

    # low-frequency lighting variation, a directional grain (wood, fabric) and a vignette
    coarse = rng.normal(0, 1, (height // 48 + 2, width // 48 + 2)).astype(np.float32)
    light = 1 + 0.06 * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    r2 = ((x - width / 2) / width) ** 2 + ((y - height / 2) / height) ** 2
    gain = light * (1 - 0.35 * r2)
    grain = rng.standard_normal((height, width), dtype=np.float32)
    k = int(rng.choice([9, 15, 21]))
    grain = cv2.blur(grain, (k, 1) if rng.random() < 0.5 else (1, k)) * np.float32(rng.uniform(8, 20))
    return (img + grain[..., None]) * gain[..., None]


def _composite(photo, x0: int, y0: int, shape: np.ndarray, layer: np.ndarray, rng: np.random.Generator) -> None:
    """Pastes an object with a soft edge and a soft offset shadow; works on the object's region only."""
    import cv2

    h, w = shape.shape
    pad = 16
    H, W = photo.shape[:2]
    ys, ye, xs, xe = max(0, y0 - pad), min(H, y0 + h + pad), max(0, x0 - pad), min(W, x0 + w + pad)
    alpha = np.zeros((ye - ys, xe - xs), np.float32)
    alpha[y0 - ys : y0 - ys + h, x0 - xs : x0 - xs + w] = shape
    colour = np.zeros((ye - ys, xe - xs, 3), np.float32)
    colour[y0 - ys : y0 - ys + h, x0 - xs : x0 - xs + w] = layer
    dx, dy = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    shadow = cv2.GaussianBlur(np.roll(np.roll(alpha, dy, 0), dx, 1), (0, 0), 4)
    region = photo[ys:ye, xs:xe]
    region *= (1 - 0.45 * shadow * (1 - alpha))[..., None]
    soft = cv2.GaussianBlur(alpha, (3, 3), 0.7)[..., None]
    region[:] = region * (1 - soft) + colour * soft


def _shade(rgb, profile_x: np.ndarray, profile_y: np.ndarray) -> np.ndarray:
    shade = profile_y[:, None] * profile_x[None, :]
    return np.clip(np.asarray(rgb, np.float32)[None, None, :] * shade[..., None], 0, 255).astype(np.float32)


def _draw_speaker(rng, base):
    """A dark-blue rounded box with a dotted grille, a control strip and vertical shading."""
    import cv2

    w = int(rng.uniform(0.22, 0.34) * base)
    h = int(w * rng.uniform(1.1, 1.5))
    r = max(4, int(w * rng.uniform(0.12, 0.22)))
    shape = np.zeros((h + 1, w + 1), np.uint8)
    cv2.rectangle(shape, (r, 0), (w - r, h), 1, -1)
    cv2.rectangle(shape, (0, r), (w, h - r), 1, -1)
    for cx, cy in ((r, r), (w - r, r), (r, h - r), (w - r, h - r)):
        cv2.circle(shape, (cx, cy), r, 1, -1)

    rgb = np.array([28, 45, 120]) + rng.normal(0, 8, 3)
    u = np.linspace(0, 1, w + 1, dtype=np.float32)
    v = np.linspace(0, 1, h + 1, dtype=np.float32)
    layer = _shade(rgb, 0.75 + 0.5 * np.sin(np.pi * u).clip(0) ** 0.7, 1.25 - 0.45 * v)
    step = max(5, w // 9)
    for gy in range(r, int(h * 0.65), step):
        for gx in range(r, w - r + 1, step):
            cv2.circle(layer, (gx, gy), max(1, step // 4), (10, 14, 40), -1)
    cv2.rectangle(layer, (w // 3, int(h * 0.8)), (2 * w // 3, int(h * 0.86)), (150, 160, 190), -1)
    return shape, layer


_MUG_COLOURS = ((235, 235, 230), (205, 40, 35), (240, 200, 40), (240, 120, 30), (230, 110, 160))


def _draw_mug(rng, base):
    """A shaded cylinder with an elliptical rim, a dark inside and a handle."""
    import cv2

    w = int(rng.uniform(0.18, 0.28) * base)
    h = int(w * rng.uniform(0.9, 1.3))
    handle = int(w * 0.35)
    thickness = max(3, w // 10)
    left_handle = rng.random() < 0.5
    pad = handle + thickness
    bx = pad if left_handle else 0  # the body's left edge in the canvas
    e = max(3, w // 7)  # half height of the rim and base ellipses
    shape = np.zeros((h + 1, w + pad + 1), np.uint8)
    cv2.rectangle(shape, (bx, e), (bx + w, h - e), 1, -1)
    cv2.ellipse(shape, (bx + w // 2, e), (w // 2, e), 0, 0, 360, 1, -1)
    cv2.ellipse(shape, (bx + w // 2, h - e), (w // 2, e), 0, 0, 360, 1, -1)
    hx = bx if left_handle else bx + w
    cv2.ellipse(
        shape,
        (hx, h // 2),
        (handle, int(h * 0.28)),
        0,
        90 if left_handle else -90,
        270 if left_handle else 90,
        1,
        thickness,
    )

    rgb = np.array(_MUG_COLOURS[int(rng.integers(0, len(_MUG_COLOURS)))], np.float32) + rng.normal(0, 6, 3)
    u = ((np.arange(shape.shape[1], dtype=np.float32) - bx) / max(w, 1)).clip(-0.3, 1.3)
    px = 0.55 + 0.55 * np.cos((u - 0.4) * np.pi * 0.95).clip(0)
    layer = _shade(rgb, px, np.ones(h + 1, np.float32))
    inside = tuple(float(c) * 0.35 for c in rgb)
    cv2.ellipse(layer, (bx + w // 2, e), (max(1, w // 2 - 3), max(1, e - 2)), 0, 0, 360, inside, -1)
    return shape, layer


def _draw_ball(rng, base):
    """An orange sphere with radial shading."""
    import cv2

    rad = int(rng.uniform(0.08, 0.13) * base)
    size = 2 * rad + 1
    shape = np.zeros((size, size), np.uint8)
    cv2.circle(shape, (rad, rad), rad, 1, -1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.sqrt((xx - rad * 0.65) ** 2 + (yy - rad * 0.65) ** 2) / (1.6 * rad)
    shade = np.clip(1.25 - d, 0.35, 1.25)
    rgb = np.array([235, 120, 25], np.float32) + rng.normal(0, 6, 3)
    return shape, np.clip(rgb[None, None, :] * shade[..., None], 0, 255).astype(np.float32)


def _draw_bottle(rng, base):
    """A tall translucent-green bottle: a rounded body, shoulders, a neck and a cap."""
    import cv2

    w = int(rng.uniform(0.12, 0.18) * base)
    h = int(w * rng.uniform(2.2, 2.8))
    neck = max(3, w // 3)
    shoulder = int(h * 0.35)
    shape = np.zeros((h + 1, w + 1), np.uint8)
    cv2.rectangle(shape, (0, shoulder), (w, h), 1, -1)
    cv2.ellipse(shape, (w // 2, shoulder), (w // 2, max(2, w // 3)), 0, 180, 360, 1, -1)
    cv2.rectangle(shape, (w // 2 - neck // 2, 0), (w // 2 + neck // 2, shoulder), 1, -1)
    rgb = np.array([40, 130, 70], np.float32) + rng.normal(0, 8, 3)
    u = np.linspace(0, 1, w + 1, dtype=np.float32)
    layer = _shade(rgb, 0.6 + 0.7 * np.sin(np.pi * u).clip(0), np.ones(h + 1, np.float32))
    cv2.rectangle(layer, (w // 2 - neck // 2, 0), (w // 2 + neck // 2, max(2, h // 14)), (200, 200, 205), -1)
    cv2.rectangle(layer, (w // 5, int(h * 0.5)), (4 * w // 5, int(h * 0.72)), (235, 225, 200), -1)
    return shape, layer


def _draw_book(rng, base):
    """A closed book seen from above: a coloured cover, a darker spine and pale page edges."""
    import cv2

    w = int(rng.uniform(0.25, 0.38) * base)
    h = int(w * rng.uniform(0.65, 0.8))
    shape = np.ones((h + 1, w + 1), np.uint8)
    rgb = np.array([(150, 40, 60), (60, 60, 150), (200, 150, 60)][int(rng.integers(0, 3))], np.float32)
    rgb = rgb + rng.normal(0, 8, 3)
    layer = _shade(rgb, np.linspace(0.85, 1.1, w + 1, dtype=np.float32), np.linspace(1.1, 0.9, h + 1, dtype=np.float32))
    spine = max(3, w // 9)
    cv2.rectangle(layer, (0, 0), (spine, h), tuple(float(c) * 0.55 for c in rgb), -1)
    cv2.rectangle(layer, (w - max(2, w // 40), 2), (w, h - 2), (235, 230, 215), -1)
    cv2.rectangle(layer, (spine + w // 6, h // 5), (w - w // 6, h // 3), (230, 220, 190), -1)
    return shape, layer


# Object kinds; a dataset's classes take them in this order unless a class names its kind.
DRAWERS: tuple[Callable, ...] = (_draw_speaker, _draw_mug, _draw_ball, _draw_bottle, _draw_book)
KINDS = ("speaker", "mug", "ball", "bottle", "book")
