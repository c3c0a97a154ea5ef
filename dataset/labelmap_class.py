"""One class of a label map (dataset/labelmap.py holds the map and reads its files): its fields, and an entry of
the explicit form (``{id, name, pixel_value, colour, source_id}`` in label_map.yaml/.json and LabelMap.to_dict)
read and checked."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any


class LabelMapError(ValueError):
    """A label map that cannot be used; the message names the file and the reason."""


@dataclasses.dataclass(frozen=True)
class LabelClass:
    id: int
    name: str
    pixel_value: int | None
    # The dataset's own id for this class when it differs (COCO category id).
    source_id: int | None = None
    # The class's colour (R, G, B) in colour masks, when the label map states it: where two colours have the
    # class's grey value, it says which one is the class (see dataset/colours.py).
    colour: tuple[int, int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.colour is None:
            del data["colour"]
        else:
            data["colour"] = list(self.colour)
        return data


def class_from_dict(entry: Any, path: str, index: int) -> LabelClass:
    where = f"{path}: classes[{index}]"
    if not isinstance(entry, Mapping):
        raise LabelMapError(f"{where}: expected a mapping with id, name, pixel_value")
    unknown = set(entry) - {"id", "name", "pixel_value", "source_id", "colour"}
    if unknown:
        raise LabelMapError(f"{where}: unknown keys {sorted(unknown)}")
    if "id" not in entry or "name" not in entry:
        raise LabelMapError(f"{where}: needs 'id' and 'name'")
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        raise LabelMapError(f"{where}: 'name' must be a non-empty string")
    pixel = entry.get("pixel_value")
    source_id = entry.get("source_id")
    colour = entry.get("colour")
    if colour is not None:
        if (
            not isinstance(colour, (list, tuple))
            or len(colour) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in colour)
        ):
            raise LabelMapError(f"{where}: 'colour' must be [R, G, B] with integers 0-255, got {colour}")
        from dataset.images import luma

        colour = tuple(colour)
        if pixel is None:
            pixel = luma(colour)
        elif luma(colour) != as_int(pixel, f"{where}: pixel_value"):
            raise LabelMapError(
                f"{where}: colour {list(colour)} has grey value {luma(colour)}, not the pixel_value {pixel}"
            )
    return LabelClass(
        id=as_int(entry["id"], f"{where}: id"),
        name=name.strip(),
        pixel_value=None if pixel is None else as_int(pixel, f"{where}: pixel_value"),
        source_id=None if source_id is None else as_int(source_id, f"{where}: source_id"),
        colour=colour,
    )


def as_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise LabelMapError(f"{where} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise LabelMapError(f"{where} must be an integer, got {value!r}")
