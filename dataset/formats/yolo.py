"""YOLO segmentation datasets, as Ultralytics reads them (ultralytics/data/utils.py: check_det_dataset,
img2label_paths, verify_image_label).

    data.yaml            names: {0: speaker, 1: mug} (or a list); train: images/train; val: images/val [test: ...]
    images/train/x.jpg   labels/train/x.txt: one object a line, `class x1 y1 x2 y2 ...`, fractions of the size

A split's entry is a folder (its images at any depth), a .txt file listing images (relative to its own folder)
or a list of these, relative to the yaml's folder (or to its `path:` when that lies in the dataset; `../train`
read as `train`, as Ultralytics reads Roboflow's exports). An image's label file is its path with the last
`images/` made `labels/` and the extension `.txt`; an image without one is a background photo (a negative
example), as Ultralytics takes it. val and test feed the eval split; with neither, train is hash-split. Images
under the image folders that no split lists are unlabelled (kept for prediction); label files of no listed
image are rejects. Class ids: the positions in `names`, as ids 1..N, the YOLO id kept as `source_id`.

The label file is read as Ultralytics' verify_image_label reads it: one object a line, `class x1 y1 x2 y2 ...` in
fractions of the width and height, duplicate lines dropped; a missing or empty file is a background photo. A line
of a box only (`class x y w h`, a detection label) is rejected: Mask R-CNN learns from masks.
"""

from __future__ import annotations

import dataclasses
import posixpath
from pathlib import Path

from dataset import records, shapes, yolo_files
from dataset.annotation_listing import full, is_image, unlisted_files, walk
from dataset.formats.registry import SPLIT_FOLDERS, DatasetFormat, Photo, register, write_file
from dataset.labelmap import LabelMap
from dataset.records import Converted, IngestError, Listing, RejectError, WorkItem
from storage import fileio


@dataclasses.dataclass(frozen=True)
class YoloFiles:
    """A YOLO image's own fields (its WorkItem's source)."""

    label_path: str  # "" when it has no label file: a background photo
    names_file: str  # the yaml naming the classes, for reasons


def looks_like_yolo(dataset_dir: str) -> bool:
    return bool(yolo_files.find_yaml(dataset_dir))


def list_yolo_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    yaml_name = yolo_files.find_yaml(dataset_dir)
    if not yaml_name:
        raise IngestError(f"{dataset_dir}: no YOLO data.yaml (a .yaml with 'names' and 'train'/'val')")
    yaml_path = full(dataset_dir, yaml_name)
    data = yolo_files.load_yaml(yaml_path)
    label_map = yolo_files.label_map(data, yaml_path)
    base = yolo_files.base_folder(dataset_dir, data)
    rejects: list[tuple[str, str, str]] = []
    split_of: dict[str, str] = {}
    roots: set[str] = set()
    for key, split in yolo_files.SPLIT_KEYS.items():
        entries = data.get(key) or []
        for entry in entries if isinstance(entries, list) else [entries]:
            rel = yolo_files.resolve_entry(dataset_dir, base, entry, yaml_name)
            found, folders = yolo_files.images_of(dataset_dir, rel, rejects)
            roots |= {yolo_files.image_root(folder) for folder in folders}
            for image in found:
                if split_of.get(image, split) != split:
                    rejects.append(
                        (
                            full(dataset_dir, image),
                            f"listed in both the train split and an eval split of {yaml_name}",
                            "train",
                        )
                    )
                split_of[image] = split
    if not split_of:
        raise IngestError(f"{yaml_path}: its splits list no image")
    hashed = "eval" not in split_of.values()
    in_labels = {
        rel
        for root in roots
        for rel, hidden in walk(dataset_dir, yolo_files.labels_root(root))
        if not hidden and not is_image(rel)
    }
    labels = {rel for rel in in_labels if rel.endswith(".txt")}
    items = []
    for image, split in sorted(split_of.items()):
        label = yolo_files.label_of(image)
        source = YoloFiles(full(dataset_dir, label) if label in labels else "", yaml_path)
        items.append(
            WorkItem(
                image,
                full(dataset_dir, image),
                records.hash_split(image, eval_fraction) if hashed else split,
                FORMAT.name,
                source,
            )
        )
    rejected = {path for path, _, _ in rejects}
    items = [item for item in items if item.path not in rejected]
    ignored = [full(dataset_dir, rel) for rel in in_labels if rel.endswith(yolo_files.LABEL_CACHE)]
    for rel in sorted(in_labels - labels - {r for r in in_labels if r.endswith(yolo_files.LABEL_CACHE)}):
        rejects.append(
            (
                full(dataset_dir, rel),
                "not a YOLO label file (.txt) in the labels folder",
                records.hash_split(rel, eval_fraction),
            )
        )
    for rel in sorted(labels - {yolo_files.label_of(image) for image in split_of}):
        rejects.append(
            (
                full(dataset_dir, rel),
                f"label file of no image listed in the splits of {yaml_name}",
                records.hash_split(rel, eval_fraction),
            )
        )
    unlabelled, hidden = unlisted_files(dataset_dir, roots, set(split_of), eval_fraction, rejects, deep=True)
    items += [WorkItem(path, path, split, FORMAT.name, reject_reason=reason) for path, reason, split in rejects]
    items.sort(key=lambda item: item.rel_path)
    return Listing(
        label_map,
        tuple(items),
        tuple(sorted(unlabelled)),
        tuple(sorted(hidden + ignored)),
        "hash_split" if hashed else "annotation_files",
    )


