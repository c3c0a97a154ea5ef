"""YOLO segmentation's own files, read as Ultralytics reads them (dataset/formats/yolo.py lists and converts the
dataset with them): the data.yaml (found by its keys, its names as the label map, its split entries resolved),
where an image's label file lies (img2label_paths) and a label file's lines (verify_image_label)."""

from __future__ import annotations

import posixpath

from dataset import shapes
from dataset.annotation_listing import full, is_image, join_rel, walk
from dataset.labelmap import LABEL_MAP_FILE_NAMES, LabelMap, LabelMapError
from dataset.records import IngestError, RejectError
from storage import fileio

SPLIT_KEYS = {"train": "train", "val": "eval", "test": "eval"}
LABEL_CACHE = ".cache"  # Ultralytics' own cache of a split's labels, written beside them


def load_yaml(path: str):
    import yaml

    try:
        return yaml.safe_load(fileio.read_text(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def find_yaml(dataset_dir: str) -> str:
    """The relative path of the dataset's yaml with `names` (data.yaml, or any .yaml at the top), or ""."""
    candidates = sorted(
        name
        for name, is_dir in fileio.list_entries(dataset_dir)
        if not is_dir and name.lower().endswith((".yaml", ".yml")) and name not in LABEL_MAP_FILE_NAMES
    )
    candidates.sort(key=lambda name: name not in ("data.yaml", "dataset.yaml"))
    for name in candidates:
        data = load_yaml(full(dataset_dir, name))
        if isinstance(data, dict) and "names" in data and any(key in data for key in SPLIT_KEYS):
            return name
    return ""


def label_map(data: dict, path: str) -> LabelMap:
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
        raise LabelMapError(
            f"{path}: the class ids of 'names' must be 0..{len(names) - 1}, as YOLO numbers them; "
            f"they are {', '.join(map(str, sorted(names)))}"
        )
    return LabelMap.from_coco_categories(categories, source=path)


def base_folder(dataset_dir: str, data: dict) -> str:
    """The folder the split entries are relative to (relative to the dataset folder)."""
    path = str(data.get("path") or "").replace("\\", "/")
    if path and not posixpath.isabs(path) and not path.startswith(".."):
        rel = join_rel("", path)
        if rel != "." and fileio.isdir(full(dataset_dir, rel)):
            return rel
    return ""


def resolve_entry(dataset_dir: str, base: str, entry: str, yaml_name: str) -> str:
    entry = str(entry).replace("\\", "/")
    tries = [entry, entry[3:]] if entry.startswith("../") else [entry]
    for candidate in tries:
        rel = join_rel(base, candidate)
        if not rel.startswith("..") and rel != "." and fileio.exists(full(dataset_dir, rel)):
            return rel
    raise IngestError(
        f"{full(dataset_dir, yaml_name)}: the split entry {entry} is neither a folder nor a list of "
        f"images in {full(dataset_dir, base)}"
    )


def images_of(dataset_dir: str, rel: str, rejects: list) -> tuple[list[str], set[str]]:
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


def labels_root(image_root: str) -> str:
    """Where the label files of an image folder are: its last images/ made labels/ (beside them without one)."""
    head, sep, tail = f"{image_root}/".rpartition("images/")
    return f"{head}labels/{tail}".rstrip("/") if sep else image_root


def image_root(folder: str) -> str:
    parts = folder.split("/")
    return "/".join(parts[: len(parts) - parts[::-1].index("images")]) if "images" in parts else folder


BOX_ONLY_REASON = (
    "is a box (class x_centre y_centre width height), a YOLO detection label: Mask R-CNN learns from masks. "
    "Label the object as a polygon (a segmentation project: Ultralytics' `yolo task=segment`, CVAT's, Roboflow's "
    "instance segmentation export)"
)


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
            raise RejectError(
                f"{where}: class {tokens[0]} is not one of the ids 0..{len(by_source_id) - 1} "
                f"of 'names' in {posixpath.basename(names_file)}"
            )
        coords = [_number(t, where) for t in tokens[1:]]
        if len(coords) == 4:
            raise RejectError(f"{where} {BOX_ONLY_REASON}")
        if len(coords) < 6 or len(coords) % 2:
            raise RejectError(f"{where}: a polygon needs at least 3 (x, y) pairs; it has {len(coords)} numbers")
        if min(coords) < 0 or max(coords) > 1:
            raise RejectError(
                f"{where}: coordinates must be fractions of the image's width and height (0 to 1), "
                f"as YOLO writes them; it has {min(coords):g} to {max(coords):g}"
            )
        polygon = [v * (width if i % 2 == 0 else height) for i, v in enumerate(coords)]
        found.append(shapes.Shape(where, cls, [polygon]))
    return found
