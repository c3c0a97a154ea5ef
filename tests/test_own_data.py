"""`maskrcnn-tfx run` on datasets unlike the sample: other class names, counts, colours, sizes, orientations
and formats, each through the one command with no schema step; two runs started together on one root, one killed
and resumed. Asserts the flow, never how well a model learns."""
from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO

from sample_data import sample
from sample_data.sample import SampleClass
from pipeline import run_summary

TRAIN_STEPS = 2
# the dataset of the two runs started together (one of them killed and resumed)
ONE_CLASS = dict(classes=(SampleClass("boombox", (200, 30, 30)),), sizes=((640, 480), (400, 300)),
                 portrait_fraction=0.5, voc_fraction=0.5, num_train=8, num_test=4, seed=21)
DATASETS = {
    # written as Ultralytics' data.yaml + images/ + labels/
    "five classes, YOLO segmentation, square to wide and large photos": dict(
        classes=(SampleClass("vase", (255, 128, 0)), SampleClass("clock", (40, 40, 40)),
                 SampleClass("lamp", (0, 200, 255)), SampleClass("book", (250, 250, 250)),
                 SampleClass("cactus", (0, 100, 0))),
        sizes=((300, 300), (1000, 750), (1000, 562), (480, 360)), portrait_fraction=0.3, voc_fraction=0.0,
        num_train=10, num_test=6, seed=23, format="yolo"),
}
COCO_CATEGORIES = {3: "drill", 7: "hammer", 11: "wrench"}


def seed_to_coco(seed_dir: Path, out: Path, classes: tuple[SampleClass, ...], category_ids: list[int]) -> Path:
    """The generated photos as a COCO dataset (instances_train.json / instances_val.json, polygons)."""
    out.mkdir(parents=True)
    for role, folder in (("train", "train"), ("val", "test")):
        (out / "images" / role).mkdir(parents=True)
        entries, annotations = [], []
        for mask_path in sorted((seed_dir / f"{folder}_masks").glob("*.png")):
            photo = seed_dir / f"{folder}_images" / f"{mask_path.stem}.jpg"
            (out / "images" / role / photo.name).write_bytes(photo.read_bytes())
            gray = cv2.cvtColor(cv2.imread(str(mask_path)), cv2.COLOR_BGR2GRAY)
            image_id = len(entries) + 1
            entries.append({"id": image_id, "file_name": photo.name, "height": gray.shape[0], "width": gray.shape[1]})
            for cls, category_id in zip(classes, category_ids):
                n, labels = cv2.connectedComponents((gray == cls.pixel_value).astype(np.uint8), connectivity=8)
                for k in range(1, n):
                    contours, _ = cv2.findContours((labels == k).astype(np.uint8), cv2.RETR_EXTERNAL,
                                                   cv2.CHAIN_APPROX_SIMPLE)
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                        "category_id": category_id, "iscrowd": 0,
                                        "segmentation": [c.ravel().astype(float).tolist() for c in contours]})
        (out / "annotations").mkdir(exist_ok=True)
        (out / "annotations" / f"instances_{role}.json").write_text(json.dumps({
            "images": entries, "annotations": annotations,
            "categories": [{"id": i, "name": n} for i, n in COCO_CATEGORIES.items()]}))
    return out