# --- conversion (in the Beam workers) ---------------------------------------------------------------------
def convert_yolo_item(item: WorkItem, label_map: LabelMap) -> Converted:
    image = shapes.read_image(item.path, "the splits of the YOLO data.yaml")
    if not item.source.label_path:
        return Converted(image, [])
    name = posixpath.basename(item.source.label_path.replace("\\", "/"))
    try:
        text = fileio.read_text(item.source.label_path)
    except (OSError, UnicodeDecodeError) as e:
        raise RejectError(f"cannot read the label file {name}: {e}") from e
    found = yolo_files.parse_label(text, name, label_map, item.source.names_file, image.width, image.height)
    return Converted(image, shapes.to_instances(found, image.height, image.width))


def write_yolo(out: Path, label_map: LabelMap, photos: list[Photo], unlabelled: list[str]) -> None:
    import yaml

    yolo_id = {c.id: index for index, c in enumerate(label_map.classes)}  # YOLO numbers the classes from 0
    for photo in photos:
        folder = SPLIT_FOLDERS[photo.split]
        write_file(out / "images" / folder / photo.name, photo.data)
        lines = []
        for inst in photo.instances:
            points = shapes.polygons(inst.mask)[0]
            scaled = [v / (photo.width if i % 2 == 0 else photo.height) for i, v in enumerate(points)]
            lines.append(" ".join([str(yolo_id[inst.class_id])] + [f"{v:.6f}" for v in scaled]))
        if lines:  # a background photo has no label file, as Ultralytics writes it
            write_file(out / "labels" / folder / f"{posixpath.splitext(photo.name)[0]}.txt", "\n".join(lines) + "\n")
    for path in unlabelled:
        write_file(out / "images" / "unlabelled" / Path(path).name, Path(path).read_bytes())
    names = {yolo_id[c.id]: c.name for c in label_map.classes}
    write_file(
        out / "data.yaml",
        yaml.safe_dump({"train": "images/train", "val": "images/val", "names": names}, sort_keys=False),
    )


FORMAT = register(
    DatasetFormat(
        name="yolo",
        help="YOLO segmentation (data.yaml + images/ + labels/)",
        rank=2,
        looks_like=looks_like_yolo,
        list_inputs=list_yolo_inputs,
        convert=lambda item, given: convert_yolo_item(item, given.label_map),
        write_sample=write_yolo,
    )
)
