"""`maskrcnn-tfx run` on datasets unlike the sample (tests/own_runs.py): other class names, counts, colours,
sizes, orientations and formats, each through the one command with no schema step. Asserts the flow, never how
well a model learns."""

from __future__ import annotations

import json
from pathlib import Path

from own_runs import COCO_CATEGORIES, FIVE_CLASSES, ONE_CLASS
from run_flow import check_flow


def test_a_five_class_yolo_dataset_of_square_to_wide_and_large_photos_runs_with_no_schema_step(own_runs):
    result = own_runs["five classes"]
    check_flow(
        result, tuple(c.name for c in FIVE_CLASSES["classes"]), FIVE_CLASSES["num_train"], FIVE_CLASSES["num_test"]
    )
    # every object drawn is an instance, read from the format's own files
    assert result["examples"]["format"] == FIVE_CLASSES["format"]
    assert sum(result["examples"]["num_instances"].values()) == result["num_objects"]
    assert result["examples"]["num_unlabelled"] == 1
    predictions = Path(own_runs["root"]) / "reports" / f"predictions-{result['run_id']}"
    assert sorted(p.name for p in predictions.glob("*.png")) == ["unlabelled_0000.png"]


def test_a_coco_dataset_with_sparse_category_ids_runs_and_a_baseline_of_other_classes_is_not_comparable(own_runs):
    result = own_runs["coco"]
    check_flow(result, tuple(COCO_CATEGORIES.values()), 8, 4)
    # fine-tuned from the five-class model: everything but the class layers (6 outputs there, 4 here) restored
    init = result["training"]["init"]
    assert init["checkpoint"].startswith(result["init_from"]) and init["restored"] > 300
    assert init["reinitialised"] == [
        "detection_head/0/_box_regressor/bias",
        "detection_head/0/_box_regressor/kernel",
        "detection_head/0/_classifier/bias",
        "detection_head/0/_classifier/kernel",
        "mask_head/_mask_regressor/bias",
        "mask_head/_mask_regressor/pointwise_kernel",
    ]
    assert "fine-tuned from" in result["printed"]
    label_map = json.loads(Path(result["examples_uri"], "label_map.json").read_text())
    assert [(c["id"], c["source_id"]) for c in label_map["classes"]] == [(1, 3), (2, 7), (3, 11)]
    reasons = result["evaluation"]["blessing"]["reasons"]
    served = ", ".join(c.name for c in ONE_CLASS["classes"])  # the newest version: the resumed run's
    assert any(f"trained on other classes ({served} vs drill, hammer, wrench): not comparable" in r for r in reasons)
    assert "baseline" not in result["evaluation"]
