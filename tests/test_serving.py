"""Serving: the compact answer, TF Serving's REST rules, the warm-up file, the serving check, `serve` and
`predict --url`."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from components.serving_check import client, server
from components.serving_check import executor as check_executor
from components.trainer.export import compact
from components.util import serving_contract as contract
from conftest import REPO, photo
from pipeline import cli

MASK = np.zeros((28, 28), np.float32)
MASK[7:21, 7:21] = 1.0


def _outputs(scores: list[list[float]], counts: list[int]) -> dict[str, tf.Tensor]:
    """Model Garden's padded outputs for a batch, boxes in an input resized by half."""
    batch, width = len(scores), len(scores[0])
    return {
        "detection_scores": tf.constant(scores, tf.float32),
        "num_detections": tf.constant(counts, tf.int32),
        "detection_boxes": tf.constant([[[5, 10, 20, 25]] * width] * batch, tf.float32),
        "detection_classes": tf.constant([[2] * width] * batch, tf.int32),
        "detection_masks": tf.constant(np.broadcast_to(MASK, (batch, width, 28, 28))),
        "image_info": tf.constant([[[60, 80], [30, 40], [0.5, 0.5], [0, 0]]] * batch, tf.float32),
    }


def test_the_answer_keeps_the_best_detections_above_min_score_in_the_photos_pixels():
    outputs = compact(
        _outputs([[0.9, 0.3, 0.04, 0.2], [0.6, 0.5, 0.0, 0.0]], [4, 2]),
        contract.ServingConfig(max_detections=3, min_score=0.05),
    )
    assert outputs[contract.COUNT].numpy().tolist() == [2, 2]  # the best-first run above 0.05 ends at 0.04
    assert outputs[contract.SCORES].shape == (2, 2)  # padded to the batch's largest count, not to 100
    first, second = contract.answers({k: v.numpy() for k, v in outputs.items()})
    np.testing.assert_allclose(first.boxes, [[10, 20, 40, 50]] * 2)  # resized input / 0.5 = the photo's pixels
    np.testing.assert_array_equal(first.masks[0], MASK)
    assert first.classes.tolist() == [2, 2] and second.scores.tolist() == pytest.approx([0.6, 0.5])
    capped = compact(_outputs([[0.9, 0.8, 0.7]], [3]), contract.ServingConfig(max_detections=1))
    assert capped[contract.COUNT].numpy().tolist() == [1] and capped[contract.MASKS].shape == (1, 1)
    nothing = compact(_outputs([[0.01, 0.0]], [1]), contract.ServingConfig())
    assert nothing[contract.COUNT].numpy().tolist() == [0] and contract.answers(
        {k: v.numpy() for k, v in nothing.items()}
    )[0].boxes.shape == (0, 4)


def test_rest_bodies_are_read_and_answered_as_tf_serving_does():
    specs = {"inputs": tf.TensorSpec([None], tf.string)}
    rows, row_format = server.request_inputs({"instances": [{"b64": base64.b64encode(b"\x89PNG").decode()}]}, specs)
    assert row_format and rows["inputs"].tolist() == [b"\x89PNG"]
    columns, row_format = server.request_inputs({"inputs": {"inputs": [{"b64": "AAE="}]}}, specs)
    assert not row_format and columns["inputs"].tolist() == [b"\x00\x01"]
    with pytest.raises(ValueError, match="exactly one of"):
        server.request_inputs({"instances": [], "inputs": []}, specs)
    answer = server.answer(
        {
            "scores_bytes": np.array([[b"\x00"]], object),
            "n": np.array([1], np.int32),
            "s": np.array([[0.1, 1 / 3]], np.float32),
        },
        row_format=True,
    )
    # _bytes strings as b64 objects, float32 in the fewest digits that read back (util/json_tensor.cc)
    assert answer == {"predictions": [{"scores_bytes": [{"b64": "AA=="}], "n": 1, "s": [0.1, 0.33333334]}]}
    assert server.answer({"n": np.array([1, 2])}, row_format=False) == {"outputs": {"n": [1, 2]}}


def test_the_pushed_version_carries_the_contract_and_a_warm_up_replayed_in_a_fresh_process(trained_pipeline):
    """The serving check's server is a fresh process that replays every warm-up record at load, as TF Serving
    does, and refuses the model on any error (server.replay_warmup): its report counts the records it replayed."""
    from tensorflow_serving.apis import prediction_log_pb2

    version = trained_pipeline["pushed"]["destination"]
    assert contract.ServingConfig.read(os.path.join(version, "assets")) == contract.ServingConfig()
    requests = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy()).predict_log.request
        for r in tf.data.TFRecordDataset(os.path.join(version, contract.WARMUP_FILE))
    ]
    assert sorted(r.model_spec.signature_name for r in requests) == sorted(contract.SIGNATURES.values())
    check = trained_pipeline["serving_check"]
    assert check["ok"] and check["server"]["warmup_records"] == len(requests)
    assert check["server"]["warmup_first_call_s"] > 0


