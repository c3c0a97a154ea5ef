"""Masks as people make them, at the photo's border and on a transparent layer: soft and JPEG edges between an
object and the border read as edges, the compression's thin pieces beside labelImg boxes dropped and counted,
alpha 0 read as background and partial alpha as a soft edge; a real region of no class still rejected."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import MUG, SPEAKER, copy_dataset, decoded_masks, feature, parse
from dataset import images, mask_values, records
from dataset import plan as planning
from dataset.convert import convert_item
from dataset.mask_values import snap
from dataset.output import Report
from sample_data import mask_variants, sample
from sample_data.sample_classes import SampleClass

# The five-class palette of tests/test_own_data.py: a blend from 0 to the vase's 151 passes within 12 levels of
# the clock's 40 and the cactus' 59, and the lamp's 146 is 5 levels from the vase
CLASSES = (
    SampleClass("vase", (255, 128, 0)),
    SampleClass("clock", (40, 40, 40)),
    SampleClass("lamp", (0, 200, 255)),
    SampleClass("book", (250, 250, 250)),
    SampleClass("cactus", (0, 100, 0)),
)
NUM_TRAIN, NUM_TEST = 16, 4
GAPS = (-6, 0, 1, 2)  # background between the first object and the border: cut by it, touching, 1 and 2 px


def _objects(gray: np.ndarray, values) -> list[tuple[int, int]]:
    found = []
    for value in values:
        n, labels = cv2.connectedComponents((gray == value).astype(np.uint8), connectivity=8)
        found += [(value, int((labels == k).sum())) for k in range(1, n)]
    return sorted(found)


@pytest.mark.parametrize("gap", [1, 2])
@pytest.mark.parametrize("style", sorted(mask_variants.STYLES))
def test_a_blend_between_an_object_and_the_border_is_an_edge(style, gap):
    clean = np.zeros((120, 160), np.uint8)
    clean[gap:50, 30:90] = SPEAKER  # gap px of background above it, then the border
    clean[60:100, gap:40] = MUG
    soft = mask_variants.STYLES[style](clean)
    snapped = snap(soft, [SPEAKER, MUG])
    assert not snapped.unknown
    assert [v for v, _ in _objects(snapped.gray, (SPEAKER, MUG))] == [SPEAKER, MUG]
    for value in (SPEAKER, MUG):
        assert mask_variants.instance_ious([(value, clean == value)], [(value, snapped.gray == value)])[0] > 0.9


def test_a_region_of_no_class_at_the_border_is_still_rejected_by_value():
    soft = mask_variants.blurred(np.pad(np.full((40, 60), SPEAKER, np.uint8), ((1, 79), (30, 70))))
    soft[100:120, 0:40] = 110  # a flat patch of a value of no class, in the corner
    assert snap(soft, [SPEAKER, MUG]).unknown == {110: 800}


def test_a_thin_piece_of_the_compression_takes_its_neighbours_value():
    gray = np.zeros((60, 80), np.uint8)
    gray[4:40, 10:70] = 151
    gray[0:4, 10:70] = 40  # a 4 px strip of another class between the object and the border
    piece = gray == 40
    assert mask_values.compression_piece(gray, piece, 40) == 0  # 40 is nearer the background than 151
    gray[0:4, 10:70] = 146
    assert mask_values.compression_piece(gray, gray == 146, 146) == 151
    thick = np.zeros((60, 80), np.uint8)
    thick[4:40, 10:70], thick[40:46, 10:70] = 151, 146  # 6 px across: an object of its own
    assert mask_values.compression_piece(thick, thick == 146, 146) is None
    alone = np.zeros((60, 80), np.uint8)
    alone[0:4, 10:70] = 40  # along no other object
    assert mask_values.compression_piece(alone, alone == 40, 40) is None


@pytest.fixture(scope="module")
def border_dataset(tmp_path_factory) -> Path:
    """Every photo's first object against the border (cut, touching, 1 or 2 px away); labelImg boxes for half."""
    out = tmp_path_factory.mktemp("border") / "dataset"
    sample.generate(
        out,
        num_train=NUM_TRAIN,
        num_test=NUM_TEST,
        num_unlabelled=0,
        sizes=((256, 192),),
        seed=5,
        classes=CLASSES,
        voc_fraction=0.5,
        border_gaps=GAPS,
    )
    return out


def convert_all(dataset: Path) -> dict[str, object]:
    """{relative path: Outcome} of every input, converted as the Beam workers do."""
    plan = planning.plan_ingest(str(dataset), planning.IngestOptions())
    return {
        item.rel_path: convert_item(item, plan.label_map, plan.options.min_instance_area, plan.dataset_dir)
        for item in plan.items
    }


def instances_by_image(outcomes: dict) -> dict[str, list[tuple[int, np.ndarray]]]:
    return {
        rel: list(zip(feature(parse(o), records.CLASS_LABEL), decoded_masks(parse(o)), strict=True))
        for rel, o in outcomes.items()
    }


@pytest.fixture(scope="module")
def border_clean(border_dataset) -> dict:
    outcomes = convert_all(border_dataset)
    assert not [o.reason for o in outcomes.values() if o.reason]
    return outcomes


