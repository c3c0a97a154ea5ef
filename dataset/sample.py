"""A deterministic sample dataset in the classic tutorial layout.

    <out>/label.pbtxt                    item { id: 1 name: 'speaker076' } ...
    <out>/train_images/train_0000.jpg    photos (some portrait)
    <out>/train_masks/train_0000.png     RGB colour masks; grayscale value = class pixel value
    <out>/train_bboxes/train_0003.xml    labelImg Pascal VOC boxes for some images
    <out>/test_images/test_0000.jpg      with test_masks/ -> the eval split
    <out>/test_images/unlabelled_0000.jpg  no mask: kept for prediction only

Objects are drawn with shading on textured gradient backgrounds; objects never
touch, so each connected component of a class is one object. Every image is
drawn from its own random generator seeded by (seed, split, index): the same
arguments always give the same files.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class SampleClass:
    name: str
    # RGB colour of the class in the masks; its ITU-R 601 luma is `pixel_value`.
    mask_rgb: tuple[int, int, int]
    pixel_value: int


# Pure red, green and blue: luma 76, 150 and 29 in both OpenCV's and PIL's
# grayscale conversion (checked by the tests).
SAMPLE_CLASSES = (
    SampleClass("speaker", (255, 0, 0), 76),
    SampleClass("mug", (0, 255, 0), 150),
    SampleClass("ball", (0, 0, 255), 29),
)

_SPLIT_CODES = {"train": 1, "test": 2, "unlabelled": 3}


@dataclasses.dataclass(frozen=True)
class SampleSummary:
    output_dir: str
    num_train: int
    num_test: int
    num_unlabelled: int
    num_objects: int
    num_voc_files: int


def generate(
    output_dir: str | os.PathLike,
    num_train: int = 48,
    num_test: int = 12,
    num_unlabelled: int = 2,
    size: tuple[int, int] = (512, 384),
    seed: int = 0,
    num_classes: int = 2,
    voc_fraction: float = 0.3,
    portrait_fraction: float = 0.15,
    workers: int = 1,
) -> SampleSummary:
    """Writes the dataset into `output_dir` (created; existing files are overwritten)."""
    if not 1 <= num_classes <= len(SAMPLE_CLASSES):
        raise ValueError(f"num_classes must be 1..{len(SAMPLE_CLASSES)}")
    out = Path(output_dir)
    for sub in ("train_images", "train_masks", "train_bboxes", "test_images", "test_masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    classes = SAMPLE_CLASSES[:num_classes]
    write_label_pbtxt(out / "label.pbtxt", classes)

    jobs = [("train", i) for i in range(num_train)]
    jobs += [("test", i) for i in range(num_test)]
    jobs += [("unlabelled", i) for i in range(num_unlabelled)]
    task = _ImageTask(str(out), size, seed, classes, voc_fraction, portrait_fraction)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(task, jobs, chunksize=16)
    else:
        results = [task(job) for job in jobs]
    return SampleSummary(
        output_dir=str(out),
        num_train=num_train,
        num_test=num_test,
        num_unlabelled=num_unlabelled,
        num_objects=sum(r[0] for r in results),
        num_voc_files=sum(r[1] for r in results),
    )


def write_label_pbtxt(path: Path, classes: tuple[SampleClass, ...]) -> None:
    items = [f"item {{\n  id: {i}\n  name: '{c.name}{c.pixel_value:03d}'\n}}\n" for i, c in enumerate(classes, 1)]
    path.write_text("".join(items), encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class _ImageTask:
    """One image with its mask (and VOC file); picklable for a process pool."""

    output_dir: str
    size: tuple[int, int]
    seed: int
    classes: tuple[SampleClass, ...]
    voc_fraction: float
    portrait_fraction: float

    def __call__(self, job: tuple[str, int]) -> tuple[int, int]:
        import cv2

        split, index = job
        rng = np.random.default_rng([self.seed, _SPLIT_CODES[split], index])
        width, height = self.size
        if rng.random() < self.portrait_fraction:
            width, height = height, width
        photo, label, objects = render_scene(rng, width, height, len(self.classes))

        out = Path(self.output_dir)
        prefix = "train" if split == "train" else ("test" if split == "test" else "unlabelled")
        folder = "train" if split == "train" else "test"
        stem = f"{prefix}_{index:04d}"
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        (out / f"{folder}_images" / f"{stem}.jpg").write_bytes(jpeg.tobytes())
        if split == "unlabelled":
            return 0, 0
        colours = np.zeros((256, 3), np.uint8)
        for i, c in enumerate(self.classes, 1):
            colours[i] = c.mask_rgb
        ok, png = cv2.imencode(".png", cv2.cvtColor(colours[label], cv2.COLOR_RGB2BGR))
        assert ok
        (out / f"{folder}_masks" / f"{stem}.png").write_bytes(png.tobytes())

        wrote_voc = 0
        same_class_twice = len({o.class_index for o in objects}) < len(objects)
        if split == "train" and (same_class_twice or rng.random() < self.voc_fraction):
            xml = voc_xml(f"{stem}.jpg", width, height, objects, self.classes, rng)
            (out / "train_bboxes" / f"{stem}.xml").write_text(xml, encoding="utf-8")
            wrote_voc = 1
        return len(objects), wrote_voc


@dataclasses.dataclass(frozen=True)
class DrawnObject:
    class_index: int  # 1-based index into the classes
    # x0, y0, x1, y1: the tight box of the object's mask pixels, inclusive
    box: tuple[int, int, int, int]


def render_scene(rng: np.random.Generator, width: int, height: int, num_classes: int):
    """Returns (photo RGB uint8, label map uint8 of class indices, objects)."""
    import cv2

    photo = _background(rng, width, height)
    label = np.zeros((height, width), np.uint8)
    objects: list[DrawnObject] = []
    taken: list[tuple[int, int, int, int]] = []
    base = min(width, height)

    if rng.random() < 0.35:  # several objects of one class
        plan = [int(rng.integers(1, num_classes + 1))] * int(rng.integers(2, 4))
    else:
        plan = [int(rng.integers(1, num_classes + 1)) for _ in range(int(rng.integers(1, 4)))]
    drawers: dict[int, Callable] = {1: _draw_speaker, 2: _draw_mug, 3: _draw_ball}
    margin = max(6, base // 40)
    for class_index in plan:
        shape, layer = drawers[class_index](rng, base)
        h, w = shape.shape
        if w + 2 * margin >= width or h + 2 * margin >= height:
            continue
        for _ in range(40):
            x0 = int(rng.integers(margin, width - w - margin))
            y0 = int(rng.integers(margin, height - h - margin))
            ys, xs = np.nonzero(shape)
            box = (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()), y0 + int(ys.max()))
            padded = (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
            if any(_intersects(padded, t) for t in taken):
                continue
            _composite(photo, x0, y0, shape, layer, rng)
            label[y0:y0 + h, x0:x0 + w][shape > 0] = class_index
            objects.append(DrawnObject(class_index, box))
            taken.append(padded)
            break

    noise = rng.standard_normal((height, width, 1), dtype=np.float32) * 2.5  # sensor noise
    photo += noise
    photo = cv2.GaussianBlur(photo, (3, 3), 0.6)
    return np.clip(photo, 0, 255).astype(np.uint8), label, objects


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
    alpha[y0 - ys:y0 - ys + h, x0 - xs:x0 - xs + w] = shape
    colour = np.zeros((ye - ys, xe - xs, 3), np.float32)
    colour[y0 - ys:y0 - ys + h, x0 - xs:x0 - xs + w] = layer
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
    cv2.ellipse(shape, (hx, h // 2), (handle, int(h * 0.28)), 0, 90 if left_handle else -90,
                270 if left_handle else 90, 1, thickness)

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


def voc_xml(filename: str, width: int, height: int, objects, classes, rng: np.random.Generator) -> str:
    """labelImg's Pascal VOC file; names with or without the 3-digit suffix, at random."""
    parts = [
        "<annotation>",
        "\t<folder>train_images</folder>",
        f"\t<filename>{filename}</filename>",
        f"\t<path>train_images/{filename}</path>",
        "\t<source>\n\t\t<database>Unknown</database>\n\t</source>",
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for obj in objects:
        c = classes[obj.class_index - 1]
        name = c.name if rng.random() < 0.5 else f"{c.name}{c.pixel_value:03d}"
        x0, y0, x1, y1 = obj.box
        pad = 2
        parts.append(
            "\t<object>\n"
            f"\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
            "\t\t<difficult>0</difficult>\n\t\t<bndbox>\n"
            f"\t\t\t<xmin>{max(0, x0 - pad)}</xmin>\n\t\t\t<ymin>{max(0, y0 - pad)}</ymin>\n"
            f"\t\t\t<xmax>{min(width - 1, x1 + pad)}</xmax>\n\t\t\t<ymax>{min(height - 1, y1 + pad)}</ymax>\n"
            "\t\t</bndbox>\n\t</object>"
        )
    parts.append("</annotation>\n")
    return "\n".join(parts)


# --- command line -----------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError("width and height must be at least 64")
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="folder to write the dataset into")
    parser.add_argument("--num-train", type=int, default=48, help="training images (default 48)")
    parser.add_argument("--num-test", type=int, default=12, help="test images with masks (default 12)")
    parser.add_argument("--num-unlabelled", type=int, default=2,
                        help="test images without masks, kept for prediction (default 2)")
    parser.add_argument("--size", type=_size, default=(512, 384), help="WIDTHxHEIGHT (default 512x384)")
    parser.add_argument("--classes", type=int, default=2, choices=range(1, len(SAMPLE_CLASSES) + 1),
                        help="number of classes: speaker, mug, ball (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")


def main(args: argparse.Namespace) -> int:
    summary = generate(
        args.output,
        num_train=args.num_train,
        num_test=args.num_test,
        num_unlabelled=args.num_unlabelled,
        size=args.size,
        seed=args.seed,
        num_classes=args.classes,
        workers=args.workers,
    )
    print(
        f"wrote {summary.num_train} train + {summary.num_test} test + {summary.num_unlabelled} unlabelled images "
        f"with {summary.num_objects} objects ({summary.num_voc_files} VOC files) to {summary.output_dir}"
    )
    return 0
