"""labelImg's Pascal VOC files, written for the sample (dataset/voc.py reads them)."""

from __future__ import annotations


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
