"""`maskrcnn-tfx run` on datasets unlike the sample: other class names, counts, colours, sizes, orientations
and formats, each through the one command with no schema step (two runs started together on one root, one killed
and resumed: test_resume.py). Asserts the flow, never how well a model learns."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from run_flow import TRAIN_STEPS, check_flow
from sample_data import sample
from sample_data.sample_classes import SampleClass

DATASETS = {
    # written as Ultralytics' data.yaml + images/ + labels/
    "five classes, YOLO segmentation, square to wide and large photos": dict(
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
    ),
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


def run(dataset: Path, root: Path, *extra: str) -> dict:
    """`maskrcnn-tfx run` in this process; its summary and what it printed."""
    import contextlib
    import io

    from pipeline import cli, run_summary

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(
            [
                "run",
                "--dataset",
                str(dataset),
                "--config",
                "tiny",
                "--train-steps",
                str(TRAIN_STEPS),
                "--pipeline-root",
                str(root),
                "--serving-dir",
                str(root / "serving"),
                *extra,
            ]
        )
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
    coco_classes = tuple(
        SampleClass(n, c)
        for n, c in zip(COCO_CATEGORIES.values(), [(230, 0, 0), (0, 0, 230), (0, 210, 0)], strict=True)
    )
    seed_dir = tmp_path_factory.mktemp("coco-seed") / "dataset"
    sample.generate(
        seed_dir,
        classes=coco_classes,
        sizes=((512, 384), (360, 640)),
        num_train=8,
        num_test=4,
        num_unlabelled=0,
        seed=24,
    )
    coco = seed_to_coco(seed_dir, tmp_path_factory.mktemp("coco") / "dataset", coco_classes, list(COCO_CATEGORIES))
    first = results[next(iter(DATASETS))]
    five_class_model = next(c for c in first["components"] if c["component"] == "Trainer")["outputs"]["ModelRun"]
    results["coco"] = {
        "root": first["root"],
        "init_from": five_class_model,
        **run(coco, first["root"], "--init-checkpoint", five_class_model, "--init-modules", "all"),
    }
    return results


@pytest.mark.parametrize("name", list(DATASETS))
def test_a_generated_dataset_runs_with_no_schema_step(runs, name):
    result = runs[name]
    options = result["options"]
    names = tuple(c.name for c in options["classes"])
    check_flow(result, names, options["num_train"], options["num_test"])
    if "format" in options:  # every object drawn is an instance, read from the format's own files
        assert result["examples"]["format"] == options["format"]
        assert sum(result["examples"]["num_instances"].values()) == result["num_objects"]
        assert result["examples"]["num_unlabelled"] == 1
    predictions = Path(result["root"]) / "reports" / f"predictions-{result['run_id']}"
    assert sorted(p.name for p in predictions.glob("*.png")) == ["unlabelled_0000.png"]


def test_a_coco_dataset_with_sparse_category_ids_runs_and_a_baseline_of_other_classes_is_not_comparable(runs):
    result = runs["coco"]
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
    served = ", ".join(c.name for c in next(iter(DATASETS.values()))["classes"])
    assert any(f"trained on other classes ({served} vs drill, hammer, wrench): not comparable" in r for r in reasons)
    assert "baseline" not in result["evaluation"]
