"""The run report (ML Metadata -> table, JSON, PNG) and `predict` (overlays, COCO-RLE JSON)."""

import json
import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from conftest import PIPELINE_NUM_TEST, PIPELINE_NUM_TRAIN, TINY_TRAIN_STEPS
from pipeline import cli, local_runner, report, report_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _table_rows(text: str) -> dict[str, list[str]]:
    """label -> cells of the printed table (the label is the text before two spaces)."""
    rows = {}
    for line in text.splitlines():
        label, _, rest = line.partition("  ")
        if rest.strip() and not set(line) <= {"-", " "}:
            rows[label.strip()] = rest.split()
    return rows


@pytest.fixture(scope="module")
def first_run_report(trained_pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    argv = [
        "report",
        "--pipeline-root",
        trained_pipeline["pipeline_root"],
        "--run",
        trained_pipeline["run_id"],
        "--output",
        str(out),
    ]
    return {"argv": argv, "out": out}


def test_report_table_has_every_row_filled(trained_pipeline, first_run_report, capsys):
    assert cli.main(first_run_report["argv"]) == 0
    printed = capsys.readouterr().out
    rows = _table_rows(printed)
    labels = [label for label, _ in report_table.metric_rows(report.build(trained_pipeline))]
    for label in labels + [c["component"] for c in trained_pipeline["components"]] + ["pipeline wall time"]:
        assert label in rows, label
        assert report_table.MISSING not in rows[label], f"{label}: {rows[label]}"
    assert rows["examples (train / eval)"] == [str(PIPELINE_NUM_TRAIN), "/", str(PIPELINE_NUM_TEST)]
    assert rows["blessed"] == ["yes"]
    assert "Validation:" in printed and "anomalies: none" in printed
    # AP with its interval, and how the interval was made
    interval = trained_pipeline["evaluation"]["interval"]
    low, high = interval["mask_AP50"]
    assert rows["mask AP50 [95% interval]"] == [
        f"{trained_pipeline['evaluation']['mask']['AP50']:.3f}",
        f"[{low:.3f},",
        f"{high:.3f}]",
    ]
    assert rows["eval images"] == [str(PIPELINE_NUM_TEST)]
    assert (
        f"Intervals: bootstrap percentile interval: 1000 resamples of the {PIPELINE_NUM_TEST} eval images "
        "with replacement, seed 0"
    ) in printed


def test_report_numbers_match_the_components_outputs(trained_pipeline, first_run_report):
    run_id = trained_pipeline["run_id"]
    assert cli.main(first_run_report["argv"]) == 0
    written = _read_json(first_run_report["out"] / f"report-{run_id}.json")

    # component times: the executions' start and end in ML Metadata
    assert [(c["component"], c["seconds"]) for c in written["components"]] == [
        (c["component"], c["seconds"]) for c in trained_pipeline["components"]
    ]
    assert written["wall_seconds"] >= max(c["seconds"] for c in written["components"])
    # examples: the ingestion summary in the Examples artifact
    examples = _read_json(os.path.join(trained_pipeline["examples_uri"], "ingest_summary.json"))
    assert written["examples"]["num_examples"] == examples["num_examples"]
    assert written["examples"]["num_rejected"] == examples["num_rejected"] == 0
    # training: the Trainer's timing record
    timing = _read_json(os.path.join(trained_pipeline["model_uri"], "training_timing.json"))
    assert written["training"] == timing
    assert timing["steps"] == TINY_TRAIN_STEPS and timing["images_per_s"] > 0
    # loss curve: one point per summary step of the Trainer's TensorBoard logs
    curve = written["loss_curve"]
    assert curve["step"][-1] == TINY_TRAIN_STEPS and len(curve["step"]) == len(curve["value"]) == TINY_TRAIN_STEPS
    assert all(math.isfinite(v) for v in curve["value"])  # how far it falls is the model's business, not the test's
    # evaluation and blessing: the evaluator's metrics.json
    metrics = _read_json(os.path.join(trained_pipeline["evaluation_uri"], "metrics.json"))
    for kind in ("box", "mask"):
        assert written["evaluation"][kind] == {k: v for k, v in metrics[kind].items() if k != "per_class_AP"}
    assert written["evaluation"]["latency"] == metrics["latency"]
    assert written["blessing"] == metrics["blessing"]
    assert written["evaluation"]["interval"] == metrics["interval"]
    for name in ("box_AP", "box_AP50", "box_AP75", "mask_AP", "mask_AP50", "mask_AP75"):
        low, high = metrics["interval"][name]
        assert 0.0 <= low <= high <= 1.0, name
    # push: the pushed version exists in the serving directory
    pushed = written["pushed"]
    assert pushed["pushed"] and os.path.isfile(os.path.join(pushed["destination"], "saved_model.pb"))


def test_report_chart_is_a_valid_png(trained_pipeline, first_run_report):
    assert cli.main(first_run_report["argv"]) == 0
    path = first_run_report["out"] / f"report-{trained_pipeline['run_id']}.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 600
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # something was drawn


def test_compare_puts_runs_side_by_side(trained_pipeline, tmp_path, capsys):
    from pipeline import run_summary

    ids = run_summary.run_ids(trained_pipeline["pipeline_root"])
    assert (
        cli.main(
            ["report", "--pipeline-root", trained_pipeline["pipeline_root"], "--compare", "--output", str(tmp_path)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    compared = _read_json(tmp_path / "report-compare.json")
    assert [r["run_id"] for r in compared] == ids[-5:]
    header = printed.splitlines()[1].split()
    assert header[-len(compared) :] == [r["run_id"] for r in compared]
    assert (tmp_path / "report-compare.png").read_bytes().startswith(PNG_SIGNATURE)


def test_report_on_a_folder_without_runs_says_so(tmp_path, capsys):
    assert cli.main(["report", "--pipeline-root", str(tmp_path)]) == 1
    assert f"no metadata store at {tmp_path}" in capsys.readouterr().err


@pytest.fixture(scope="module")
def images(pipeline_dataset) -> list[str]:
    return [str(pipeline_dataset / "test_images" / name) for name in ("unlabelled_0000.jpg", "test_0000.jpg")]


def test_predict_writes_an_overlay_and_rle_json_per_image(trained_pipeline, images, tmp_path, capsys):
    serving_dir = os.path.dirname(trained_pipeline["pushed"]["destination"])
    assert cli.main(["predict", "--model", serving_dir, *images, "--output", str(tmp_path), "--min-score", "0.05"]) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{stem}.{ext}" for stem in ("unlabelled_0000", "test_0000") for ext in ("png", "json")
    )
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        height, width = cv2.imread(path).shape[:2]
        overlay = cv2.imread(str(tmp_path / f"{stem}.png"))
        assert overlay.shape[:2] == (height, width)
        result = _read_json(tmp_path / f"{stem}.json")
        assert (result["height"], result["width"]) == (height, width)
        assert result["model"] == trained_pipeline["pushed"]["destination"]
        for d in result["detections"]:
            mask = mask_utils.decode(
                {"size": d["segmentation"]["size"], "counts": d["segmentation"]["counts"].encode()}
            )
            assert mask.shape == (height, width)
            assert d["class"] in ("speaker", "mug") and d["score"] >= 0.05
            x0, y0, x1, y1 = d["box_xyxy"]
            assert 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height
            # the mask lies in its box, as Model Garden's paste_instance_masks places it (the box grown by one
            # 28th of the mask's grid a side, and a pixel of rounding); how much of the box it fills is learnt
            ys, xs = np.nonzero(mask)
            grow_x, grow_y = (x1 - x0) / 28 + 1.5, (y1 - y0) / 28 + 1.5
            assert np.all((xs >= x0 - grow_x) & (xs <= x1 + grow_x) & (ys >= y0 - grow_y) & (ys <= y1 + grow_y))
    assert "unlabelled_0000.jpg:" in capsys.readouterr().out


def test_predict_writes_the_detections_it_is_given_as_rle_and_overlay(images, tmp_path):
    """Known detections (what the model would return) through predict's writing: the JSON's RLE decodes to
    the mask given, the overlay tints exactly the mask and boxes it, the rest of the photo is untouched."""
    from pipeline import predict

    height, width = cv2.imread(images[1]).shape[:2]
    mask = np.zeros((height, width), np.uint8)
    mask[40:90, 60:140] = 1
    given = predict.Detection(2, "mug", 0.875, [60.0, 40.0, 140.0, 90.0], mask)

    class Known:
        source = "known"

        def __call__(self, encoded, h, w, min_score):
            assert (h, w, min_score) == (height, width, 0.5)
            return [given]

    result = predict.predict_file(Known(), images[1], str(tmp_path), 0.5)
    [written] = _read_json(tmp_path / "test_0000.json")["detections"]
    assert result["detections"] == [written]
    assert (written["class"], written["class_id"], written["score"], written["box_xyxy"]) == (
        "mug",
        2,
        0.875,
        [60.0, 40.0, 140.0, 90.0],
    )
    decoded = mask_utils.decode(
        {"size": written["segmentation"]["size"], "counts": written["segmentation"]["counts"].encode()}
    )
    assert np.array_equal(decoded, mask)
    photo, drawn = cv2.imread(images[1]), cv2.imread(str(tmp_path / "test_0000.png"))
    changed = np.any(photo.astype(int) != drawn.astype(int), axis=2)
    assert changed[45:85, 65:135].mean() > 0.99  # the mask's inside, tinted
    assert not changed[:, :55].any() and not changed[100:, :].any()  # away from the box and its label


def test_predict_names_each_bad_input_and_still_does_the_good_ones(trained_pipeline, images, tmp_path, capsys):
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("not a photo")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(Path(images[1]).read_bytes()[:300])
    out = tmp_path / "out"
    argv = [
        "predict",
        "--model",
        trained_pipeline["model_uri"],
        str(not_an_image),
        str(truncated),
        images[0],
        str(tmp_path / "missing.jpg"),
        "--output",
        str(out),
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"{not_an_image}: not an image this model can read" in err
    assert f"{truncated}: not an image this model can read" in err
    assert f"{tmp_path / 'missing.jpg'}: no such file" in err
    assert sorted(os.listdir(out)) == ["unlabelled_0000.json", "unlabelled_0000.png"]


def test_predict_without_a_model_says_where_it_looked(tmp_path, images, capsys):
    assert cli.main(["predict", "--model", str(tmp_path), images[0], "--output", str(tmp_path / "out")]) == 1
    assert f"{tmp_path}: no SavedModel here" in capsys.readouterr().err


def test_a_local_run_ends_with_its_report_and_overlays_of_the_unlabelled_images(trained_pipeline, capsys):
    root, run_id = trained_pipeline["pipeline_root"], trained_pipeline["run_id"]
    local_runner.show_results(root, run_id)
    printed = capsys.readouterr().out
    assert f"report-{run_id}.json" in printed
    predictions = os.path.join(root, "reports", f"predictions-{run_id}")
    assert sorted(os.listdir(predictions)) == ["unlabelled_0000.json", "unlabelled_0000.png"]


def test_an_unreadable_unlabelled_image_is_named_and_the_others_still_get_overlays(
    trained_pipeline, images, tmp_path, capsys
):
    from pipeline import predict

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    summary = {
        "examples": {"unlabelled_images": [str(empty), images[0]]},
        "model_uri": trained_pipeline["model_uri"],
        "run_id": "7",
    }
    predict.predict_unlabelled(summary, str(tmp_path / "reports"))
    printed = capsys.readouterr().out
    assert f"[run] no prediction: {empty}: not an image this model can read" in printed
    assert "predictions on 1 of 2 unlabelled images" in printed and "(1 could not be read)" in printed
    stem = os.path.splitext(os.path.basename(images[0]))[0]
    assert sorted(os.listdir(tmp_path / "reports" / "predictions-7")) == [f"{stem}.json", f"{stem}.png"]
