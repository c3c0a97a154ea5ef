"""Two `maskrcnn-tfx run` processes started together on one pipeline root, one killed mid-training and resumed
(tests/own_runs.py)."""

from __future__ import annotations

import re

from own_runs import KILLED_AT_LEAST, KILLED_STEPS, ONE_CLASS
from pipeline import run_summary
from run_flow import check_flow


def test_two_runs_started_together_in_one_root_one_killed_and_resumed(own_runs):
    """The five-class run still finishes and reports its own run; the killed one-class run, run again, resumes
    from its last complete checkpoint; every model pushed, nothing lost."""
    first, killed, resumed = own_runs["five classes"], own_runs["killed"], own_runs["resumed"]
    assert KILLED_AT_LEAST <= own_runs["saved"] < KILLED_STEPS, "the second run must be killed mid-training"
    assert killed["run_id"] not in first["printed"] and f"report-{first['run_id']}.json" in first["printed"]
    assert first["run_id"] not in resumed["printed"]

    states = {c["component"]: c["state"] for c in resumed["components"]}
    assert states["ImageMaskExampleGen"] == "CACHED"  # the killed run's examples
    assert states["Trainer"] == states["MaskEvaluator"] == states["Pusher"] == "COMPLETE"
    check_flow(resumed, ("boombox",), ONE_CLASS["num_train"], ONE_CLASS["num_test"], KILLED_STEPS)
    assert resumed["training"]["start_step"] >= own_runs["saved"]
    assert resumed["training"]["steps"] == KILLED_STEPS - resumed["training"]["start_step"]
    start = resumed["training"]["start_step"]
    assert re.search(rf"^training steps +{start} -> {KILLED_STEPS}$", resumed["printed"], re.M)
    predictions = own_runs["root"] / "reports" / f"predictions-{resumed['run_id']}"
    assert sorted(p.name for p in predictions.glob("*.png")) == ["unlabelled_0000.png"]

    ids = [first["run_id"], killed["run_id"], resumed["run_id"], own_runs["coco"]["run_id"]]
    assert run_summary.run_ids(str(own_runs["root"])) == ids
    versions = sorted(p.name for p in (own_runs["root"] / "serving").iterdir() if p.name.isdigit())
    pushed = [own_runs[name]["pushed"]["version"] for name in ("five classes", "resumed", "coco")]
    assert versions == sorted(pushed)  # none overwritten
