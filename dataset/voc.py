"""labelImg's Pascal VOC files: one box (and class name) per object (sample_data/labelimg.py writes them)."""

from __future__ import annotations

import dataclasses

from dataset.records import RejectError


@dataclasses.dataclass(frozen=True)
class VocObject:
    name: str
    box: tuple[int, int, int, int]  # xmin, ymin, xmax, ymax in pixels, inclusive


def parse_voc(data: bytes) -> tuple[tuple[int, int] | None, list[VocObject]]:
    """(declared (width, height) or None, objects) of a labelImg Pascal VOC file."""
    import xml.etree.ElementTree as ET

    from dataset.images import EMPTY_FILE

    if not data:
        raise RejectError(f"VOC file: {EMPTY_FILE}")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise RejectError(f"malformed VOC XML: {e}") from e
    if root.tag != "annotation":
        raise RejectError(f"malformed VOC XML: the root element is <{root.tag}>, not <annotation>")
    size = None
    w, h = root.findtext("size/width"), root.findtext("size/height")
    if w and h:
        try:
            size = (int(float(w)), int(float(h)))
        except ValueError:
            raise RejectError(f"malformed VOC XML: size {w!r}x{h!r} is not numeric") from None
        if size[0] <= 0 or size[1] <= 0:
            size = None
    objects = []
    for index, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise RejectError(f"malformed VOC XML: object #{index} has no <name>")
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = obj.findtext(f"bndbox/{tag}")
            if text is None:
                raise RejectError(f"malformed VOC XML: object #{index} ({name}) has no bndbox/{tag}")
            try:
                coords.append(round(float(text)))
            except ValueError:
                raise RejectError(f"malformed VOC XML: object #{index} ({name}) {tag}={text!r}") from None
        objects.append(VocObject(name, tuple(coords)))
    return size, objects
