"""A classic-layout dataset (the sample, or anyone's) written in the other formats people export: YOLO
segmentation, labelme, VIA and Pascal VOC segmentation. Its instances are the ones ingestion reads from it
(dataset/seed_convert.py), so each copy holds the same examples and instances; polygons are the instances'
outer contours (one polygon an object where a format has one: its largest piece). Test photos without a mask
stay unlabelled in every format (a folder no annotation lists); background photos are listed without objects.
"""
from __future__ import annotations

import dataclasses
import json
import posixpath
from pathlib import Path

import numpy as np

from dataset.labelmap import LabelMap

FORMATS = ("yolo", "labelme", "via", "voc-seg")
SPLIT_FOLDERS = {"train": "train", "eval": "val"}


@dataclasses.dataclass(frozen=True)
class Photo:
    split: str  # "train" | "eval"
    name: str  # file name
    data: bytes
    width: int
    height: int
    instances: tuple  # records.Instance


def read_classic(classic_dir: str) -> tuple[LabelMap, list[Photo], list[str]]:
    """(label map, labelled photos, unlabelled photo paths) of a classic-layout folder, as ingestion reads it."""
    from dataset import plan as planning, seed_convert
    from dataset.records import RejectError

    plan = planning.plan_ingest(classic_dir, planning.IngestOptions(format="seed"))
    photos = []
    for item in plan.items:
        try:
            if item.reject_reason:
                raise RejectError(item.reject_reason)
            converted = seed_convert.convert_seed_item(item, plan.label_map, plan.options.min_instance_area)
        except RejectError as e:
            raise ValueError(f"{item.path}: {e}") from e
        image = converted.image
        photos.append(Photo(item.split, posixpath.basename(item.rel_path), image.data, image.width, image.height,
                            tuple(converted.instances)))
    return plan.label_map, photos, list(plan.unlabelled)


