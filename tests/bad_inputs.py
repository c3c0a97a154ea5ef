"""The fixture `bad_dataset` (a pytest plugin of conftest.py): the sample with every kind of bad input added, one
dataset holding them all, for the tests of what ingestion rejects and ignores."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import MUG, SPEAKER, copy_dataset, voc, write_gray_png


@pytest.fixture(scope="session")
def bad_dataset(sample_dataset, tmp_path_factory) -> Path:
    root = copy_dataset(sample_dataset, tmp_path_factory.mktemp("bad") / "dataset")
    images, masks, boxes = root / "train_images", root / "train_masks", root / "train_bboxes"
    good_jpeg = (images / "train_0000.jpg").read_bytes()
    good_mask = masks / "train_0000.png"
    height, width = cv2.imread(str(good_mask)).shape[:2]

    (images / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    shutil.copy(good_mask, masks / "corrupt.png")
    (images / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    shutil.copy(good_mask, masks / "truncated.png")
    (images / "nomask.jpg").write_bytes(good_jpeg)
    shutil.copy(good_mask, masks / "orphan.png")
    (images / "small.jpg").write_bytes(good_jpeg)
    write_gray_png(masks / "small.png", np.full((height // 2, width // 2), SPEAKER, np.uint8))
    unknown = np.zeros((height, width), np.uint8)
    unknown[10:40, 10:40] = SPEAKER
    unknown[50:60, 50:60] = 100
    unknown[70:72, 70:72] = 200
    (images / "unknown.jpg").write_bytes(good_jpeg)
    write_gray_png(masks / "unknown.png", unknown)
    (images / "empty.jpg").write_bytes(good_jpeg)
    write_gray_png(masks / "empty.png", np.zeros((height, width), np.uint8))

    one_object = np.zeros((height, width), np.uint8)
    one_object[20:60, 20:60] = MUG
    for stem, xml in (
        ("voc_outside", voc(("mug", (20, 20, 59, 59)), ("mug", (width + 10, 5, width + 40, 30)), size=(width, height))),
        ("voc_nopixels", voc(("mug", (20, 20, 59, 59)), ("mug", (100, 100, 120, 120)), size=(width, height))),
        ("voc_unknown_name", voc(("cat", (20, 20, 59, 59)), size=(width, height))),
        ("voc_malformed", "<annotation><object><name>mug</name><bndbox><xmin>1</xmin>"),
    ):
        (images / f"{stem}.jpg").write_bytes(good_jpeg)
        write_gray_png(masks / f"{stem}.png", one_object)
        (boxes / f"{stem}.xml").write_text(xml)
    (boxes / "voc_orphan.xml").write_text(voc(("mug", (20, 20, 59, 59)), size=(width, height)))

    (images / "notes.txt").write_text("shot on a sunny day")
    (masks / "readme.md").write_text("masks")
    (images / "scan.bmp").write_bytes(b"BM")
    (images / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (images / "more").mkdir()
    (root / "test_masks" / "orphan_test.png").write_bytes(good_mask.read_bytes())
    return root
