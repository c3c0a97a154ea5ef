"""Two `maskrcnn-tfx run` processes started together on one pipeline root, one killed mid-training and resumed."""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO
from pipeline import run_summary
from run_flow import TRAIN_STEPS, check_flow
from sample_data import sample
from sample_data.sample_classes import SampleClass

# the dataset of the two runs started together (one of them killed and resumed)
ONE_CLASS = dict(
    classes=(SampleClass("boombox", (200, 30, 30)),),
    sizes=((640, 480), (400, 300)),
    portrait_fraction=0.5,
    voc_fraction=0.5,
    num_train=8,
    num_test=4,
    seed=21,
)


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
    common = [
        "run",
        "--dataset",
        str(dataset),
        "--config",
        "tiny",
        "--max-regression",
        "1",
        "--pipeline-root",
        str(root),
        "--serving-dir",
        str(serving_dir),
    ]  # --max-regression 1: each model pushed
    argv = {
        "first": [*common, "--train-steps", str(TRAIN_STEPS)],
        "killed": [*common, "--train-steps", "30", "--set", "trainer.checkpoint_interval=5"],
    }
    env = dict(os.environ, PYTHONPATH=str(REPO))
    processes, logs = {}, {}
    for name, args in argv.items():
        logs[name] = tmp_path / f"{name}.log"
        with open(logs[name], "w") as log:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", *args],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        time.sleep(3)
    killed, deadline = processes["killed"], time.monotonic() + 900
    while (
        not [s for s in _checkpoint_steps(str(root)) if s >= 10]
        and killed.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    saved = max(_checkpoint_steps(str(root)))
    assert 10 <= saved < 30, "the second run must be killed mid-training"
    assert processes["first"].wait(timeout=900) == 0, logs["first"].read_text()[-3000:]

    printed = {name: log.read_text() for name, log in logs.items()}
    first_id, killed_id = _run_id(printed["first"]), _run_id(printed["killed"])
    first = {**run_summary.latest_run(str(root), first_id), "printed": printed["first"]}
    check_flow(first, ("boombox",), ONE_CLASS["num_train"], ONE_CLASS["num_test"])
    assert killed_id not in printed["first"] and f"report-{first_id}.json" in printed["first"]
    assert sorted(p.name for p in (root / "reports" / f"predictions-{first_id}").glob("*.png")) == [
        "unlabelled_0000.png"
    ]

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
