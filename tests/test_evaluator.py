"""The evaluator's scoring on known answers, and the blessing rules on chosen metrics (no model learns here)."""

from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np
import pytest
from scipy import stats
from tfx.types import Channel, standard_artifacts

from components.evaluator import constants
from components.evaluator.component import MaskEvaluator
from components.evaluator.executor import same_classes
from components.trainer.experiment import own_keys
from components.util import blessing, uncertainty
from components.util.coco_metrics import GroundTruth, Predictions, score
from components.util.serving_contract import Answer
from dataset.labelmap import LabelClass, LabelMap
from pipeline import options

LABEL_MAP = LabelMap(classes=(LabelClass(1, "kettle", None), LabelClass(2, "lamp", None)))


def square(height: int, width: int, y: int, x: int, side: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[y : y + side, x : x + side] = 1
    return mask


MASKS: dict[int, list[np.ndarray]] = {}  # source id -> the instance masks, to feed them back


def ground_truth(source_id: int, masks: list[np.ndarray], classes: list[int]) -> GroundTruth:
    """What Model Garden's ground-truth reader gives for an example with these instances."""
    boxes = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        boxes.append([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1])
    MASKS[source_id] = masks
    height, width = masks[0].shape
    return GroundTruth(
        source_id=source_id,
        height=height,
        width=width,
        boxes=np.array(boxes, np.float32),
        classes=np.array(classes),
        is_crowd=np.zeros(len(masks), np.int64),
        areas=np.array([m.sum() for m in masks], np.float32),
        masks_png=[cv2.imencode(".png", m)[1].tobytes() for m in masks],
    )


def as_predictions(image: GroundTruth, shift_x: int = 0, keep: slice = slice(None)) -> Predictions:
    """The ground truth fed back as detections (score 0.9), optionally moved right by shift_x pixels."""
    masks = np.array([np.roll(m, shift_x, axis=1) for m in MASKS[image.source_id]])[keep]
    boxes = (image.boxes + np.array([0, shift_x, 0, shift_x]))[keep]  # each box moved right
    return Predictions(boxes=boxes, classes=image.classes[keep], scores=np.full(len(boxes), 0.9), masks=masks)


@pytest.fixture
def images() -> list[GroundTruth]:
    return [
        ground_truth(1, [square(60, 80, 5, 5, 20), square(60, 80, 30, 40, 20)], [1, 2]),
        ground_truth(2, [square(60, 80, 10, 10, 20), square(60, 80, 30, 50, 20)], [1, 1]),
    ]


def test_ground_truth_fed_back_scores_ap_one(images):
    metrics = score(images, [as_predictions(i) for i in images], LABEL_MAP)
    for kind in ("box", "mask"):
        assert metrics[kind]["AP"] == metrics[kind]["AP50"] == metrics[kind]["AP75"] == pytest.approx(1.0)
        assert metrics[kind]["per_class_AP"] == {"kettle": pytest.approx(1.0), "lamp": pytest.approx(1.0)}
    assert metrics["num_images"] == 2 and metrics["num_detections"] == 4


def test_a_known_shift_gives_its_iou_thresholds(images):
    # 20x20 squares moved 4 px: IoU = 16*20 / (24*20) = 0.667, above the 0.50-0.65 thresholds (4 of the
    # 10 COCO thresholds 0.50:0.05:0.95), below 0.70 and up.
    metrics = score(images, [as_predictions(i, shift_x=4) for i in images], LABEL_MAP)
    for kind in ("box", "mask"):
        assert metrics[kind]["AP50"] == pytest.approx(1.0)
        assert metrics[kind]["AP75"] == pytest.approx(0.0)
        assert metrics[kind]["AP"] == pytest.approx(0.4)


def test_missed_objects_lower_recall_and_ap(images):
    # lamp: found; kettle: 1 of its 3 objects found (image 1's), with no false detection. COCO interpolates
    # precision at 101 recall points: precision 1 for recall 0.00..0.33 (34 points), 0 above.
    predictions = [as_predictions(images[0]), as_predictions(images[1], keep=slice(0, 0))]
    metrics = score(images, predictions, LABEL_MAP)
    kettle_ap = 34 / 101
    for kind in ("box", "mask"):
        assert metrics[kind]["per_class_AP"]["lamp"] == pytest.approx(1.0)
        assert metrics[kind]["per_class_AP"]["kettle"] == pytest.approx(kettle_ap)
        assert metrics[kind]["AP"] == pytest.approx((1.0 + kettle_ap) / 2)


def test_nothing_detected_scores_zero(images):
    empty = Predictions(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 60, 80), np.uint8))
    metrics = score(images, [empty, empty], LABEL_MAP)
    assert metrics["box"]["AP"] == metrics["mask"]["AP50"] == 0.0


