"""`maskrcnn-tfx run` on datasets unlike the sample, all in one pipeline root (one metadata store, one cache, one
serving folder): five classes in YOLO segmentation and one class with VOC boxes started together as two processes,
the one-class run killed mid-training (SIGKILL) and run again, where it resumes; then a COCO dataset
with sparse category ids, fine-tuned from the five-class model. Read by test_own_data.py and test_resume.py."""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

import side_runs
from conftest import REPO
from run_flow import TRAIN_STEPS
from sample_data import sample
from sample_data.sample_classes import SampleClass

# written as Ultralytics' data.yaml + images/ + labels/
FIVE_CLASSES = dict(
    classes=(
        SampleClass("vase", (255, 128, 0)),
        SampleClass("clock", (40, 40, 40)),
        SampleClass("lamp", (0, 200, 255)),
        SampleClass("book", (250, 250, 250)),
        SampleClass("cactus", (0, 100, 0)),
    ),
    sizes=((300, 300), (1000, 750), (1000, 562), (480, 360)),
    portrait_fraction=0.3,
    voc_fraction=0.0,
    num_train=10,
    num_test=6,
    seed=23,
    format="yolo",
)
# the run killed and resumed: one class, masks with labelImg boxes for half the photos, portrait and landscape
ONE_CLASS = dict(
    classes=(SampleClass("boombox", (200, 30, 30)),),
    sizes=((640, 480), (400, 300)),
    portrait_fraction=0.5,
    voc_fraction=0.5,
    num_train=8,
    num_test=4,
    seed=21,
)
KILLED_AT_LEAST, KILLED_STEPS = 10, 30  # killed once a checkpoint of step 10 or later is complete, of 30
COCO_CATEGORIES = {3: "drill", 7: "hammer", 11: "wrench"}


def checkpoint_steps(root: str) -> list[int]:
    """Steps of the checkpoints the manager recorded as complete: a kill during a save leaves its ckpt-N.index
    behind without its record, and training rightly resumes from the one before."""
    import tensorflow as tf

    steps = []
    for folder in glob.glob(os.path.join(root, "Trainer", "model_run", "*")):
        state = tf.train.get_checkpoint_state(folder)
        steps += [int(p.rsplit("-", 1)[1]) for p in (state.all_model_checkpoint_paths if state else [])]
    return steps


def run_id(printed: str) -> str:
    return re.search(r"^\[run\] run id (\S+)", printed, re.M).group(1)


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
            for cls, category_id in zip(classes, category_ids, strict=True):
                n, labels = cv2.connectedComponents((gray == cls.pixel_value).astype(np.uint8), connectivity=8)
                for k in range(1, n):
                    contours, _ = cv2.findContours(
                        (labels == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
                    )
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": image_id,
                            "category_id": category_id,
                            "iscrowd": 0,
                            "segmentation": [c.ravel().astype(float).tolist() for c in contours],
                        }
                    )
        (out / "annotations").mkdir(exist_ok=True)
        (out / "annotations" / f"instances_{role}.json").write_text(
            json.dumps(
                {
                    "images": entries,
                    "annotations": annotations,
                    "categories": [{"id": i, "name": n} for i, n in COCO_CATEGORIES.items()],
                }
            )
        )
    return out


def _coco_dataset(work: Path) -> Path:
    classes = tuple(
        SampleClass(n, c)
        for n, c in zip(COCO_CATEGORIES.values(), [(230, 0, 0), (0, 0, 230), (0, 210, 0)], strict=True)
    )
    seed_dir = work / "coco-seed"
    sample.generate(
        seed_dir, classes=classes, sizes=((512, 384), (360, 640)), num_train=8, num_test=4, num_unlabelled=0, seed=24
    )
    return seed_to_coco(seed_dir, work / "coco", classes, list(COCO_CATEGORIES))


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _run(argv: list[str], root: Path, log: Path) -> dict:
    """`maskrcnn-tfx run` in a process of its own; its summary and what it printed."""
    from pipeline import run_summary

    with open(log, "w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *argv], cwd=REPO, env=_env(), stdout=out, stderr=out
        )
    printed = log.read_text()
    assert done.returncode == 0, printed[-3000:]
    return {**run_summary.latest_run(str(root), run_id(printed)), "printed": printed}


@side_runs.run("own_runs")
def start_own_runs(request) -> Callable[[], dict]:
    """The runs, in order, beside the other tests: "five classes" and "killed" (two processes a few seconds apart),
    "resumed", "coco"; about 5 minutes on 2 cores. Processes of their own and a resume across TFX executions are
    what is tested."""
    return functools.partial(_own_runs, request.getfixturevalue("tmp_path_factory").mktemp("own-data"))


@pytest.fixture(scope="session")
def own_runs(side_runs) -> dict:
    return side_runs["own_runs"].result()


def _own_runs(work: Path) -> dict:
    from pipeline import run_summary

    num_objects = sample.generate(work / "five", num_unlabelled=1, **FIVE_CLASSES).num_objects
    sample.generate(work / "one", num_unlabelled=1, **ONE_CLASS)
    root = work / "root"

    def argv(dataset: str, steps: int, *extra: str) -> list[str]:
        return [
            "run",
            "--dataset",
            str(work / dataset),
            "--config",
            "tiny",
            "--train-steps",
            str(steps),
            "--pipeline-root",
            str(root),
            "--serving-dir",
            str(root / "serving"),
            *extra,
        ]

    killed_argv = argv("one", KILLED_STEPS, "--set", "trainer.checkpoint_interval=5")
    processes, logs = {}, {}
    for name, args in (("five classes", argv("five", TRAIN_STEPS)), ("killed", killed_argv)):
        logs[name] = work / f"{name}.log"
        with open(logs[name], "w") as log:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", *args],
                cwd=REPO,
                env=_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        time.sleep(3)
    killed, deadline = processes["killed"], time.monotonic() + 900
    while (
        not [s for s in checkpoint_steps(str(root)) if s >= KILLED_AT_LEAST]
        and killed.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    saved = max(checkpoint_steps(str(root)))
    assert processes["five classes"].wait(timeout=900) == 0, logs["five classes"].read_text()[-3000:]
    printed = {name: log.read_text() for name, log in logs.items()}
    runs = {
        "root": root,
        "saved": saved,
        "killed": {"run_id": run_id(printed["killed"]), "printed": printed["killed"]},
        "five classes": {
            **run_summary.latest_run(str(root), run_id(printed["five classes"])),
            "printed": printed["five classes"],
            "num_objects": num_objects,
        },
    }
    runs["resumed"] = _run(killed_argv, root, work / "resumed.log")
    model = next(c for c in runs["five classes"]["components"] if c["component"] == "Trainer")["outputs"]["ModelRun"]
    _coco_dataset(work)
    coco = argv("coco", TRAIN_STEPS, "--init-checkpoint", model, "--init-modules", "all")
    runs["coco"] = {**_run(coco, root, work / "coco.log"), "init_from": model}
    return runs