def polygons(mask: np.ndarray) -> list[list[float]]:
    """The outer contours of a 0/1 mask as flat [x0, y0, x1, y1, ...] lists, largest first."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = [c.reshape(-1, 2) for c in sorted(contours, key=cv2.contourArea, reverse=True) if len(c) >= 3]
    return [c.astype(float).ravel().tolist() for c in found]


def _stem(name: str) -> str:
    return posixpath.splitext(name)[0]


def write_yolo(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    import yaml

    yolo_id = {c.id: index for index, c in enumerate(label_map.classes)}  # YOLO numbers the classes from 0
    for photo in photos:
        folder = SPLIT_FOLDERS[photo.split]
        _write(out / "images" / folder / photo.name, photo.data)
        lines = []
        for inst in photo.instances:
            points = polygons(inst.mask)[0]
            scaled = [v / (photo.width if i % 2 == 0 else photo.height) for i, v in enumerate(points)]
            lines.append(" ".join([str(yolo_id[inst.class_id])] + [f"{v:.6f}" for v in scaled]))
        if lines:  # a background photo has no label file, as Ultralytics writes it
            _write(out / "labels" / folder / f"{_stem(photo.name)}.txt", "\n".join(lines) + "\n")
    for path in unlabelled:
        _write(out / "images" / "unlabelled" / Path(path).name, Path(path).read_bytes())
    names = {yolo_id[c.id]: c.name for c in label_map.classes}
    _write(out / "data.yaml", yaml.safe_dump({"train": "images/train", "val": "images/val", "names": names},
                                             sort_keys=False))


def write_labelme(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    for photo in photos:
        folder = out / SPLIT_FOLDERS[photo.split]
        _write(folder / photo.name, photo.data)
        found = []
        for group, inst in enumerate(photo.instances):
            pieces = polygons(inst.mask)
            found += [{"label": inst.class_name, "points": np.reshape(p, (-1, 2)).tolist(),
                       "group_id": group if len(pieces) > 1 else None, "description": "", "shape_type": "polygon",
                       "flags": {}, "mask": None} for p in pieces]
        _write(folder / f"{_stem(photo.name)}.json", json.dumps({
            "version": "5.5.0", "flags": {}, "shapes": found, "imagePath": photo.name, "imageData": None,
            "imageHeight": photo.height, "imageWidth": photo.width}, indent=1))
    for path in unlabelled:
        _write(out / "val" / Path(path).name, Path(path).read_bytes())
    _write(out / "labels.txt", "".join(f"{n}\n" for n in ("__ignore__", "_background_", *label_map.names)))


def write_via(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    projects: dict[str, dict] = {}
    for photo in photos:
        folder = SPLIT_FOLDERS[photo.split]
        _write(out / folder / photo.name, photo.data)
        regions = []
        for inst in photo.instances:
            xs, ys = np.reshape(polygons(inst.mask)[0], (-1, 2)).T
            regions.append({"shape_attributes": {"name": "polygon", "all_points_x": xs.astype(int).tolist(),
                                                 "all_points_y": ys.astype(int).tolist()},
                            "region_attributes": {"class": inst.class_name}})
        projects.setdefault(folder, {})[f"{photo.name}{len(photo.data)}"] = {
            "filename": photo.name, "size": len(photo.data), "regions": regions, "file_attributes": {}}
    for folder, entries in projects.items():
        _write(out / folder / "via_region_data.json", json.dumps(entries))
    for path in unlabelled:
        _write(out / "val" / Path(path).name, Path(path).read_bytes())


def write_voc_segmentation(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    """VOC's folders as datumaro exports them: palette PNGs in VOC's colours, labelmap.txt, the split lists; a
    background photo has masks all 0."""
    from dataset.voc_segmentation import CLASSES, LABELMAP_FILE, LISTS, OBJECTS, PHOTOS, voc_colormap

    palette = voc_colormap()
    index = {c.id: i for i, c in enumerate(label_map.classes, start=1)}  # 0 is the background
    ids: dict[str, list[str]] = {"train": [], "eval": []}
    for photo in photos:
        stem = _stem(photo.name)
        if stem in ids["train"] + ids["eval"]:  # VOC's ids are unique; the classic folders' names per folder
            stem = f"{SPLIT_FOLDERS[photo.split]}_{stem}"
        objects, classes = (np.zeros((photo.height, photo.width), np.uint8) for _ in range(2))
        for number, inst in enumerate(photo.instances, start=1):
            objects[inst.mask > 0], classes[inst.mask > 0] = number, index[inst.class_id]
        _write(out / PHOTOS / f"{stem}{posixpath.splitext(photo.name)[1]}", photo.data)
        _write(out / OBJECTS / f"{stem}.png", _palette_png(objects, palette))
        _write(out / CLASSES / f"{stem}.png", _palette_png(classes, palette))
        ids[photo.split].append(stem)
    for path in unlabelled:  # VOC's test list: photos without masks
        _write(out / PHOTOS / Path(path).name, Path(path).read_bytes())
    lists = {"train": ids["train"], "val": ids["eval"], "trainval": ids["train"] + ids["eval"],
             "test": [_stem(Path(p).name) for p in unlabelled]}
    for name, listed in lists.items():
        _write(out / LISTS / f"{name}.txt", "".join(f"{i}\n" for i in listed))
    lines = [f"{n}:{','.join(map(str, palette[i]))}::\n" for i, n in enumerate(("background", *label_map.names))]
    _write(out / LABELMAP_FILE, "# label:color_rgb:parts:actions\n" + "".join(lines))


def _palette_png(array: np.ndarray, palette) -> bytes:
    import io

    from PIL import Image

    image = Image.fromarray(array)
    image.putpalette([v for colour in palette for v in colour])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")


WRITERS = {"yolo": write_yolo, "labelme": write_labelme, "via": write_via, "voc-seg": write_voc_segmentation}


def generate_as(fmt: str, output_dir, generate, arguments: dict):
    """sample.generate's dataset (`generate(folder, **arguments)`) written as `fmt` into output_dir."""
    import tempfile

    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt}; the sample is written as seed or {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory() as classic:
        summary = generate(Path(classic) / "dataset", **arguments)
        write(fmt, str(Path(classic) / "dataset"), str(output_dir))
    return dataclasses.replace(summary, output_dir=str(output_dir), num_voc_files=0)


def write(fmt: str, classic_dir: str, out: str) -> None:
    """The classic-layout folder `classic_dir` written as `fmt` (one of FORMATS) into `out`."""
    label_map, photos, unlabelled = read_classic(str(classic_dir))
    WRITERS[fmt](Path(out), label_map, photos, unlabelled)
