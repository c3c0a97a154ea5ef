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

from dataset import records, shapes
from dataset.annotation_listing import full, is_image, join_rel, unlisted_files, walk
from dataset.formats.registry import SPLIT_FOLDERS, DatasetFormat, Photo, register, write_file
from dataset.labelmap import LABEL_MAP_FILE_NAMES, LabelMap, LabelMapError
from dataset.records import Converted, IngestError, Listing, RejectError, WorkItem
from storage import fileio

SPLIT_KEYS = {"train": "train", "val": "eval", "test": "eval"}
LABEL_CACHE = ".cache"  # Ultralytics' own cache of a split's labels, written beside them


@dataclasses.dataclass(frozen=True)
class YoloFiles:
    """A YOLO image's own fields (its WorkItem's source)."""
    label_path: str  # "" when it has no label file: a background photo
    names_file: str  # the yaml naming the classes, for reasons


def _load_yaml(path: str):
    import yaml

    try:
        return yaml.safe_load(fileio.read_text(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def find_yaml(dataset_dir: str) -> str:
    """The relative path of the dataset's yaml with `names` (data.yaml, or any .yaml at the top), or ""."""
    candidates = sorted(name for name, is_dir in fileio.list_entries(dataset_dir) if not is_dir
                        and name.lower().endswith((".yaml", ".yml")) and name not in LABEL_MAP_FILE_NAMES)
    candidates.sort(key=lambda name: name not in ("data.yaml", "dataset.yaml"))
    for name in candidates:
        data = _load_yaml(full(dataset_dir, name))
        if isinstance(data, dict) and "names" in data and any(key in data for key in SPLIT_KEYS):
            return name
    return ""


def looks_like_yolo(dataset_dir: str) -> bool:
    return bool(find_yaml(dataset_dir))


def _label_map(data: dict, path: str) -> LabelMap:
    names = data["names"]
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise LabelMapError(f"{path}: 'names' must be a list of class names or a mapping of class ids to names")
    categories = []
    for key, name in names.items():
        if isinstance(key, bool) or not isinstance(key, int) or key < 0 or not str(name or "").strip():
            raise LabelMapError(f"{path}: names entry {key}: {name} needs a class id from 0 and a non-empty name")
        categories.append({"id": key, "name": str(name).strip()})
    if sorted(names) != list(range(len(names))):
        raise LabelMapError(f"{path}: the class ids of 'names' must be 0..{len(names) - 1}, as YOLO numbers them; "
                            f"they are {', '.join(map(str, sorted(names)))}")
    return LabelMap.from_coco_categories(categories, source=path)


def _base(dataset_dir: str, data: dict) -> str:
    """The folder the split entries are relative to (relative to the dataset folder)."""
    path = str(data.get("path") or "").replace("\\", "/")
    if path and not posixpath.isabs(path) and not path.startswith(".."):
        rel = join_rel("", path)
        if rel != "." and fileio.isdir(full(dataset_dir, rel)):
            return rel
    return ""


def _resolve(dataset_dir: str, base: str, entry: str, yaml_name: str) -> str:
    entry = str(entry).replace("\\", "/")
    tries = [entry, entry[3:]] if entry.startswith("../") else [entry]
    for candidate in tries:
        rel = join_rel(base, candidate)
        if not rel.startswith("..") and rel != "." and fileio.exists(full(dataset_dir, rel)):
            return rel
    raise IngestError(f"{full(dataset_dir, yaml_name)}: the split entry {entry} is neither a folder nor a list of "
                      f"images in {full(dataset_dir, base)}")


def _images_of(dataset_dir: str, rel: str, rejects: list) -> tuple[list[str], set[str]]:
    """(images, image folders) of a split entry: a folder's images at any depth, or a .txt list's."""
    if fileio.isdir(full(dataset_dir, rel)):
        return sorted(r for r, hidden in walk(dataset_dir, rel) if not hidden and is_image(r)), {rel}
    folder = posixpath.dirname(rel)
    listed = []
    for line in fileio.read_text(full(dataset_dir, rel)).splitlines():
        line = line.strip()
        if line:
            listed.append(join_rel(folder, line[2:] if line.startswith("./") else line))
    return listed, {posixpath.dirname(image) for image in listed}


def label_of(image_rel: str) -> str:
    """Ultralytics' img2label_paths: the last images/ made labels/, the extension .txt."""
    head, sep, tail = image_rel.rpartition("images/")
    return posixpath.splitext(f"{head}labels/{tail}" if sep else image_rel)[0] + ".txt"


def _labels_root(image_root: str) -> str:
    """Where the label files of an image folder are: its last images/ made labels/ (beside them without one)."""
    head, sep, tail = f"{image_root}/".rpartition("images/")
    return f"{head}labels/{tail}".rstrip("/") if sep else image_root


def _image_root(folder: str) -> str:
    parts = folder.split("/")
    return "/".join(parts[:len(parts) - parts[::-1].index("images")]) if "images" in parts else folder


def list_yolo_inputs(dataset_dir: str, eval_fraction: float) -> Listing:
    dataset_dir = str(dataset_dir)
    yaml_name = find_yaml(dataset_dir)
    if not yaml_name:
        raise IngestError(f"{dataset_dir}: no YOLO data.yaml (a .yaml with 'names' and 'train'/'val')")
    yaml_path = full(dataset_dir, yaml_name)
    data = _load_yaml(yaml_path)
    label_map = _label_map(data, yaml_path)
    base = _base(dataset_dir, data)
    rejects: list[tuple[str, str, str]] = []
    split_of: dict[str, str] = {}
    roots: set[str] = set()
    for key, split in SPLIT_KEYS.items():
        entries = data.get(key) or []
        for entry in entries if isinstance(entries, list) else [entries]:
            found, folders = _images_of(dataset_dir, _resolve(dataset_dir, base, entry, yaml_name), rejects)
            roots |= {_image_root(folder) for folder in folders}
            for image in found:
                if split_of.get(image, split) != split:
                    rejects.append((full(dataset_dir, image), "listed in both the train split and an eval split "
                                                              f"of {yaml_name}", "train"))
                split_of[image] = split
    if not split_of:
        raise IngestError(f"{yaml_path}: its splits list no image")
    hashed = "eval" not in split_of.values()
    in_labels = {rel for root in roots for rel, hidden in walk(dataset_dir, _labels_root(root))
                 if not hidden and not is_image(rel)}
    labels = {rel for rel in in_labels if rel.endswith(".txt")}
    items = []
    for image, split in sorted(split_of.items()):
        label = label_of(image)
        source = YoloFiles(full(dataset_dir, label) if label in labels else "", yaml_path)
        items.append(WorkItem(image, full(dataset_dir, image), records.hash_split(image, eval_fraction) if hashed
                              else split, FORMAT.name, source))
    rejected = {path for path, _, _ in rejects}
    items = [item for item in items if item.path not in rejected]
    ignored = [full(dataset_dir, rel) for rel in in_labels if rel.endswith(LABEL_CACHE)]
    for rel in sorted(in_labels - labels - {r for r in in_labels if r.endswith(LABEL_CACHE)}):
        rejects.append((full(dataset_dir, rel), "not a YOLO label file (.txt) in the labels folder",
                        records.hash_split(rel, eval_fraction)))
    for rel in sorted(labels - {label_of(image) for image in split_of}):
        rejects.append((full(dataset_dir, rel), f"label file of no image listed in the splits of {yaml_name}",
                        records.hash_split(rel, eval_fraction)))
    unlabelled, hidden = unlisted_files(dataset_dir, roots, set(split_of), eval_fraction, rejects, deep=True)
    items += [WorkItem(path, path, split, FORMAT.name, reject_reason=reason) for path, reason, split in rejects]
    items.sort(key=lambda item: item.rel_path)
    return Listing(label_map, tuple(items), tuple(sorted(unlabelled)), tuple(sorted(hidden + ignored)),
                   "hash_split" if hashed else "annotation_files")


# --- conversion (in the Beam workers) ---------------------------------------------------------------------
BOX_ONLY_REASON = (
    "is a box (class x_centre y_centre width height), a YOLO detection label: Mask R-CNN learns from masks. "
    "Label the object as a polygon (a segmentation project: Ultralytics' `yolo task=segment`, CVAT's, Roboflow's "
    "instance segmentation export)")


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise RejectError(f"{where}: {text!r} is not a number") from None


def parse_label(text: str, name: str, label_map: LabelMap, names_file: str, width: int, height: int):
    """The shapes of a label file's text, polygons in pixels."""
    by_source_id = label_map.by_source_id
    found, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tuple(tokens) in seen:
            continue
        seen.add(tuple(tokens))
        where = f"line {number} of {name}"
        class_id = _number(tokens[0], where)
        cls = by_source_id.get(int(class_id)) if class_id.is_integer() else None
        if cls is None:
            raise RejectError(f"{where}: class {tokens[0]} is not one of the ids 0..{len(by_source_id) - 1} "
                              f"of 'names' in {posixpath.basename(names_file)}")
        coords = [_number(t, where) for t in tokens[1:]]
        if len(coords) == 4:
            raise RejectError(f"{where} {BOX_ONLY_REASON}")
        if len(coords) < 6 or len(coords) % 2:
            raise RejectError(f"{where}: a polygon needs at least 3 (x, y) pairs; it has {len(coords)} numbers")
        if min(coords) < 0 or max(coords) > 1:
            raise RejectError(f"{where}: coordinates must be fractions of the image's width and height (0 to 1), "
                              f"as YOLO writes them; it has {min(coords):g} to {max(coords):g}")
        polygon = [v * (width if i % 2 == 0 else height) for i, v in enumerate(coords)]
        found.append(shapes.Shape(where, cls, [polygon]))
    return found


def convert_yolo_item(item: WorkItem, label_map: LabelMap) -> Converted:
    image = shapes.read_image(item.path, "the splits of the YOLO data.yaml")
    if not item.source.label_path:
        return Converted(image, [])
    name = posixpath.basename(item.source.label_path.replace("\\", "/"))
    try:
        text = fileio.read_text(item.source.label_path)
    except (OSError, UnicodeDecodeError) as e:
        raise RejectError(f"cannot read the label file {name}: {e}") from e
    found = parse_label(text, name, label_map, item.source.names_file, image.width, image.height)
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
    write_file(out / "data.yaml", yaml.safe_dump({"train": "images/train", "val": "images/val", "names": names},
                                                 sort_keys=False))


FORMAT = register(DatasetFormat(
    name="yolo", help="YOLO segmentation (data.yaml + images/ + labels/)", rank=2, looks_like=looks_like_yolo,
    list_inputs=list_yolo_inputs, convert=lambda item, given: convert_yolo_item(item, given.label_map),
    write_sample=write_yolo))
