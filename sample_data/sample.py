"""A deterministic sample dataset in the classic tutorial layout.

    <out>/label.pbtxt                    item { id: 1 name: 'speaker076' } ...
    <out>/train_images/train_0000.jpg    photos (landscape and portrait, of one or several sizes)
    <out>/train_masks/train_0000.png     RGB colour masks; the grayscale value of a class's colour is its value
    <out>/train_bboxes/train_0003.xml    labelImg Pascal VOC boxes for some images
    <out>/test_images/test_0000.jpg      with test_masks/ -> the eval split
    <out>/test_images/unlabelled_0000.jpg  no mask: kept for prediction only
    <out>/train_images/background_0000.jpg  (num_background) no object, mask all 0: a negative example

The classes (names and mask colours) are the caller's: `--class boombox:255,0,0
--class tumbler:0,0,230`; the pictures come from sample_data/scene.py. Objects
never touch, so each connected component of a class is one object. Every image
is drawn from its own random generator seeded by (seed, split, index): the same
arguments always give the same files.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from dataset import formats
from dataset.formats import seed
from sample_data.labelimg import voc_xml
from sample_data.sample_classes import DEFAULT_CLASSES, SampleClass, check_classes
from sample_data.sample_formats import FORMATS as SAMPLE_FORMATS
from sample_data.scene import KINDS, render_scene

SEED = seed.FORMAT.name  # the layout the sample is generated in
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
    sizes: tuple[tuple[int, int], ...] = ((512, 384),),
    seed: int = 0,
    classes: tuple[SampleClass, ...] = DEFAULT_CLASSES,
    voc_fraction: float = 0.3,
    portrait_fraction: float = 0.15,
    workers: int = 1,
    num_background: int = 0,
    border_gaps: tuple[int, ...] = (),
    format: str = SEED,
) -> SampleSummary:
    """Writes the dataset into `output_dir` (created; existing files are overwritten).

    sizes: (width, height) of the landscape photos; each photo takes one at random, then is turned to
    portrait with probability `portrait_fraction`. voc_fraction 0 writes no VOC file. border_gaps: each photo's
    first object lies against the border with one of these gaps (sample_data/scene.py). format: SEED or one of
    sample_data/sample_formats.py's FORMATS.
    """
    if format != SEED:  # the classic folder, then written in the format (sample_data/sample_formats.py)
        arguments = {k: v for k, v in locals().items() if k not in ("output_dir", "format")}
        from sample_data.sample_formats import generate_as

        return generate_as(format, output_dir, generate, arguments)
    classes = tuple(classes)
    check_classes(classes)
    out = Path(output_dir)
    for sub in ("train_images", "train_masks", "train_bboxes", "test_images", "test_masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    write_label_pbtxt(out / "label.pbtxt", classes)

    jobs = [("train", i) for i in range(num_train)]
    jobs += [("test", i) for i in range(num_test)]
    jobs += [("unlabelled", i) for i in range(num_unlabelled)]
    task = _ImageTask(str(out), tuple(sizes), seed, classes, voc_fraction, portrait_fraction, tuple(border_gaps))
    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(task, jobs, chunksize=16)
    else:
        results = [task(job) for job in jobs]
    _write_backgrounds(out, num_background, next(iter(sizes)), seed)
    return SampleSummary(
        output_dir=str(out),
        num_train=num_train,
        num_test=num_test,
        num_unlabelled=num_unlabelled,
        num_objects=sum(r[0] for r in results),
        num_voc_files=sum(r[1] for r in results),
    )


def _write_backgrounds(out: Path, count: int, size: tuple[int, int], seed: int) -> None:
    import cv2

    from sample_data.scene import render_background

    for folder, code in (("train", 4), ("test", 5)):
        for index in range(count):
            photo = render_background(np.random.default_rng([seed, code, index]), *size)
            stem = f"background_{index:04d}"
            cv2.imwrite(
                str(out / f"{folder}_images" / f"{stem}.jpg"),
                cv2.cvtColor(photo, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92],
            )
            cv2.imwrite(str(out / f"{folder}_masks" / f"{stem}.png"), np.zeros(photo.shape[:2], np.uint8))


def write_label_pbtxt(path: Path, classes: tuple[SampleClass, ...]) -> None:
    items = [f"item {{\n  id: {i}\n  name: '{c.name}{c.pixel_value:03d}'\n}}\n" for i, c in enumerate(classes, 1)]
    path.write_text("".join(items), encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class _ImageTask:
    """One image with its mask (and VOC file); picklable for a process pool."""

    output_dir: str
    sizes: tuple[tuple[int, int], ...]
    seed: int
    classes: tuple[SampleClass, ...]
    voc_fraction: float
    portrait_fraction: float
    border_gaps: tuple[int, ...] = ()

    def __call__(self, job: tuple[str, int]) -> tuple[int, int]:
        import cv2

        split, index = job
        rng = np.random.default_rng([self.seed, _SPLIT_CODES[split], index])
        width, height = self.sizes[int(rng.integers(len(self.sizes)))] if len(self.sizes) > 1 else self.sizes[0]
        if rng.random() < self.portrait_fraction:
            width, height = height, width
        kinds = tuple(KINDS.index(c.kind) if c.kind else i % len(KINDS) for i, c in enumerate(self.classes))
        photo, label, objects = render_scene(rng, width, height, kinds, self.border_gaps)

        out = Path(self.output_dir)
        folder = "train" if split == "train" else "test"
        stem = f"{split}_{index:04d}"
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
        if split == "train" and self.voc_fraction > 0 and (same_class_twice or rng.random() < self.voc_fraction):
            xml = voc_xml(f"{stem}.jpg", width, height, objects, self.classes, rng)
            (out / "train_bboxes" / f"{stem}.xml").write_text(xml, encoding="utf-8")
            wrote_voc = 1
        return len(objects), wrote_voc


# --- command line -----------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError("width and height must be at least 64")
    return w, h


def _class(text: str) -> SampleClass:
    name, _, rest = text.partition(":")
    colour, _, kind = rest.partition(":")
    try:
        rgb = tuple(int(v) for v in colour.split(","))
    except ValueError:
        rgb = ()
    if not name.strip() or len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise argparse.ArgumentTypeError(
            f"expected NAME:R,G,B[:KIND] with values 0-255, e.g. boombox:255,0,0; got {text!r}"
        )
    return SampleClass(name.strip(), rgb, kind.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="folder to write the dataset into")
    parser.add_argument("--num-train", type=int, default=48, help="training images (default 48)")
    parser.add_argument("--num-test", type=int, default=12, help="test images with masks (default 12)")
    parser.add_argument(
        "--num-unlabelled", type=int, default=2, help="test images without masks, kept for prediction (default 2)"
    )
    parser.add_argument(
        "--size",
        type=_size,
        action="append",
        dest="sizes",
        metavar="WIDTHxHEIGHT",
        help="photo size, repeatable: each photo takes one at random (default 512x384)",
    )
    parser.add_argument(
        "--portrait-fraction", type=float, default=0.15, help="share of photos turned to portrait (default 0.15)"
    )
    parser.add_argument(
        "--class",
        type=_class,
        action="append",
        dest="classes",
        metavar="NAME:R,G,B[:KIND]",
        help="a class, its mask colour and, optionally, how its objects look (one of "
        f"{', '.join(KINDS)}; default: by position), repeatable "
        "(default: speaker:255,0,0 mug:0,255,0)",
    )
    parser.add_argument(
        "--voc-fraction",
        type=float,
        default=0.3,
        help="share of training images with labelImg VOC boxes (default 0.3; 0: none)",
    )
    parser.add_argument(
        "--background",
        type=int,
        default=0,
        metavar="N",
        help="photos without any object per split, listed with no object (default 0)",
    )
    parser.add_argument(
        "--format",
        default=SEED,
        choices=(SEED, *SAMPLE_FORMATS),
        help=f"the layout to write: {SEED} (the classic folder, default) or another format's: "
        + "; ".join(f"{name}: {formats.FORMATS[name].help}" for name in SAMPLE_FORMATS),
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")


def main(args: argparse.Namespace) -> int:
    try:
        summary = generate(
            args.output,
            num_train=args.num_train,
            num_test=args.num_test,
            num_unlabelled=args.num_unlabelled,
            sizes=tuple(args.sizes or [(512, 384)]),
            seed=args.seed,
            classes=tuple(args.classes or DEFAULT_CLASSES),
            voc_fraction=args.voc_fraction,
            portrait_fraction=args.portrait_fraction,
            workers=args.workers,
            num_background=args.background,
            format=args.format,
        )
    except ValueError as e:
        print(f"maskrcnn-tfx sample-data: {e}", file=sys.stderr)
        return 2
    print(
        f"wrote {summary.num_train} train + {summary.num_test} test + {summary.num_unlabelled} unlabelled images "
        f"with {summary.num_objects} objects ({summary.num_voc_files} VOC files) to {summary.output_dir}"
    )
    return 0
