"""labelImg's Pascal VOC files: one box (and class name) per object; read, and written for the sample."""
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
                coords.append(int(round(float(text))))
            except ValueError:
                raise RejectError(f"malformed VOC XML: object #{index} ({name}) {tag}={text!r}") from None
        objects.append(VocObject(name, tuple(coords)))
    return size, objects


def voc_xml(filename: str, width: int, height: int, objects, classes, rng) -> str:
    """labelImg's Pascal VOC file; names with or without the 3-digit suffix, at random."""
    parts = [
        "<annotation>",
        "\t<folder>train_images</folder>",
        f"\t<filename>{filename}</filename>",
        f"\t<path>train_images/{filename}</path>",
        "\t<source>\n\t\t<database>Unknown</database>\n\t</source>",
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for obj in objects:
        c = classes[obj.class_index - 1]
        name = c.name if rng.random() < 0.5 else f"{c.name}{c.pixel_value:03d}"
        x0, y0, x1, y1 = obj.box
        pad = 2
        parts.append(
            "\t<object>\n"
            f"\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
            "\t\t<difficult>0</difficult>\n\t\t<bndbox>\n"
            f"\t\t\t<xmin>{max(0, x0 - pad)}</xmin>\n\t\t\t<ymin>{max(0, y0 - pad)}</ymin>\n"
            f"\t\t\t<xmax>{min(width - 1, x1 + pad)}</xmax>\n\t\t\t<ymax>{min(height - 1, y1 + pad)}</ymax>\n"
            "\t\t</bndbox>\n\t</object>"
        )
    parts.append("</annotation>\n")
    return "\n".join(parts)
