"""What a `maskrcnn-tfx run` of a few steps on a dataset of its own must show, whatever the dataset
(test_own_data.py, test_resume.py): every step complete (or cached), the classes through the schema, blessed and
pushed with its label map. It asserts the flow, never how well a model learns."""

from __future__ import annotations

import json
import os
from pathlib import Path

TRAIN_STEPS = 2


def _schema_classes(summary) -> tuple[tuple[int, int], tuple[str, ...]]:
    import tensorflow_data_validation as tfdv

    from components.schema_gen.schema import stated_classes

    schema_gen = next(c for c in summary["components"] if c["component"] == "LabelMapSchemaGen")
    return stated_classes(tfdv.load_schema_text(os.path.join(schema_gen["outputs"]["Schema"], "schema.pbtxt")))


def check_flow(
    summary: dict, names: tuple[str, ...], num_train: int, num_test: int, train_steps: int = TRAIN_STEPS
) -> None:
    # CACHED: done for the same inputs by an earlier run in the root (a killed one)
    assert {c["state"] for c in summary["components"]} <= {"COMPLETE", "CACHED"}
    assert summary["examples"]["num_examples"] == {"train": num_train, "eval": num_test}
    assert summary["examples"]["num_rejected"] == 0
    assert _schema_classes(summary) == ((1, len(names)), tuple(sorted(names)))
    assert summary["validation"].endswith("anomalies: none")
    assert summary["training"]["end_step"] == train_steps
    for kind in ("box", "mask"):
        assert list(summary["evaluation"][kind]["per_class_AP"]) == list(names)
    blessing = summary["evaluation"]["blessing"]  # tiny: mask_AP50 >= 0, met by any model, for the flow
    assert blessing["reasons"][0] == f"mask_AP50 {summary['evaluation']['mask']['AP50']:.3f} >= threshold 0.000"
    assert blessing["blessed"]
    assert summary["pushed"]["pushed"] and os.path.isdir(summary["pushed"]["destination"])
    label_map = json.loads(Path(summary["pushed"]["destination"], "assets", "label_map.json").read_text())
    assert [c["name"] for c in label_map["classes"]] == list(names)
    assert "[run] pipeline finished" in summary["printed"]