def test_a_served_answer_is_pasted_into_the_photo_and_scored():
    """What the served model answers: boxes in the photo's pixels, 28x28 mask probabilities over each box."""
    image = ground_truth(1, [square(60, 80, 10, 20, 30)], [2])
    answer = Answer(
        np.array([[10, 20, 40, 50]], np.float32),
        np.array([2]),
        np.array([0.8], np.float32),
        np.ones((1, 28, 28), np.float32),
    )
    predictions = Predictions.from_answer(answer, 60, 80)
    assert predictions.masks.shape == (1, 60, 80)
    metrics = score([image], [predictions], LABEL_MAP)
    assert metrics["box"]["AP"] == pytest.approx(1.0)
    assert metrics["mask"]["AP50"] == pytest.approx(1.0)


# --- intervals: bootstrap over the eval images ------------------------------------------------------
def mixed(n: int) -> tuple[list[GroundTruth], list[Predictions]]:
    """n images of two objects each: found exactly, found 4 px off (IoU 0.67), or half missed, in turn."""
    images = [
        ground_truth(10 + i, [square(60, 80, 5, 5 + i % 5, 20), square(60, 80, 30, 40, 20)], [1, 2]) for i in range(n)
    ]
    predictions = [
        as_predictions(image, **[{}, {"shift_x": 4}, {"keep": slice(0, 1)}][i % 3]) for i, image in enumerate(images)
    ]
    return images, predictions


def test_a_perfect_prediction_set_has_a_zero_width_interval():
    images = [ground_truth(20 + i, [square(60, 80, 5 + i, 5, 20)], [1 + i % 2]) for i in range(6)]
    interval = score(images, [as_predictions(i) for i in images], LABEL_MAP)["interval"]
    for name in blessing.BLESSING_METRICS:
        assert interval[name] == [1.0, 1.0], name
    assert interval["confidence"] == 0.95 and "1000 resamples of the 6 eval images" in interval["method"]


def test_the_interval_is_what_rescoring_each_resample_from_scratch_gives():
    """The fast path (COCOeval's per-image matches accumulated over a resample) against a direct resampling:
    each resample's images made a dataset of their own (repeats as new images) and scored by COCOeval anew,
    with scipy's bootstrap drawing the same resamples (same seed)."""
    images, predictions = mixed(9)
    resamples = 200
    metrics = score(images, predictions, LABEL_MAP, resamples=resamples)

    def rescored(positions):
        chosen = [dataclasses.replace(images[p], source_id=1 + j) for j, p in enumerate(positions)]
        for j, p in enumerate(positions):
            MASKS[1 + j] = MASKS[images[p].source_id]
        flat = blessing.flat_metrics(score(chosen, [predictions[p] for p in positions], LABEL_MAP, resamples=0))
        return np.array([flat[name] for name in blessing.BLESSING_METRICS])

    direct = stats.bootstrap(
        (np.arange(len(images)),),
        rescored,
        vectorized=False,
        n_resamples=resamples,
        confidence_level=uncertainty.CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(uncertainty.SEED),
    ).confidence_interval
    for k, name in enumerate(blessing.BLESSING_METRICS):
        assert metrics["interval"][name] == pytest.approx([direct.low[k], direct.high[k]], abs=1e-4), name
    flat = blessing.flat_metrics(metrics)
    assert metrics["interval"]["mask_AP75"][0] < flat["mask_AP75"] < metrics["interval"]["mask_AP75"][1]
    assert rescored(range(len(images))) == pytest.approx([flat[n] for n in blessing.BLESSING_METRICS])


def test_an_interval_is_reproducible_and_absent_for_a_single_image(images):
    many, predictions = mixed(6)
    assert score(many, predictions, LABEL_MAP)["interval"] == score(many, predictions, LABEL_MAP)["interval"]
    assert score(images[:1], [as_predictions(images[0])], LABEL_MAP)["interval"] is None
    empty = Predictions(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 60, 80), np.uint8))
    assert score(images, [empty, empty], LABEL_MAP)["interval"]["mask_AP50"] == [0.0, 0.0]


def test_an_interval_holding_the_threshold_is_warned_and_the_lower_bound_rule_refuses():
    interval = {"confidence": 0.95, "mask_AP50": [0.61, 0.95], "box_AP": [0.2, 0.3]}
    current = metrics(0.25, 0.826)
    assert blessing.interval_warnings({"mask_AP50": 0.5, "box_AP": 0.2}, interval, 6) == []
    [warning] = blessing.interval_warnings({"mask_AP50": 0.8, "box_AP": 0.2}, interval, 6)
    assert warning.startswith("mask_AP50's 95% interval [0.610, 0.950] holds the threshold 0.800: 6 eval images")
    assert blessing.judge(current, {"mask_AP50": 0.8}, None, 0.0, interval=interval)[0] is True  # point: the default
    blessed, reasons = blessing.judge(current, {"mask_AP50": 0.8}, None, 0.0, interval=interval, bless_on="lower-bound")
    assert not blessed
    assert reasons[0] == "mask_AP50 lower bound 0.610 (of 0.826, 95% interval) < threshold 0.800"
    assert blessing.judge(current, {"mask_AP50": 0.6}, None, 0.0, interval=interval, bless_on="lower-bound")[0]
    assert not blessing.judge(current, {"mask_AP50": 0.1}, None, 0.0, interval=None, bless_on="lower-bound")[0]


