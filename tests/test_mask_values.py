"""Masks as people paint them (dataset/mask_values.py): soft edges and JPEG read by one rule, real unknown
regions still rejected, background photos kept as negatives, every reassigned pixel counted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import MUG, SAMPLE_NUM_TEST, SAMPLE_NUM_TRAIN, SPEAKER, copy_dataset, ingest_folder, read_examples
from dataset import layout, mask_values, records
from dataset.mask_values import snap
from sample_data import mask_variants

RED, GREEN = (0, 0, 255), (0, 255, 0)  # BGR: luma 76 (speaker) and 150 (mug)


def _touching(colour: bool) -> np.ndarray:
    """A speaker and a mug that touch, and a thin mug, on a 120x160 canvas."""
    mask = np.zeros((120, 160, 3), np.uint8)
    cv2.rectangle(mask, (20, 20), (69, 89), RED, -1)
    cv2.circle(mask, (95, 55), 26, GREEN, -1)  # overlaps the speaker's right edge: they touch
    cv2.rectangle(mask, (130, 10), (135, 110), GREEN, -1)  # 6 px wide
    return mask if colour else mask_variants.grayscale(mask)


def _objects(gray: np.ndarray) -> list[tuple[int, int]]:
    """(value, pixels) of each 8-connected object, sorted."""
    found = []
    for value in (SPEAKER, MUG):
        n, labels = cv2.connectedComponents((gray == value).astype(np.uint8), connectivity=8)
        found += [(value, int((labels == k).sum())) for k in range(1, n)]
    return sorted(found)


@pytest.mark.parametrize("colour", [True, False], ids=["colour", "grey"])
@pytest.mark.parametrize("style", sorted(mask_variants.STYLES))
def test_soft_edges_take_the_nearest_class_and_keep_every_object(style, colour):
    clean = mask_variants.grayscale(_touching(colour))
    soft = mask_variants.grayscale(mask_variants.STYLES[style](_touching(colour)))
    assert not np.isin(soft, [0, SPEAKER, MUG]).all()  # the style made values of no class
    snapped = snap(soft, [SPEAKER, MUG])
    assert not snapped.unknown
    assert set(np.unique(snapped.gray)) <= {0, SPEAKER, MUG}
    assert snapped.reassigned == int((snapped.gray != soft).sum()) > 0
    # the same objects: no ring of the speaker's value where the mug's edge passes through 76
    assert [v for v, _ in _objects(snapped.gray)] == [v for v, _ in _objects(clean)] == [SPEAKER, MUG, MUG]
    for value in (SPEAKER, MUG):
        ious = mask_variants.instance_ious([(value, clean == value)], [(value, snapped.gray == value)])
        assert ious[0] > (0.9 if style == "antialiased" else 0.97), (value, ious)  # antialiased: shifted 0.5 px


def test_a_hard_mask_is_read_as_it_is():
    gray = mask_variants.grayscale(_touching(True))
    gray[0:2, 0:2] = SPEAKER  # a dot: a hard mask's every pixel is what was painted
    snapped = snap(gray, [SPEAKER, MUG])
    assert snapped.reassigned == 0 and np.array_equal(snapped.gray, gray)


def test_a_region_or_dot_of_a_value_of_its_own_is_unknown_next_to_soft_edges():
    soft = mask_variants.grayscale(mask_variants.blurred(_touching(True)))
    soft[95:115, 20:60] = 110  # a flat region of no class, away from the objects
    soft[5, 150] = 230  # a stray dot brighter than anything near it
    unknown = snap(soft, [SPEAKER, MUG]).unknown
    assert unknown == {110: 800, 230: 1}
    # a region within the tolerance of a class is that class (JPEG's errors, a blur's faint tails)
    near = mask_variants.grayscale(_touching(True))
    near[95:115, 20:60] = SPEAKER + mask_values.NOISE_TOLERANCE
    snapped = snap(near, [SPEAKER, MUG])
    assert not snapped.unknown and (snapped.gray[95:115, 20:60] == SPEAKER).all() and snapped.reassigned == 800


@pytest.fixture(scope="module")
def clean_ingested(sample_dataset, tmp_path_factory) -> dict:
    return _instances(tmp_path_factory.mktemp("clean") / "out", sample_dataset)


def _instances(out: Path, dataset: Path) -> dict[str, list]:
    summary = ingest_folder(dataset, out)
    return {"summary": summary, "instances": mask_variants.ingested_instances(str(out))}


@pytest.mark.parametrize("variant", ["blurred", "jpeg95", "jpeg75"])
def test_soft_and_jpeg_copies_of_the_sample_keep_every_object(variant, sample_dataset, clean_ingested, tmp_path):
    quality = int(variant[4:]) if variant.startswith("jpeg") else None
    transform = None if quality else mask_variants.blurred
    dataset = mask_variants.copy_with_masks(sample_dataset, tmp_path / "ds", transform, jpeg_quality=quality)
    ingested = _instances(tmp_path / "out", dataset)
    summary, clean = ingested["summary"], clean_ingested["summary"]
    assert summary["num_rejected"] == 0
    assert summary["num_instances"] == clean["num_instances"]
    ious = [
        iou
        for file, instances in clean_ingested["instances"].items()
        for iou in mask_variants.instance_ious(instances, ingested["instances"][file])
    ]
    assert min(ious) > 0.9 and np.mean(ious) > 0.97
    assert summary["pixels_reassigned"] == sum(summary["pixels_reassigned_by_input"].values()) > 0
    warning = " ".join(summary["warnings"])
    if quality:
        assert len(summary["lossy_masks"]) == SAMPLE_NUM_TRAIN + SAMPLE_NUM_TEST
        assert f"{SAMPLE_NUM_TRAIN + SAMPLE_NUM_TEST} masks are JPEG data" in warning
    else:
        assert not summary["lossy_masks"] and "soft or antialiased edges" in warning


def test_a_png_holding_jpeg_bytes_is_named_lossy_and_a_real_unknown_region_still_rejected(sample_dataset, tmp_path):
    dataset = copy_dataset(sample_dataset, tmp_path / "ds")
    masks = sorted((dataset / "train_masks").glob("*.png"))
    disguised = cv2.imread(str(masks[0]))
    (masks[0]).write_bytes(cv2.imencode(".jpg", disguised, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    painted = cv2.imread(str(masks[1]))
    painted[0:20, 0:30] = (255, 0, 255)  # a region in a colour of no class (magenta: grey 105)
    cv2.imwrite(str(masks[1]), mask_variants.blurred(painted))
    summary = ingest_folder(dataset, tmp_path / "out")
    assert summary["lossy_masks"] == [str(masks[0])]  # named by content, whatever its extension
    [reject] = layout.read_rejects(str(tmp_path / "out"))
    assert reject["file"].endswith(f"{masks[1].stem}.jpg")
    assert f"mask {masks[1].name} has pixel values that are not in the label map: 105 (" in reject["reason"]
    assert "painted as regions or dots of their own" in reject["reason"]


def test_background_photos_are_negative_examples(sample_dataset, tmp_path):
    dataset = copy_dataset(sample_dataset, tmp_path / "ds")
    for folder in ("train", "test"):
        shutil.copy(dataset / "test_images" / "unlabelled_0000.jpg", dataset / f"{folder}_images" / "empty.jpg")
        image = cv2.imread(str(dataset / f"{folder}_images" / "empty.jpg"))
        cv2.imwrite(str(dataset / f"{folder}_masks" / "empty.png"), np.zeros(image.shape[:2], np.uint8))
    summary = ingest_folder(dataset, tmp_path / "out", check=True)
    assert summary["num_negative"] == {"train": 1, "eval": 1} and summary["num_rejected"] == 0
    assert summary["num_examples"] == {"train": SAMPLE_NUM_TRAIN + 1, "eval": SAMPLE_NUM_TEST + 1}
    [negative] = [
        e
        for e in read_examples(tmp_path / "out", "train")
        if records.feature_values(e, records.IMAGE_FILENAME)[0] == b"train_images/empty.jpg"
    ]
    for key in (records.CLASS_LABEL, records.OBJECT_MASK, records.BBOX_XMIN):
        assert negative.features.feature[key].WhichOneof("kind") and not records.feature_values(negative, key)
    assert json.loads((tmp_path / "out" / layout.SUMMARY_FILE).read_text())["num_negative"]["train"] == 1