def run(dataset: Path, root: Path, *extra: str) -> dict:
    """`maskrcnn-tfx run` in this process; its summary and what it printed."""
    import contextlib
    import io

    from pipeline import cli, run_summary

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["run", "--dataset", str(dataset), "--config", "tiny", "--train-steps", str(TRAIN_STEPS),
                         "--pipeline-root", str(root), "--serving-dir", str(root / "serving"), *extra])
    assert code == 0, err.getvalue()[-3000:]
    return {**run_summary.latest_run(str(root)), "printed": out.getvalue()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Each dataset through `maskrcnn-tfx run` in its own pipeline root; the COCO one after the five-class run, in
    its root, so that its baseline has other classes, and fine-tuned from the five-class model. About 3 minutes
    on 2 cores: two whole runs, each the only one on its kind of dataset."""
    results = {}
    for name, options in DATASETS.items():
        dataset = tmp_path_factory.mktemp("own") / "dataset"
        written = sample.generate(dataset, num_unlabelled=1, **options)
        root = tmp_path_factory.mktemp("root")
        results[name] = {"options": options, "root": root, "num_objects": written.num_objects, **run(dataset, root)}
    coco_classes = tuple(SampleClass(n, c) for n, c in zip(COCO_CATEGORIES.values(),
                                                            [(230, 0, 0), (0, 0, 230), (0, 210, 0)]))
    seed_dir = tmp_path_factory.mktemp("coco-seed") / "dataset"
    sample.generate(seed_dir, classes=coco_classes, sizes=((512, 384), (360, 640)), num_train=8, num_test=4,
                    num_unlabelled=0, seed=24)
    coco = seed_to_coco(seed_dir, tmp_path_factory.mktemp("coco") / "dataset", coco_classes, list(COCO_CATEGORIES))
    first = results[next(iter(DATASETS))]
    five_class_model = next(c for c in first["components"] if c["component"] == "Trainer")["outputs"]["ModelRun"]
    results["coco"] = {"root": first["root"], "init_from": five_class_model,
                       **run(coco, first["root"], "--init-checkpoint", five_class_model, "--init-modules", "all")}
    return results


def _schema_classes(summary) -> tuple[tuple[int, int], tuple[str, ...]]:
    import tensorflow_data_validation as tfdv

    from components.schema_gen.schema import stated_classes

    schema_gen = next(c for c in summary["components"] if c["component"] == "LabelMapSchemaGen")
    return stated_classes(tfdv.load_schema_text(os.path.join(schema_gen["outputs"]["Schema"], "schema.pbtxt")))


def _check_flow(summary: dict, names: tuple[str, ...], num_train: int, num_test: int) -> None:
    assert {c["state"] for c in summary["components"]} == {"COMPLETE"}
    assert summary["examples"]["num_examples"] == {"train": num_train, "eval": num_test}
    assert summary["examples"]["num_rejected"] == 0
    assert _schema_classes(summary) == ((1, len(names)), tuple(sorted(names)))
    assert summary["validation"].endswith("anomalies: none")
    assert summary["training"]["end_step"] == TRAIN_STEPS
    for kind in ("box", "mask"):
        assert list(summary["evaluation"][kind]["per_class_AP"]) == list(names)
    blessing = summary["evaluation"]["blessing"]  # tiny: mask_AP50 >= 0, met by any model, for the flow
    assert blessing["reasons"][0] == f"mask_AP50 {summary['evaluation']['mask']['AP50']:.3f} >= threshold 0.000"
    assert blessing["blessed"]
    assert summary["pushed"]["pushed"] and os.path.isdir(summary["pushed"]["destination"])
    label_map = json.loads(open(os.path.join(summary["pushed"]["destination"], "assets", "label_map.json")).read())
    assert [c["name"] for c in label_map["classes"]] == list(names)
    assert "[run] pipeline finished" in summary["printed"]


@pytest.mark.parametrize("name", list(DATASETS))
def test_a_generated_dataset_runs_with_no_schema_step(runs, name):
    result = runs[name]
    options = result["options"]
    names = tuple(c.name for c in options["classes"])
    _check_flow(result, names, options["num_train"], options["num_test"])
    if "format" in options:  # every object drawn is an instance, read from the format's own files
        assert result["examples"]["format"] == options["format"]
        assert sum(result["examples"]["num_instances"].values()) == result["num_objects"]
        assert result["examples"]["num_unlabelled"] == 1
    predictions = Path(result["root"]) / "reports" / f"predictions-{result['run_id']}"
    assert sorted(p.name for p in predictions.glob("*.png")) == ["unlabelled_0000.png"]


def test_a_coco_dataset_with_sparse_category_ids_runs_and_a_baseline_of_other_classes_is_not_comparable(runs):
    result = runs["coco"]
    _check_flow(result, tuple(COCO_CATEGORIES.values()), 8, 4)
    # fine-tuned from the five-class model: everything but the class layers (6 outputs there, 4 here) restored
    init = result["training"]["init"]
    assert init["checkpoint"].startswith(result["init_from"]) and init["restored"] > 300
    assert init["reinitialised"] == ["detection_head/0/_box_regressor/bias", "detection_head/0/_box_regressor/kernel",
                                     "detection_head/0/_classifier/bias", "detection_head/0/_classifier/kernel",
                                     "mask_head/_mask_regressor/bias", "mask_head/_mask_regressor/pointwise_kernel"]
    assert "fine-tuned from" in result["printed"]
    label_map = json.loads(open(os.path.join(result["examples_uri"], "label_map.json")).read())
    assert [(c["id"], c["source_id"]) for c in label_map["classes"]] == [(1, 3), (2, 7), (3, 11)]
    reasons = result["evaluation"]["blessing"]["reasons"]
    served = ", ".join(c.name for c in next(iter(DATASETS.values()))["classes"])
    assert any(f"trained on other classes ({served} vs drill, hammer, wrench): not comparable" in r for r in reasons)
    assert "baseline" not in result["evaluation"]


def _checkpoint_steps(root: str) -> list[int]:
    """Steps of the checkpoints the manager recorded as complete: a kill during a save leaves its ckpt-N.index
    behind without its record, and training rightly resumes from the one before."""
    import tensorflow as tf

    steps = []
    for folder in glob.glob(os.path.join(root, "Trainer", "model_run", "*")):
        state = tf.train.get_checkpoint_state(folder)
        steps += [int(p.rsplit("-", 1)[1]) for p in (state.all_model_checkpoint_paths if state else [])]
    return steps


def _run_id(printed: str) -> str:
    return re.search(r"^\[run\] run id (\S+)", printed, re.M).group(1)


@pytest.mark.slow  # two pipeline runs, one of them resumed
def test_two_runs_started_together_in_one_root_one_killed_and_resumed(tmp_path):
    """Two `maskrcnn-tfx run` processes a few seconds apart on one pipeline root (one metadata store, one cache,
    one serving folder), on a one-class dataset with VOC boxes, portrait and landscape: the second is killed
    mid-training (SIGKILL), the first still finishes and reports its own run; the second, run again (in this
    process), resumes from its last complete checkpoint; both models pushed, nothing lost. About 3 minutes on 2
    cores: processes of their own and a resume across TFX executions are what is tested."""
    from pipeline import cli

    dataset = tmp_path / "dataset"
    sample.generate(dataset, num_unlabelled=1, **ONE_CLASS)
    root, serving_dir = tmp_path / "root", tmp_path / "root" / "serving"
    common = ["run", "--dataset", str(dataset), "--config", "tiny", "--max-regression", "1", "--pipeline-root",
              str(root), "--serving-dir", str(serving_dir)]  # --max-regression 1: each model pushed
    argv = {"first": [*common, "--train-steps", str(TRAIN_STEPS)],
            "killed": [*common, "--train-steps", "30", "--set", "trainer.checkpoint_interval=5"]}
    env = dict(os.environ, PYTHONPATH=str(REPO))
    processes, logs = {}, {}
    for name, args in argv.items():
        logs[name] = tmp_path / f"{name}.log"
        with open(logs[name], "w") as log:
            processes[name] = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, env=env,
                                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(3)
    killed, deadline = processes["killed"], time.monotonic() + 900
    while not [s for s in _checkpoint_steps(str(root)) if s >= 10] and killed.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    saved = max(_checkpoint_steps(str(root)))
    assert 10 <= saved < 30, "the second run must be killed mid-training"
    assert processes["first"].wait(timeout=900) == 0, logs["first"].read_text()[-3000:]

    printed = {name: log.read_text() for name, log in logs.items()}
    first_id, killed_id = _run_id(printed["first"]), _run_id(printed["killed"])
    first = {**run_summary.latest_run(str(root), first_id), "printed": printed["first"]}
    _check_flow(first, ("boombox",), ONE_CLASS["num_train"], ONE_CLASS["num_test"])
    assert killed_id not in printed["first"] and f"report-{first_id}.json" in printed["first"]
    assert sorted(p.name for p in (root / "reports" / f"predictions-{first_id}").glob("*.png")) == \
        ["unlabelled_0000.png"]

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(argv["killed"]) == 0
    resumed_id = _run_id(out.getvalue())
    resumed = run_summary.latest_run(str(root), resumed_id)
    assert resumed_id not in (first_id, killed_id) and first_id not in out.getvalue()
    assert resumed["training"]["start_step"] >= saved and resumed["training"]["end_step"] == 30
    assert resumed["training"]["steps"] == 30 - resumed["training"]["start_step"]
    assert re.search(rf"^training steps +{resumed['training']['start_step']} -> 30$", out.getvalue(), re.M)
    assert run_summary.run_ids(str(root)) == [first_id, killed_id, resumed_id]
    versions = sorted(p.name for p in serving_dir.iterdir() if p.name.isdigit())
    assert versions == sorted([first["pushed"]["version"], resumed["pushed"]["version"]])  # neither overwritten