# --- blessing ------------------------------------------------------------------------------------
def metrics(box_ap: float, mask_ap50: float) -> dict[str, float]:
    return {
        "box_AP": box_ap,
        "box_AP50": 0.5,
        "box_AP75": 0.3,
        "mask_AP": 0.4,
        "mask_AP50": mask_ap50,
        "mask_AP75": 0.2,
    }


def test_thresholds_alone_without_a_baseline():
    assert blessing.judge(metrics(0.5, 0.6), {"mask_AP50": 0.5}, None, 0.02) == (
        True,
        ["mask_AP50 0.600 >= threshold 0.500", "no blessed baseline yet: judged on thresholds alone"],
    )
    blessed, reasons = blessing.judge(metrics(0.5, 0.4), {"mask_AP50": 0.5}, None, 0.02)
    assert not blessed and reasons[0] == "mask_AP50 0.400 < threshold 0.500"


@pytest.mark.parametrize("baseline_mask_ap50, blessed", [(0.61, True), (0.62, True), (0.63, False)])
def test_a_thresholded_metric_may_fall_at_most_max_regression_below_the_baseline(baseline_mask_ap50, blessed):
    decision, reasons = blessing.judge(metrics(0.5, 0.6), {"mask_AP50": 0.5}, metrics(0.5, baseline_mask_ap50), 0.02)
    assert decision is blessed
    assert reasons[-1].startswith(
        f"mask_AP50 0.600 vs baseline {baseline_mask_ap50:.3f}: "
        f"{'within' if blessed else 'worse than'} the allowed regression 0.020"
    )


def test_without_thresholds_the_baseline_is_still_compared_on_box_and_mask_ap():
    blessed, reasons = blessing.judge(metrics(0.50, 0.6), {}, metrics(0.55, 0.6), 0.02)
    assert not blessed
    assert "box_AP 0.500 vs baseline 0.550: worse than the allowed regression 0.020" in reasons
    assert any(r.startswith("mask_AP 0.400 vs baseline 0.400: within") for r in reasons)
    assert blessing.judge(metrics(0.50, 0.6), {}, None, 0.02)[0] is True


def test_a_threshold_on_a_metric_the_evaluator_does_not_score_is_refused_before_anything_runs(tmp_path):
    parser = argparse.ArgumentParser()
    options.add_pipeline_arguments(parser, pipeline_root=str(tmp_path), serving_dir=str(tmp_path))
    args = parser.parse_args(
        ["--dataset", str(tmp_path), "--threshold", "mask_AP50=0.5", "--threshold", "mask_mAP=0.5"]
    )
    with pytest.raises(SystemExit, match=r"--threshold 'mask_mAP=0\.5': mask_mAP is not one of box_AP, box_AP50"):
        options.pipeline_config(args, local=True)

    config = tmp_path / "mine.yaml"
    config.write_text("base: tiny\nblessing:\n  thresholds: {mask_AP50: 0.5, box_mAP: 0.3}\n")
    with pytest.raises(ValueError, match=f"{config}: blessing.thresholds: the evaluator scores no box_mAP; "):
        own_keys(str(config))

    channels = dict(examples=Channel(type=standard_artifacts.Examples), model=Channel(type=standard_artifacts.Model))
    refusal = (
        "blessing.thresholds: the evaluator scores no mask_AP90, mask_mAP; blessing thresholds may name "
        "box_AP, box_AP50, box_AP75, mask_AP, mask_AP50, mask_AP75"
    )
    with pytest.raises(ValueError, match=refusal):
        blessing.BlessingConfig({"mask_mAP": 0.5, "mask_AP90": 0.1, "box_AP": 0.2})
    accepted = MaskEvaluator(**channels, blessing=blessing.BlessingConfig({"mask_AP75": 0.5}))
    assert blessing.BlessingConfig.from_json(accepted.exec_properties[constants.BLESSING_CONFIG_KEY]).thresholds == {
        "mask_AP75": 0.5
    }


def test_a_baseline_of_other_classes_is_not_comparable():
    other = LabelMap(classes=(LabelClass(1, "kettle", 76), LabelClass(2, "cup", 150)))
    same_names_other_pixels = LabelMap(classes=(LabelClass(1, "kettle", 20), LabelClass(2, "lamp", 30)))
    assert same_classes(LABEL_MAP, same_names_other_pixels)
    assert not same_classes(LABEL_MAP, other)
    blessed, reasons = blessing.judge(
        metrics(0.5, 0.6),
        {"mask_AP50": 0.5},
        None,
        0.0,
        no_baseline_reason="the blessed baseline X was trained on other classes",
    )
    assert blessed and reasons[-1] == (
        "the blessed baseline X was trained on other classes: judged on thresholds alone"
    )
