"""Where a COCO dataset's files lie (dataset/formats/coco.py lists and converts it with them): the annotation
files by their place, each file's role (train or eval) from its name, the folder its images' file_name resolve
under, the label map of its categories."""

from __future__ import annotations

import posixpath
import re

from dataset import annotation_listing
from dataset.annotation_listing import full as _full
from dataset.annotation_listing import join_rel as _join_rel
from dataset.labelmap import LABEL_MAP_FILE_NAMES, LabelMap, LabelMapError
from dataset.records import RejectError
from storage import fileio

_PROBE_IMAGES = 20


class CocoLayoutError(ValueError):
    """The folder's COCO files cannot be used at all (not one image): fails before Beam."""


def annotation_files(dataset_dir: str) -> list[str]:
    """Relative paths of candidate COCO annotation files."""
    found = []
    for name, is_dir in fileio.list_entries(dataset_dir):
        if is_dir:
            if name == "annotations":
                found += [
                    f"annotations/{n}"
                    for n, d in fileio.list_entries(fileio.join(dataset_dir, name))
                    if not d and n.lower().endswith(".json") and not n.startswith(".")
                ]
            elif fileio.exists(fileio.join(dataset_dir, name, "_annotations.coco.json")):
                found.append(f"{name}/_annotations.coco.json")
        elif name.lower().endswith(".json") and name not in LABEL_MAP_FILE_NAMES and not name.startswith("."):
            found.append(name)
    return sorted(found)


def load(dataset_dir: str, rel: str) -> dict:
    data = annotation_listing.load_json(_full(dataset_dir, rel))
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        raise RejectError("not a COCO annotation file (needs lists 'images' and 'annotations')")
    if not isinstance(data.get("categories"), list) or not data["categories"]:
        raise RejectError("COCO file without 'categories'")
    return data


def root_candidates(rel_json: str, images: list[dict]) -> list[str]:
    json_dir = posixpath.dirname(rel_json)
    parent = posixpath.dirname(json_dir)
    stem = posixpath.splitext(posixpath.basename(rel_json))[0]
    derived = re.sub(r"^(instances|annotations?)_", "", stem)
    candidates = [
        json_dir,
        "",
        "images",
        posixpath.join(json_dir, "images"),
        parent,
        posixpath.join(parent, "images"),
        derived,
        posixpath.join("images", derived),
    ]
    seen, unique = set(), []
    for c in candidates:
        c = posixpath.normpath(c) if c else ""
        c = "" if c == "." else c
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


def image_root(dataset_dir: str, rel_json: str, images: list[dict]) -> str:
    """The folder (relative to dataset_dir) under which the images' file_name resolve best."""
    probe = [str(im.get("file_name", "")) for im in images[:_PROBE_IMAGES] if im.get("file_name")]
    if not probe:
        return posixpath.dirname(rel_json)
    best, best_score = None, 0
    for root in root_candidates(rel_json, images):
        score = sum(fileio.exists(_full(dataset_dir, _join_rel(root, name))) for name in probe)
        if score > best_score:
            best, best_score = root, score
        if score == len(probe):
            break
    if best is None:
        tried = ", ".join(f"{r or '.'}/" for r in root_candidates(rel_json, images))
        raise CocoLayoutError(
            f"{_full(dataset_dir, rel_json)}: none of its first images (e.g. {probe[0]!r}) exists under {tried}"
        )
    return best


def load_files(dataset_dir: str, rel_jsons: list[str], rejects: list) -> list[tuple[str, dict]]:
    loaded = []
    for rel in rel_jsons:
        try:
            loaded.append((rel, load(dataset_dir, rel)))
        except RejectError as e:
            rejects.append((_full(dataset_dir, rel), str(e), "train"))
    if not loaded:
        raise CocoLayoutError(
            f"{dataset_dir}: no usable COCO annotation file among {', '.join(rel_jsons)}: {rejects[0][1]}"
        )
    return loaded


def roles(dataset_dir: str, loaded: list[tuple[str, dict]]) -> tuple[dict[str, str], bool]:
    """Each file's role ("train", "eval" or "") and whether the files make the splits themselves."""
    roles = {rel: annotation_listing.role(rel) for rel, _ in loaded}
    if len(loaded) > 1 and not all(roles.values()):
        unknown = [rel for rel, role in roles.items() if not role]
        raise CocoLayoutError(
            f"{dataset_dir}: several COCO files and no train/val role in the name of {', '.join(unknown)} "
            f"(name them e.g. instances_train.json and instances_val.json)"
        )
    if len(loaded) > 1 and all(role == "eval" for role in roles.values()):
        raise CocoLayoutError(f"{dataset_dir}: COCO files only for evaluation ({', '.join(roles)}), none for train")
    return roles, "eval" in roles.values() and "train" in roles.values()


def label_map(dataset_dir: str, loaded: list[tuple[str, dict]]) -> LabelMap:
    first_rel, first = loaded[0]
    label_map = LabelMap.from_coco_categories(first["categories"], source=_full(dataset_dir, first_rel))
    for rel, data in loaded[1:]:
        other = LabelMap.from_coco_categories(data["categories"], source=_full(dataset_dir, rel))
        if other != label_map:
            raise LabelMapError(f"{_full(dataset_dir, rel)}: its categories differ from those of {first_rel}")
    return label_map
