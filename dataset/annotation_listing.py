"""Listing helpers of the formats whose annotations are files of their own (COCO, YOLO segmentation, labelme,
VIA, Pascal VOC segmentation): paths relative to the dataset folder, a file's split from its path, JSON read
with the reason it cannot be, and the images that no annotation lists. Which format a JSON file is:
dataset/formats/registry.py's json_format."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable

from dataset import records
from dataset.images import EMPTY_FILE, IMAGE_EXTENSIONS
from dataset.records import RejectError
from storage import fileio

_TRAIN_ROLE = re.compile(r"train", re.IGNORECASE)
_EVAL_ROLE = re.compile(r"val|test|eval", re.IGNORECASE)
# Kept by the tools beside the images: Ultralytics' label caches, VOC's and labelImg's XML, notes
OWN_FILES = (".cache", ".xml", ".txt", ".yaml", ".yml", ".json", ".md")


def full(dataset_dir: str, rel: str) -> str:
    return fileio.join(dataset_dir, *rel.split("/")) if rel else str(dataset_dir)


def join_rel(root: str, name: str) -> str:
    """`name` (Windows separators too) under the relative folder `root`, normalised."""
    name = name.replace("\\", "/")
    return posixpath.normpath(posixpath.join(root, name) if root else name)


def role(rel: str) -> str:
    """ "train", "eval" or "" from a path: train -> train; val, valid, test, eval -> eval."""
    if _TRAIN_ROLE.search(rel):
        return "train"
    if _EVAL_ROLE.search(rel):
        return "eval"
    return ""


def is_image(name: str) -> bool:
    return posixpath.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def load_json(path: str):
    """The parsed JSON of a file, or RejectError with the reason in words."""
    try:
        text = fileio.read_text(path)
        if not text:
            raise RejectError(EMPTY_FILE)
        return json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RejectError(f"not a readable JSON file: {e}") from e


def walk(dataset_dir: str, root: str) -> Iterable[tuple[str, bool]]:
    """(relative path, is hidden) of every file under the relative folder `root`, at any depth."""
    folder = full(dataset_dir, root)
    if not fileio.isdir(folder):
        return
    for name, is_dir in fileio.list_entries(folder):
        rel = join_rel(root, name)
        if is_dir:
            yield from walk(dataset_dir, rel)
        else:
            yield rel, name.startswith(".")


def unlisted_files(
    dataset_dir: str, roots: Iterable[str], listed: set[str], eval_fraction: float, rejects: list, deep: bool = False
) -> tuple[list[str], list[str]]:
    """(unlabelled images, ignored hidden files) of the image folders that no annotation lists; other files
    there are rejects (full path, reason, split), but for the annotation tools' own (OWN_FILES)."""
    unlabelled, ignored = [], []
    for root in sorted(set(roots)):
        if root == "" or not fileio.isdir(full(dataset_dir, root)):
            continue  # the dataset folder itself holds other things (README, label maps)
        if deep:
            entries = list(walk(dataset_dir, root))
        else:
            entries = [
                (join_rel(root, name), name.startswith("."))
                for name, is_dir in fileio.list_entries(full(dataset_dir, root))
                if not is_dir
            ]
        for rel, hidden in entries:
            if rel in listed:
                continue
            if hidden:
                ignored.append(full(dataset_dir, rel))
            elif is_image(rel):
                unlabelled.append(full(dataset_dir, rel))
            elif not (deep and rel.lower().endswith(OWN_FILES)):
                rejects.append(
                    (
                        full(dataset_dir, rel),
                        "not an image file (non-image file in the image folder)",
                        records.hash_split(rel, eval_fraction),
                    )
                )
    return unlabelled, ignored
