"""COCO: polygons, RLE and crowds, contiguous ids, rejects, hash split; the layout detected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import MUG, SPEAKER, copy_dataset, decoded_masks, feature, ingest_folder, read_examples
from dataset import layout, records, shapes
from dataset import plan as planning


# --- COCO -------------------------------------------------------------------------------
def uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.ravel(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds).tolist()
    return {"size": list(mask.shape), "counts": ([0] if flat[0] else []) + runs}


@pytest.fixture(scope="module")
def coco_dataset(sample_dataset, tmp_path_factory) -> tuple[Path, dict]:
    """COCO files made from the sample: polygons, a compressed RLE and a crowd uncompressed RLE."""
    from pycocotools import mask as mask_utils

    root = tmp_path_factory.mktemp("coco") / "dataset"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    categories = [{"id": 9, "name": "mug", "supercategory": "kitchen"}, {"id": 5, "name": "speaker"}]
    expected: dict[str, list] = {}
    files = {"train": [], "val": []}
    for index, stem in enumerate([f"train_{i:04d}" for i in range(4)] + ["test_0000"]):
        folder = "train" if stem.startswith("train") else "test"
        shutil.copy(sample_dataset / f"{folder}_images/{stem}.jpg", root / "images" / f"{stem}.jpg")
        gray = cv2.cvtColor(cv2.imread(str(sample_dataset / f"{folder}_masks/{stem}.png")), cv2.COLOR_BGR2GRAY)
        files["val" if folder == "test" else "train"].append((index + 1, stem, gray))
    ann_id = 100
    data = {}
    for role, entries in files.items():
        images, annotations = [], []
        for image_id, stem, gray in entries:
            h, w = gray.shape
            images.append({"id": image_id, "file_name": f"{stem}.jpg", "width": w, "height": h})
            for category_id, value in ((5, SPEAKER), (9, MUG)):
                n, labels = cv2.connectedComponents((gray == value).astype(np.uint8), connectivity=8)
                for k in range(1, n):
                    mask = (labels == k).astype(np.uint8)
                    ann_id += 1
                    kind = "polygon" if ann_id % 3 else ("rle" if ann_id % 2 else "crowd")
                    if kind == "polygon":
                        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                        segmentation = [c.ravel().astype(float).tolist() for c in contours if len(c) >= 3]
                    elif kind == "rle":
                        rle = mask_utils.encode(np.asfortranarray(mask))
                        segmentation = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
                    else:
                        segmentation = uncompressed_rle(mask)
                    annotations.append(
                        {
                            "id": ann_id,
                            "image_id": image_id,
                            "category_id": category_id,
                            "segmentation": segmentation,
                            "iscrowd": int(kind == "crowd"),
                            "area": float(mask.sum()),
                            "bbox": [0, 0, 1, 1],
                        }
                    )
                    expected.setdefault(stem, []).append((category_id, kind, mask))
        data[role] = {"images": images, "annotations": annotations, "categories": categories}
    # an image entry whose file is missing, and an annotation of an image id that does not exist
    data["train"]["images"].append({"id": 77, "file_name": "gone.jpg", "width": 256, "height": 192})
    data["train"]["annotations"].append(dict(data["train"]["annotations"][0], id=999, image_id=77))
    data["train"]["annotations"].append(dict(data["train"]["annotations"][0], id=1000, image_id=4242))
    (root / "images" / "notes.txt").write_text("not an image")
    shutil.copy(sample_dataset / "test_images/unlabelled_0000.jpg", root / "images" / "extra.jpg")
    for role in files:
        (root / "annotations" / f"instances_{role}.json").write_text(json.dumps(data[role]))
    return root, expected


@pytest.fixture(scope="module")
def coco_ingested(coco_dataset, tmp_path_factory) -> Path:
    root, _ = coco_dataset
    out = tmp_path_factory.mktemp("coco_out") / "examples"
    ingest_folder(root, out)
    return out


def test_coco_masks_crowd_and_contiguous_ids(coco_dataset, coco_ingested):
    _root, expected = coco_dataset
    summary = layout.read_summary(str(coco_ingested))
    assert summary["format"] == "coco"
    assert summary["eval_source"] == "annotation_files"
    assert summary["num_examples"] == {"train": 4, "eval": 1}
    label_map = layout.read_label_map(str(coco_ingested))
    assert [(c.id, c.name, c.source_id) for c in label_map.classes] == [(1, "speaker", 5), (2, "mug", 9)]
    kinds = set()
    for example in read_examples(coco_ingested, "train") + read_examples(coco_ingested, "eval"):
        stem = Path(feature(example, records.IMAGE_FILENAME)[0].decode()).stem
        wanted = expected[stem]
        assert feature(example, records.CLASS_LABEL) == [{5: 1, 9: 2}[c] for c, _, _ in wanted]
        assert feature(example, records.OBJECT_IS_CROWD) == [int(kind == "crowd") for _, kind, _ in wanted]
        for got, (_, kind, mask) in zip(decoded_masks(example), wanted, strict=True):
            kinds.add(kind)
            if kind == "polygon":  # a polygon through the boundary pixels' centres loses part of them
                assert (got & mask).sum() / (got | mask).sum() > 0.85
            else:
                np.testing.assert_array_equal(got, mask)
    assert kinds == {"polygon", "rle", "crowd"}


def test_coco_missing_image_and_dangling_annotation_are_rejects(coco_dataset, coco_ingested):
    root, _ = coco_dataset
    rejects = {r["file"]: r["reason"] for r in layout.read_rejects(str(coco_ingested))}
    assert "image file not found" in rejects[str(root / "images/gone.jpg")]
    dangling = f"{root / 'annotations/instances_train.json'}#annotation=1000"
    assert "points to image_id 4242, which is not in 'images'" in rejects[dangling]
    assert "not an image file" in rejects[str(root / "images/notes.txt")]
    assert len(rejects) == 3
    assert layout.read_summary(str(coco_ingested))["unlabelled_images"] == [str(root / "images/extra.jpg")]


def test_coco_background_images_are_negatives_and_a_box_only_annotation_names_the_tool_habit(coco_dataset, tmp_path):
    from sample_data.scene import render_background

    root = copy_dataset(coco_dataset[0], tmp_path / "ds")
    for role in ("train", "val"):
        path = root / "annotations" / f"instances_{role}.json"
        data = json.loads(path.read_text())
        name = f"background_{role}.jpg"  # listed in 'images' with no annotation, as CVAT and Roboflow export
        photo = render_background(np.random.default_rng(len(role)), 256, 192)
        cv2.imwrite(str(root / "images" / name), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
        data["images"].append({"id": 500, "file_name": name, "width": 256, "height": 192})
        if role == "train":  # a rectangle drawn with a box tool: a bbox, no segmentation
            boxed = data["annotations"][0]
            data["annotations"].append(dict(boxed, id=2000, segmentation=[]))
            boxed_file = next(i["file_name"] for i in data["images"] if i["id"] == boxed["image_id"])
        path.write_text(json.dumps(data))
    out = tmp_path / "out"
    summary = ingest_folder(root, out)
    assert summary["num_negative"] == {"train": 1, "eval": 1}
    rejects = {r["file"]: r["reason"] for r in layout.read_rejects(str(out))}
    assert not [f for f in rejects if Path(f).name.startswith("background_")]
    reason = rejects[str(root / "images" / boxed_file)]
    assert reason.startswith("annotation 2000 has a box but no segmentation: a rectangle drawn with a box tool")
    assert "CVAT" in reason and "polygon" in reason


def test_coco_single_file_is_hash_split(coco_dataset, tmp_path):
    root = copy_dataset(coco_dataset[0], tmp_path / "ds")
    (root / "annotations/instances_val.json").unlink()
    (root / "annotations/instances_train.json").rename(root / "annotations/instances_default.json")
    plan = planning.plan_ingest(str(root), planning.IngestOptions(eval_fraction=0.5))
    assert plan.eval_source == "hash_split"
    assert all(i.split == records.hash_split(i.rel_path, 0.5) for i in plan.items if not i.reject_reason)


def test_coco_segmentation_decoding():
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 10:25] = 1
    np.testing.assert_array_equal(shapes.segmentation_mask(uncompressed_rle(mask), 20, 30), mask)
    square = shapes.segmentation_mask([[10, 5, 25, 5, 25, 15, 10, 15]], 20, 30)
    assert square[6:14, 11:24].all() and not square[:4].any()
    with pytest.raises(ValueError, match="at least 3"):
        shapes.segmentation_mask([[1, 2, 3, 4]], 20, 30)
    with pytest.raises(ValueError, match="differs"):
        shapes.segmentation_mask({"size": [10, 10], "counts": [100]}, 20, 30)


# --- format detection ------------------------------------------------------------------------
def test_format_auto_detection(sample_dataset, coco_dataset, tmp_path):
    assert planning.detect_format(str(sample_dataset)) == "seed"
    assert planning.detect_format(str(coco_dataset[0])) == "coco"
    both = copy_dataset(sample_dataset, tmp_path / "both")
    (both / "annotations").mkdir()
    shutil.copy(coco_dataset[0] / "annotations/instances_train.json", both / "annotations")
    with pytest.raises(records.IngestError, match=r"both a seed layout .* pass --format"):
        planning.detect_format(str(both))
    assert planning.plan_ingest(str(both), planning.IngestOptions(format="seed")).format == "seed"
    (tmp_path / "empty").mkdir()
    with pytest.raises(records.IngestError, match="neither a seed layout"):
        planning.detect_format(str(tmp_path / "empty"))
