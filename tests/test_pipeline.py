"""The whole pipeline end to end: ingest, validate, train, evaluate, bless, push; reruns."""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from components.util import serving
from components.util.blessing import BlessingConfig
from conftest import PIPELINE_NUM_TEST, PIPELINE_NUM_TRAIN, TINY_TRAIN_STEPS, tiny_pipeline
from pipeline import local_runner, report, report_table, run_summary

COMPONENTS = [
    "ImageMaskExampleGen",
    "LabelMapSchemaGen",
    "StatisticsGen",
    "ExampleValidator",
    "DataGate",
    "Trainer",
    "MaskEvaluator",
    "ServingCheck",
    "Pusher",
]


def _states(summary) -> dict[str, str]:
    return {c["component"]: c["state"] for c in summary["components"]}


def _versions(serving_dir) -> list[str]:
    return sorted(v for v in os.listdir(serving_dir) if v.isdigit()) if os.path.isdir(serving_dir) else []


def test_every_component_ran_and_left_its_artifact(trained_pipeline):
    assert sorted(_states(trained_pipeline)) == sorted(COMPONENTS)
    assert set(_states(trained_pipeline).values()) == {"COMPLETE"}
    examples = trained_pipeline["examples"]
    assert examples["num_examples"] == {"train": PIPELINE_NUM_TRAIN, "eval": PIPELINE_NUM_TEST}
    assert examples["num_rejected"] == 0
    assert examples["num_negative"] == {"train": 1, "eval": 1}  # trained and scored with a background photo each
    assert trained_pipeline["training"]["end_step"] == TINY_TRAIN_STEPS


def test_evaluation_has_coco_metrics_latency_and_a_blessing(trained_pipeline):
    evaluation = trained_pipeline["evaluation"]
    assert evaluation["num_images"] == PIPELINE_NUM_TEST
    for kind in ("box", "mask"):
        per_class = evaluation[kind]["per_class_AP"]
        assert set(per_class) == {"speaker", "mug"}
        # COCO's AP is the mean of the per-class APs when every class has ground truth in the eval split
        assert evaluation[kind]["AP"] == pytest.approx(sum(per_class.values()) / len(per_class)), kind
    latency = evaluation["latency"]
    assert 0 < latency["median_ms"] <= latency["p95_ms"]
    assert evaluation["throughput"]["images_per_s"] > 0
    blessing = evaluation["blessing"]
    assert blessing["thresholds"] == {"mask_AP50": 0.0}  # the tiny config's: met by any model, for the flow
    # the decision is made on the scored metric: its value against the threshold, then why no baseline
    assert blessing["reasons"] == [
        f"mask_AP50 {evaluation['mask']['AP50']:.3f} >= threshold 0.000",
        "no blessed baseline yet (no model served): judged on thresholds alone",
    ]
    assert blessing["blessed"]
    summary_md = Path(trained_pipeline["evaluation_uri"], "summary.md").read_text()
    assert "BLESSED" in summary_md and "| AP50 |" in summary_md


def test_blessed_model_is_pushed_in_tf_serving_layout_and_predicts(trained_pipeline):
    pushed = trained_pipeline["pushed"]
    assert pushed["pushed"]
    serving_dir, version = os.path.split(pushed["destination"])
    assert version == pushed["version"] and version.isdigit()
    assert _versions(serving_dir) == [version]
    assert os.path.exists(os.path.join(pushed["destination"], "saved_model.pb"))
    assert not os.listdir(serving.staging_root(serving_dir))  # nothing half-copied left behind

    model = tf.saved_model.load(pushed["destination"])
    image = np.full((192, 256, 3), 120, np.uint8)
    outputs = model.signatures["serving_default"](tf.constant([cv2.imencode(".jpg", image)[1].tobytes()]))
    assert outputs["detection_masks_png_bytes"].shape[0] == 1
    assert json.loads(Path(pushed["destination"], "assets", "label_map.json").read_text())["classes"]


def test_reruns_cache_and_refuse_a_model_below_threshold_or_no_better_than_the_served_one(
    trained_pipeline, pipeline_dataset
):
    """Two more runs in the end-to-end run's root (about a minute on 2 cores): the same one, from the cache, and
    one whose blessing no model can meet: its model (the cached one) is evaluated again, against the served one,
    and refused by a threshold and by the regression rule."""
    root = trained_pipeline["pipeline_root"]
    serving_dir = os.path.join(root, "serving")
    served = _versions(serving_dir)

    def run(**changes):
        return run_summary.latest_run(root, local_runner.run(tiny_pipeline(pipeline_dataset, root, **changes)))

    # Unchanged: everything up to the model comes from the cache.
    cached = run()
    states = _states(cached)
    for name in ("ImageMaskExampleGen", "StatisticsGen", "ExampleValidator", "DataGate", "Trainer"):
        assert states[name] == "CACHED", name
    assert cached["model_uri"] == trained_pipeline["model_uri"]
    assert cached["pushed"]["destination"] == trained_pipeline["pushed"]["destination"]  # not pushed twice
    assert _versions(serving_dir) == served

    # A threshold no model can meet and a rule no model can meet (beat the served one by 1.0 AP): not blessed,
    # not pushed, and the run says why, for each rule.
    other = run(blessing=BlessingConfig({"mask_AP50": 1.01}, max_regression=-1.0))
    blessing = other["evaluation"]["blessing"]
    assert _states(other)["Trainer"] == "CACHED" and _states(other)["MaskEvaluator"] != "CACHED"
    assert other["evaluation"]["baseline"]["model_uri"] == trained_pipeline["pushed"]["destination"]
    assert blessing["blessed"] is False
    assert blessing["reasons"][0] == f"mask_AP50 {other['evaluation']['mask']['AP50']:.3f} < threshold 1.010"
    assert [r.split(" ")[0] for r in blessing["reasons"] if "worse than the allowed regression -1.000" in r] == [
        "mask_AP50"
    ]  # the thresholded metric is compared (box and mask AP without thresholds: test_evaluator)
    assert other["pushed"]["pushed"] is False
    assert "NOT BLESSED: mask_AP50" in report_table.format_table([report.build(other)])
    assert _versions(serving_dir) == served