def test_the_serving_check_served_the_model_before_its_push(trained_pipeline):
    check = trained_pipeline["serving_check"]
    assert check["ok"] and check["reason"] == "served and answered 2 eval images as the evaluator saw them"
    assert check["answer_bytes"] > 0 and check["steady_request_ms"] > 0 and check["first_request_ms"] > 0
    assert "[serving check] passed: served and answered 2 eval images" in trained_pipeline["printed"]


def test_a_warm_up_record_the_model_cannot_answer_stops_the_load(tmp_path):
    """What TF Serving does with a warm-up file that fails: the version does not load."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    model = _failing_model(tmp_path / "model")
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = contract.SERVING_DEFAULT
    request.inputs["inputs"].CopyFrom(tf.make_tensor_proto([b"not a number"]))
    (model / "assets.extra").mkdir()
    with tf.io.TFRecordWriter(str(model / contract.WARMUP_FILE)) as writer:
        writer.write(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            ).SerializeToString()
        )
    with pytest.raises(RuntimeError, match=r"warm-up record 1 \(serving_default\) fails"):
        server.replay_warmup(tf.saved_model.load(str(model)), str(model))


def _failing_model(path: Path) -> Path:
    """A SavedModel that loads and whose serving_default fails on every photo."""
    module = tf.Module()
    module.f = tf.function(
        lambda inputs: {"n": tf.strings.to_number(inputs)}, input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})
    return path


def test_the_serving_check_stops_a_model_that_does_not_load_or_does_not_answer(tmp_path):
    expected = [contract.Answer(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 28, 28)))]
    image = [cv2.imencode(".jpg", photo())[1].tobytes()]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    report = check_executor.check(str(broken), image, expected, 120, str(tmp_path))
    assert not report["ok"] and report["reason"].startswith("the model server did not load the model")
    assert "does not load" in report["reason"]  # the server's own line, from its log
    report = check_executor.check(str(_failing_model(tmp_path / "failing")), image, expected, 120, str(tmp_path))
    assert not report["ok"] and "did not answer eval image 1" in report["reason"], report["reason"]
    assert "HTTP 400" in report["reason"] and "serving_default" in report["reason"]


@pytest.fixture(scope="module")
def served(trained_pipeline, tmp_path_factory):
    """`maskrcnn-tfx serve` on the pushed model's serving folder, on TF Serving's ports, as docs/serving.md."""
    serving_dir = os.path.dirname(trained_pipeline["pushed"]["destination"])
    log = open(tmp_path_factory.mktemp("serve") / "serve.log", "w")  # noqa: SIM115 - the server writes it until teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--model", serving_dir],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{server.DEFAULT_PORT}/v1/models/{server.DEFAULT_NAME}"
    try:
        client.wait_ready(url, 300, alive=lambda: process.poll() is None)
        yield {"url": url, "serving_dir": serving_dir, "version": trained_pipeline["pushed"]["destination"]}
    finally:
        process.kill()
        process.wait()
        log.close()


def test_predict_url_against_serve_writes_what_predict_model_writes(served, pipeline_dataset, tmp_path):
    images = sorted(str(p) for p in (pipeline_dataset / "test_images").iterdir())[:2]
    label_map = os.path.join(served["version"], "assets", "label_map.json")
    assert (
        cli.main(
            [
                "predict",
                "--url",
                served["url"],
                "--label-map",
                label_map,
                "--min-score",
                "0",
                "--output",
                str(tmp_path / "url"),
                *images,
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "predict",
                "--model",
                served["serving_dir"],
                "--min-score",
                "0",
                "--output",
                str(tmp_path / "local"),
                *images,
            ]
        )
        == 0
    )
    for image in images:
        name = Path(image).stem + ".json"
        remote, local = (json.loads((tmp_path / where / name).read_text()) for where in ("url", "local"))
        assert remote.pop("model") == served["url"] and local.pop("model") == served["version"]
        assert remote == local, name  # the same detections, scores, boxes and RLE masks


def test_a_512x384_photo_is_answered_in_under_100_kb(served):
    data = cv2.imencode(".jpg", photo(512, 384))[1].tobytes()
    answers, size = client.predict(served["url"], [data])
    assert size <= 100_000 and len(answers[0]) <= contract.DEFAULT_MAX_DETECTIONS


@pytest.mark.parametrize("example, printed", [("rest", r"^\d+ detections$"), ("grpc", r"^(\d+) detections, \1 masks$")])
def test_the_examples_of_docs_serving_work_as_written(served, tmp_path, example, printed):
    text = (REPO / "docs" / "serving.md").read_text()
    code = re.search(rf"<!-- {example}-example -->\n```python\n(.*?)```", text, re.S).group(1)
    cv2.imwrite(str(tmp_path / "photo.jpg"), photo(512, 384))
    ran = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert re.search(printed, ran.stdout, re.M), ran.stdout