def test_the_border_dataset_has_objects_cut_by_touching_and_near_the_border(border_dataset):
    gaps = set()
    for path in (border_dataset / "train_masks").glob("*.png"):
        gray = mask_variants.grayscale(cv2.imread(str(path)))
        ys, xs = np.nonzero(gray)
        gaps.add(min(ys.min(), xs.min(), gray.shape[0] - 1 - ys.max(), gray.shape[1] - 1 - xs.max()))
    assert {0, 1, 2} <= gaps


@pytest.mark.parametrize("variant", ["blurred", "jpeg95", "jpeg75"])
def test_soft_and_jpeg_copies_of_a_dataset_at_the_border_keep_every_object(
    variant, border_dataset, border_clean, tmp_path
):
    quality = int(variant[4:]) if variant.startswith("jpeg") else None
    copy = mask_variants.copy_with_masks(
        border_dataset, tmp_path / "ds", None if quality else mask_variants.blurred, jpeg_quality=quality
    )
    outcomes = convert_all(copy)
    assert {rel: o.reason for rel, o in outcomes.items() if o.reason} == {}
    clean, other = instances_by_image(border_clean), instances_by_image(outcomes)
    assert {rel: len(v) for rel, v in other.items()} == {rel: len(v) for rel, v in clean.items()}
    ious = [iou for rel in clean for iou in mask_variants.instance_ious(clean[rel], other[rel])]
    assert len(ious) == sum(o.num_instances for o in border_clean.values()) and min(ious) > 0.85
    assert sum(o.pixels_reassigned for o in outcomes.values()) > 0


# --- masks on a transparent layer ---------------------------------------------------------------------------
def _rgba(colour_mask: np.ndarray, soft: bool) -> np.ndarray:
    """A BGR mask as an editor saves a layer: white where nothing is painted, alpha 0 there; with `soft`, the
    alpha of the brush's edges partial."""
    alpha = np.where(colour_mask.any(axis=2), 255, 0).astype(np.uint8)
    if soft:
        alpha = cv2.GaussianBlur(alpha, (0, 0), 1.2)
    bgr = colour_mask.copy()
    bgr[~colour_mask.any(axis=2)] = 255
    if soft:  # the colour under a soft edge reaches past the object, as a brush's does
        grown = cv2.dilate(colour_mask, np.ones((9, 9), np.uint8))
        bgr = np.where((alpha > 0)[..., None] & grown.any(axis=2)[..., None], grown, bgr)
    return np.dstack([bgr, alpha])


def test_alpha_zero_is_background_and_partial_alpha_a_soft_edge():
    clean = np.zeros((60, 80, 3), np.uint8)
    cv2.rectangle(clean, (10, 10), (39, 49), (0, 0, 255), -1)  # red: the speaker's 76
    png = cv2.imencode(".png", _rgba(clean, soft=False))[1].tobytes()
    hard = images.decode_mask(png)
    assert hard.colour.shape == (60, 80, 3)
    assert set(np.unique(hard.gray).tolist()) == {0, SPEAKER} and hard.alpha_decided == 60 * 80 - 30 * 40
    soft = images.decode_mask(cv2.imencode(".png", _rgba(clean, soft=True))[1].tobytes())
    edge = (soft.gray > 0) & (soft.gray < SPEAKER)
    assert edge.any() and not (soft.gray > SPEAKER).any()
    snapped = snap(soft.gray, [SPEAKER])
    assert not snapped.unknown and snapped.reassigned == int(edge.sum())
    assert mask_variants.instance_ious([(1, clean[..., 2] > 0)], [(1, snapped.gray == SPEAKER)])[0] > 0.95
    opaque = np.dstack([clean, np.full((60, 80), 255, np.uint8)])
    assert images.decode_mask(cv2.imencode(".png", opaque)[1].tobytes()).alpha_decided == 0


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_rgba_masks_with_a_transparent_background_keep_every_object(soft, sample_dataset, tmp_path):
    clean = convert_all(sample_dataset)
    dataset = copy_dataset(sample_dataset, tmp_path / "ds")
    for folder in ("train_masks", "test_masks"):
        for path in (dataset / folder).glob("*.png"):
            cv2.imwrite(str(path), _rgba(cv2.imread(str(path)), soft))
    outcomes = convert_all(dataset)
    assert {rel: o.reason for rel, o in outcomes.items() if o.reason} == {}
    assert {rel: o.num_instances for rel, o in outcomes.items()} == {rel: o.num_instances for rel, o in clean.items()}
    ious = [
        iou
        for rel, instances in instances_by_image(clean).items()
        for iou in mask_variants.instance_ious(instances, instances_by_image(outcomes)[rel])
    ]
    assert min(ious) > (0.9 if soft else 0.999)
    report = Report()
    for outcome in outcomes.values():
        report.add(outcome.without_example())
    assert len(report.alpha_pixels) == len(outcomes)
    [said] = [w for w in report.warnings() if "transparent layer" in w]
    assert said.startswith(f"{len(outcomes)} masks are on a transparent layer: alpha 0 read as the background")
    assert bool(report.pixels_reassigned) == soft
