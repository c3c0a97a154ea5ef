"""Accuracy over training time: evaluations while training, a run that stops at its target, the curve and the
time to the blessing thresholds in the report, one progress line per train loop. No test depends on how well
a model learns: the flow is checked on thresholds any model meets."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import cv2
import pytest
import tensorflow as tf

from components.trainer import experiment, training
from components.util.eval_split import load_eval_split
from conftest import TINY_EVAL_INTERVAL, TINY_TRAIN_STEPS
from dataset import layout
from pipeline import report, report_table


def test_stop_at_ends_training_at_the_first_evaluation_meeting_it(sample_ingested, tmp_path):
    examples = str(sample_ingested)
    params = experiment.experiment_for_examples("tiny", examples, train_steps=6)
    evaluation = training.Evaluation(
        load_eval_split(examples), layout.read_label_map(examples), interval=2, stop_at={"mask_AP50": 0.0}
    )
    out = io.StringIO()
    record = training.train(params, str(tmp_path / "run"), evaluation, out=out)
    assert record["end_step"] == 2
    assert record["end_reason"].startswith("stopped at step 2: mask_AP50 ")
    assert [p["step"] for p in record["accuracy_over_time"]] == [2]
    assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-2")  # what the Trainer exports
    printed = out.getvalue()
    assert "[train] step 1/6 | " in printed and "[train] evaluation at step 2: box_AP " in printed
    assert re.search(r"\[train\] evaluation at step 2: box_AP \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", printed)
    assert "train | step:" not in printed  # Orbit's loss dictionaries go to the log, not the terminal


def test_points_at_the_interval_agree_with_the_final_evaluation(trained_pipeline):
    points = trained_pipeline["training"]["accuracy_over_time"]
    assert [p["step"] for p in points] == [TINY_EVAL_INTERVAL, TINY_TRAIN_STEPS]
    assert all(0.0 <= p[k] <= 1.0 for p in points for k in ("box_AP", "box_AP50", "mask_AP", "mask_AP50"))
    # each point with its bootstrap interval over the eval images, as the final evaluation has
    assert all(
        0.0 <= p["interval"][k][0] <= p["interval"][k][1] <= 1.0
        for p in points
        for k in ("box_AP", "box_AP50", "mask_AP", "mask_AP50")
    )
    assert points[0]["seconds"] < points[1]["seconds"] <= trained_pipeline["training"]["wall_time_s"] + 0.01
    final = trained_pipeline["evaluation"]
    # The last point scores the final checkpoint through the serving preprocessing, as MaskEvaluator scores the
    # SavedModel exported from it: the same AP up to float rounding in the two graphs (tolerance 0.02).
    for kind in ("box", "mask"):
        for key in ("AP", "AP50"):
            assert points[-1][f"{kind}_{key}"] == pytest.approx(final[kind][key], abs=0.02), (kind, key)


def test_the_report_has_the_curve_and_the_time_to_threshold(trained_pipeline, tmp_path):
    built = report.build(trained_pipeline)
    assert built["accuracy_over_time"] == trained_pipeline["training"]["accuracy_over_time"]
    # tiny's threshold (mask AP50 >= 0) is met at the first evaluation
    assert built["steps_to_threshold"] == TINY_EVAL_INTERVAL
    assert built["time_to_threshold_s"] == trained_pipeline["training"]["accuracy_over_time"][0]["seconds"]
    table = report_table.format_table([built])
    assert "evaluations in training" in table and f"2, every {TINY_EVAL_INTERVAL} steps" in table
    assert "time to threshold s" in table
    json_path, png_path = report.write([built], str(tmp_path))
    assert json.loads(Path(json_path).read_text())["steps_to_threshold"] == TINY_EVAL_INTERVAL
    assert (
        cv2.imread(png_path).shape[1] == 2400
    )  # four panels: times, loss, final AP and intervals, accuracy in training
    assert report.time_to_threshold(built["accuracy_over_time"], {"mask_AP50": 1.01}) == (None, None)
    assert report.time_to_threshold(built["accuracy_over_time"], {"mask_AP75": 0.0}) == (None, None)


def test_the_terminal_shows_one_line_per_train_loop(trained_pipeline):
    lines = [line for line in trained_pipeline["printed"].splitlines() if line.startswith("[train] step ")]
    assert [line.split(" | ")[0] for line in lines] == [
        f"[train] step {i}/{TINY_TRAIN_STEPS}" for i in range(1, TINY_TRAIN_STEPS + 1)
    ]
    assert all("steps/s" in line and "images/s" in line and "loss " in line for line in lines)
    assert "mask AP50" in lines[-1]
    assert "train | step:" not in trained_pipeline["printed"]
