"""Label maps: which class ids exist, their names, and their pixel value in the masks.

Three forms are read:

- ``label.pbtxt`` / ``label_map.pbtxt``, the classic tutorial form in protobuf
  text format (dataset/labelmap_pbtxt.py)::

      item { id: 1 name: 'speaker076' }

  The last three digits of ``name`` are the grayscale value of the class in the
  mask PNGs (76) and the rest is the class name (``speaker``). An item may also
  give ``pixel_value: 76`` explicitly, in which case ``name`` is taken as is;
  ``display_name`` is accepted and not used.
- ``label_map.yaml`` / ``.yml`` / ``.json``, the explicit form::

      classes:
        - {id: 1, name: speaker, pixel_value: 76}
        - {id: 2, name: mug, colour: [0, 255, 0]}    # pixel_value: the colour's grey value, 150

  ``colour`` (R, G, B) names the class's colour in colour masks: where two
  colours share the class's grey value, it settles which one is the class.

- COCO categories (``LabelMap.from_coco_categories``): contiguous ids in the
  order of the COCO ids, no pixel value, the COCO id kept as ``source_id``.

The ingestion writes the map it used as JSON (``write``) next to the examples.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dataset import labelmap_pbtxt
from dataset.labelmap_class import LabelClass, LabelMapError, class_from_dict
from storage import fileio

# Looked for in a dataset folder, in this order; more than one present is an error.
LABEL_MAP_FILE_NAMES = ("label.pbtxt", "label_map.pbtxt", "label_map.yaml", "label_map.yml", "label_map.json")


@dataclasses.dataclass(frozen=True)
class LabelMap:
    classes: tuple[LabelClass, ...]
    source: str = dataclasses.field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "classes", tuple(sorted(self.classes, key=lambda c: c.id)))
        _validate(self.classes, self.source or "<label map>")

    # --- reading -----------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> LabelMap:
        path = str(path)
        try:
            text = fileio.read_text(path)
        except (OSError, UnicodeDecodeError) as e:
            raise LabelMapError(f"{path}: cannot read the label map: {e}") from e
        suffix = Path(path).suffix.lower()
        if suffix == ".pbtxt":
            classes = _parse_pbtxt(text, path)
        elif suffix in (".yaml", ".yml", ".json"):
            classes = _parse_explicit(text, path, suffix)
        else:
            raise LabelMapError(f"{path}: unknown label map type {suffix!r} (use .pbtxt, .yaml, .yml or .json)")
        return cls(tuple(classes), source=path)

    @staticmethod
    def find(dataset_dir: str | Path) -> Path:
        """The label map file of a dataset folder (one of LABEL_MAP_FILE_NAMES); a str for URIs."""
        dataset_dir = str(dataset_dir)
        found = [
            fileio.join(dataset_dir, n) for n in LABEL_MAP_FILE_NAMES if fileio.exists(fileio.join(dataset_dir, n))
        ]
        if not found:
            raise LabelMapError(
                f"{dataset_dir}: no label map (expected one of {', '.join(LABEL_MAP_FILE_NAMES)}); "
                f"`maskrcnn-tfx labelmap --dataset {dataset_dir}` drafts one from the masks"
            )
        if len(found) > 1:
            raise LabelMapError(f"{dataset_dir}: several label maps ({', '.join(found)}); keep only one")
        return found[0] if fileio.is_uri(found[0]) else Path(found[0])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> LabelMap:
        where = source or "<label map>"
        if not isinstance(data, Mapping) or not isinstance(data.get("classes"), list):
            raise LabelMapError(f"{where}: expected a mapping with a list under 'classes'")
        return cls(tuple(class_from_dict(c, where, i) for i, c in enumerate(data["classes"])), source=source)

    @classmethod
    def from_json(cls, text: str, source: str = "") -> LabelMap:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabelMapError(f"{source or '<label map>'}: not valid JSON: {e}") from e
        return cls.from_dict(data, source)

    @classmethod
    def from_coco_categories(cls, categories: list[Mapping[str, Any]], source: str = "") -> LabelMap:
        """Contiguous ids 1..N in the order of the COCO category ids."""
        where = source or "<COCO categories>"
        found = []
        for n, c in enumerate(categories, start=1):
            try:
                name, source_id = str(c["name"] if c["name"] is not None else ""), int(c["id"])
            except (KeyError, TypeError, ValueError):
                name = ""
            if not name.strip():
                raise LabelMapError(
                    f"{where}: category {n} of {len(categories)} ({json.dumps(c)[:80]}) needs an "
                    f"integer 'id' and a non-empty 'name'"
                )
            found.append((source_id, name))
        classes = tuple(
            LabelClass(id=i, name=name, pixel_value=None, source_id=source_id)
            for i, (source_id, name) in enumerate(sorted(found), start=1)
        )
        source_ids = [c.source_id for c in classes]
        if len(set(source_ids)) != len(source_ids):
            raise LabelMapError(f"{where}: duplicate category ids {_duplicates(source_ids)}")
        return cls(classes, source=source)

    # --- writing -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"classes": [c.to_dict() for c in self.classes]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: str | Path) -> None:
        """Writes the map as JSON (local path or any tf.io.gfile URI)."""
        fileio.write_text(str(path), self.to_json())

    # --- lookups -----------------------------------------------------------
    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(c.id for c in self.classes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def num_classes(self) -> int:
        """The largest class id (Model Garden adds one for the background)."""
        return max(self.ids)

    @property
    def by_pixel(self) -> dict[int, LabelClass]:
        return {c.pixel_value: c for c in self.classes if c.pixel_value is not None}

    @property
    def by_id(self) -> dict[int, LabelClass]:
        return {c.id: c for c in self.classes}

    @property
    def by_source_id(self) -> dict[int, LabelClass]:
        return {c.source_id: c for c in self.classes if c.source_id is not None}

    def lookup_name(self, name: str) -> LabelClass | None:
        """The class called `name`, also accepting the legacy form with a 3-digit suffix."""
        wanted = name.strip()
        for c in self.classes:
            if wanted == c.name:
                return c
            if c.pixel_value is not None and wanted == f"{c.name}{c.pixel_value:03d}":
                return c
        return None


# --- parsing ---------------------------------------------------------------
def _parse_pbtxt(text: str, path: str) -> list[LabelClass]:
    try:
        parsed = labelmap_pbtxt.parse(text)
    except labelmap_pbtxt.PbtxtError as e:
        raise LabelMapError(f"{path}: {e}") from e
    return [LabelClass(id=c.id, name=c.name, pixel_value=c.pixel_value) for c in parsed]


def _parse_explicit(text: str, path: str, suffix: str) -> list[LabelClass]:
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabelMapError(f"{path}: not valid JSON: {e}") from e
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise LabelMapError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, Mapping) or not isinstance(data.get("classes"), list) or not data["classes"]:
        raise LabelMapError(f"{path}: expected a non-empty list under 'classes' ({{id, name, pixel_value}} each)")
    return [class_from_dict(c, path, i) for i, c in enumerate(data["classes"])]


def _duplicates(values: Iterable[Any]) -> list[Any]:
    seen, dups = set(), []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return dups


def _validate(classes: tuple[LabelClass, ...], where: str) -> None:
    if not classes:
        raise LabelMapError(f"{where}: no classes")
    ids = [c.id for c in classes]
    if dups := _duplicates(ids):
        raise LabelMapError(f"{where}: duplicate class ids {dups}")
    if min(ids) < 1:
        raise LabelMapError(f"{where}: class ids must be positive (0 is the background), got {min(ids)}")
    if min(ids) != 1:
        raise LabelMapError(f"{where}: class ids must start at 1, the smallest is {min(ids)}")
    if dups := _duplicates(c.name for c in classes):
        raise LabelMapError(f"{where}: duplicate class names {dups}")
    pixels = [c.pixel_value for c in classes if c.pixel_value is not None]
    if pixels and len(pixels) != len(classes):
        raise LabelMapError(f"{where}: either every class has a pixel_value or none has")
    if dups := _duplicates(pixels):
        names = {p: [c.name for c in classes if c.pixel_value == p] for p in dups}
        raise LabelMapError(f"{where}: duplicate pixel values {names}")
    for c in classes:
        if c.pixel_value is not None and not 1 <= c.pixel_value <= 255:
            raise LabelMapError(
                f"{where}: class {c.name!r} has pixel value {c.pixel_value}; it must be 1..255 (0 is the background)"
            )
