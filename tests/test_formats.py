"""The annotation formats people export, each read with its own conventions: one dataset written in each
(sample_data/sample_formats.py) ingests with the same examples and instances as in the classic layout; each
format's malformed files are named with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_NUM_TEST, SAMPLE_NUM_TRAIN, ingest_folder
from dataset import layout
from dataset import plan as planning
from dataset.convert import convert_item
from sample_data import mask_variants, sample_formats
from sample_data.sample_formats import FORMATS


@pytest.fixture(scope="module")
def written(sample_dataset, tmp_path_factory) -> dict[str, Path]:
    """The sample written in each format."""
    out = tmp_path_factory.mktemp("formats")
    for fmt in FORMATS:
        sample_formats.write(fmt, str(sample_dataset), str(out / fmt))
    return {fmt: out / fmt for fmt in FORMATS}


@pytest.fixture(scope="module")
def ingested(written, tmp_path_factory) -> dict[str, Path]:
    """Each format's copy through the Beam ingestion."""
    out = tmp_path_factory.mktemp("formats-ingested")
    for fmt, dataset in written.items():
        ingest_folder(dataset, out / fmt)
    return {fmt: out / fmt for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_dataset_in_each_format_ingests_as_in_the_classic_layout(fmt, written, ingested, sample_ingested):
    assert planning.detect_format(str(written[fmt])) == fmt
    classic, summary = layout.read_summary(str(sample_ingested)), layout.read_summary(str(ingested[fmt]))
    assert summary["format"] == fmt and summary["num_rejected"] == 0, layout.read_rejects(str(ingested[fmt]))
    assert summary["num_examples"] == classic["num_examples"] == {"train": SAMPLE_NUM_TRAIN, "eval": SAMPLE_NUM_TEST}
    assert summary["num_instances"] == classic["num_instances"]
    assert summary["num_unlabelled"] == classic["num_unlabelled"] == 1
    assert [Path(p).name for p in summary["unlabelled_images"]] == ["unlabelled_0000.jpg"]
    # the same classes (VIA, which has no order of its own, sorts them) and objects, image by image
    assert sorted(summary["class_names"]) == sorted(classic["class_names"])
    clean, other = _by_name(sample_ingested), _by_name(ingested[fmt])
    assert {s: [c for c, _ in v] for s, v in other.items()} == {s: [c for c, _ in v] for s, v in clean.items()}
    # polygons through the boundary pixels' centres lose part of them
    ious = [iou for stem in clean for iou in mask_variants.instance_ious(clean[stem], other[stem])]
    assert min(ious) > 0.85 and np.mean(ious) > 0.9


def _by_name(output: Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """{photo stem: [(class name, instance mask)]} of an ingestion output."""
    names = layout.read_label_map(str(output)).by_id
    return {
        Path(file).stem: [(names[c].name, m) for c, m in instances]
        for file, instances in mask_variants.ingested_instances(str(output)).items()
    }


def _outcomes(dataset: Path) -> tuple[planning.IngestPlan, dict]:
    plan = planning.plan_ingest(str(dataset), planning.IngestOptions())
    return plan, {item.rel_path: convert_item(item, plan.label_map, 16, plan.dataset_dir) for item in plan.items}


# --- YOLO segmentation ---------------------------------------------------------------------------------------
def test_yolo_label_lines_are_read_as_ultralytics_reads_them(sample_dataset):
    from dataset.labelmap import LabelMap
    from dataset.records import RejectError
    from dataset.yolo_files import parse_label

    label_map = LabelMap.from_coco_categories([{"id": 0, "name": "speaker"}, {"id": 1, "name": "mug"}])
    square = "0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5"
    found = parse_label(f"1 {square}\n\n1 {square}\n0 {square}\n", "x.txt", label_map, "data.yaml", 200, 100)
    assert [(s.cls.name, s.where) for s in found] == [("mug", "line 1 of x.txt"), ("speaker", "line 4 of x.txt")]
    assert found[0].segmentation == [[20.0, 10.0, 100.0, 10.0, 100.0, 50.0, 20.0, 50.0]]  # fractions -> pixels
    for text, reason in (
        (
            "0 0.5 0.5 0.2 0.2",
            "line 1 of x.txt is a box (class x_centre y_centre width height), a YOLO detection label",
        ),
        (f"2 {square}", "line 1 of x.txt: class 2 is not one of the ids 0..1 of 'names' in data.yaml"),
        ("0 10 10 50 10 50 50", "coordinates must be fractions of the image's width and height (0 to 1)"),
        ("0 0.1 0.1 0.5 0.1 0.5", "a polygon needs at least 3 (x, y) pairs; it has 5 numbers"),
        ("0 0.1 0.1 0.5 zero 0.5 0.5", "'zero' is not a number"),
    ):
        with pytest.raises(RejectError) as error:
            parse_label(text, "x.txt", label_map, "data.yaml", 200, 100)
        assert reason in str(error.value)


def test_yolo_roboflow_paths_split_lists_backgrounds_and_orphan_labels(written, tmp_path):
    root = shutil.copytree(written["yolo"], tmp_path / "ds")
    (root / "train").mkdir()
    shutil.move(root / "images" / "train", root / "train" / "images")  # Roboflow's export: train/images, ...
    shutil.move(root / "labels" / "train", root / "train" / "labels")
    val = sorted((root / "images" / "val").glob("*.jpg"))
    (root / "val.txt").write_text("".join(f"./images/val/{p.name}\n" for p in val))
    (root / "data.yaml").write_text(
        "path: /home/someone/datasets/speakers\ntrain: ../train/images\nval: val.txt\nnames: [speaker, mug]\n"
    )
    (root / "train" / "labels" / "train_0000.txt").unlink()  # an image without label file: a background photo
    (root / "train" / "labels" / "ghost.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    (root / "labels" / "val.cache").write_bytes(b"\0")  # Ultralytics' cache of the split's labels
    (root / "images" / "val" / "notes.pdf").write_bytes(b"%PDF")
    plan, outcomes = _outcomes(root)
    assert plan.format == "yolo" and plan.eval_source == "annotation_files"
    assert [c.name for c in plan.label_map.classes] == ["speaker", "mug"]
    assert {rel: o.split for rel, o in outcomes.items() if not o.reason} == {
        **{f"train/images/{p.name}": "train" for p in (root / "train" / "images").glob("*.jpg")},
        **{f"images/val/{p.name}": "eval" for p in val},
    }
    assert outcomes["train/images/train_0000.jpg"].num_instances == 0  # kept as a negative example
    rejects = {Path(o.file).name: o.reason for o in outcomes.values() if o.reason}
    assert rejects == {
        "ghost.txt": "label file of no image listed in the splits of data.yaml",
        "notes.pdf": "not an image file (non-image file in the image folder)",
    }
    assert [Path(p).name for p in plan.unlabelled] == ["unlabelled_0000.jpg"]
    assert [Path(p).name for p in plan.ignored] == ["val.cache"]


# --- labelme and VIA --------------------------------------------------------------------------------------------
def test_labelme_image_paths_embedded_photos_groups_and_malformed_files(written, tmp_path):
    import base64
    import json

    root = shutil.copytree(written["labelme"], tmp_path / "ds")
    first = sorted((root / "train").glob("*.json"))
    data = json.loads(first[0].read_text())  # the photo moved elsewhere: imagePath with Windows separators
    (root / "photos").mkdir()
    shutil.move(root / "train" / data["imagePath"], root / "photos" / data["imagePath"])
    data["imagePath"] = f"..\\photos\\{data['imagePath']}"
    first[0].write_text(json.dumps(data))
    data = json.loads(first[1].read_text())  # only embedded: the photo is the file's imageData
    photo = root / "train" / data["imagePath"]
    data["imageData"] = base64.b64encode(photo.read_bytes()).decode()
    photo.unlink()
    shapes = data["shapes"]
    shapes[1:1] = [
        dict(shapes[0], group_id=7),
        dict(shapes[0], group_id=7, shape_type="rectangle", points=[[1, 1], [5, 5]]),
    ]  # one label + group: one object
    first[1].write_text(json.dumps(data))
    data = json.loads(first[2].read_text())
    data["shapes"].append({"label": data["shapes"][0]["label"], "points": [[3, 4]], "shape_type": "point"})
    first[2].write_text(json.dumps(data))
    (root / "val" / "broken.json").write_text("{not json")
    plan, outcomes = _outcomes(root)
    assert plan.format == "labelme" and plan.label_map.names == ("speaker", "mug")  # labels.txt's order
    assert not outcomes[f"photos/{Path(first[0]).stem}.jpg"].reason
    embedded = outcomes[f"train/{first[1].name}"]
    assert not embedded.reason and embedded.num_instances == len(shapes) - 1  # the two of group 7 are one
    rejects = {Path(o.file).name: o.reason for o in outcomes.values() if o.reason}
    assert rejects[f"{first[2].stem}.jpg"].endswith(
        "is a point, which has no area: an instance needs a polygon, rectangle, circle or mask"
    )
    assert rejects["broken.json"].startswith("not a readable JSON file")
    assert len(rejects) == 2


def test_via_regions_as_a_mapping_shapes_and_attributes(written, tmp_path):
    import json

    root = shutil.copytree(written["via"], tmp_path / "ds")
    path = root / "train" / "via_region_data.json"
    entries = json.loads(path.read_text())
    keys = sorted(entries)
    entries[keys[0]]["regions"] = {str(i): r for i, r in enumerate(entries[keys[0]]["regions"])}  # VIA 1
    entries[keys[1]]["regions"].append(
        {"shape_attributes": {"name": "circle", "cx": 30, "cy": 30, "r": 9}, "region_attributes": {"class": "mug"}}
    )
    entries[keys[2]]["regions"].append(
        {"shape_attributes": {"name": "point", "cx": 3, "cy": 3}, "region_attributes": {"class": "mug"}}
    )
    entries[keys[3]]["regions"][0]["region_attributes"] = {}
    path.write_text(json.dumps(entries))
    plan, outcomes = _outcomes(root)
    assert plan.format == "via" and plan.label_map.names == ("mug", "speaker")
    by_name = {entries[k]["filename"]: outcomes[f"train/{entries[k]['filename']}"] for k in keys[:4]}
    first, circle, point, unnamed = (by_name[entries[k]["filename"]] for k in keys[:4])
    assert not first.reason and first.num_instances == len(entries[keys[0]]["regions"])
    assert not circle.reason and circle.num_instances == len(entries[keys[1]]["regions"])
    assert point.reason.endswith("is a point, which has no area: an instance needs a polygon, rect, circle or ellipse")
    assert "region 1 of" in unnamed.reason and "has no class in its region attributes" in unnamed.reason


def test_labelme_mask_shapes_are_placed_by_their_two_points(written, tmp_path):
    import base64
    import io
    import json

    from PIL import Image

    def png(array: np.ndarray) -> str:
        buffer = io.BytesIO()
        Image.fromarray(array.astype(bool)).save(buffer, format="PNG")  # labelme saves mode "1"
        return base64.b64encode(buffer.getvalue()).decode()

    def mask_shape(label: str, x: float, y: float, array: np.ndarray, **extra) -> dict:
        h, w = array.shape
        return {
            "label": label,
            "points": [[x, y], [x + w - 1, y + h - 1]],
            "shape_type": "mask",
            "mask": png(array),
            "group_id": None,
            **extra,
        }

    root = shutil.copytree(written["labelme"], tmp_path / "ds")
    files = sorted((root / "train").glob("*.json"))
    ring = np.ones((12, 20), bool)
    ring[4:8, 5:15] = False
    data = json.loads(files[0].read_text())
    label = data["shapes"][0]["label"]
    data["shapes"] = [
        mask_shape(label, 5.7, 7.2, ring),  # points truncated to pixels, as labelme does
        mask_shape(label, data["imageWidth"] - 10, -3, np.ones((8, 16), bool)),  # cut by the border
        mask_shape(label, 40, 40, np.ones((5, 5), bool), group_id=3),  # one object with the polygon
        {"label": label, "points": [[60, 40], [70, 40], [70, 50]], "shape_type": "polygon", "group_id": 3},
    ]
    files[0].write_text(json.dumps(data))
    for path, shape in (
        (files[1], mask_shape(label, 5, 5, np.ones((6, 6), bool), points=[[5, 5], [20, 20]])),
        (files[2], dict(mask_shape(label, 5, 5, np.ones((6, 6), bool)), mask="not base64 png")),
    ):
        data = json.loads(path.read_text())
        data["shapes"].append(shape)
        path.write_text(json.dumps(data))
    plan, outcomes = _outcomes(root)
    from dataset.formats import labelme

    item = next(i for i in plan.items if i.rel_path == f"train/{files[0].stem}.jpg")
    instances = labelme.convert_labelme_item(item, plan.label_map).instances
    assert [int(i.mask.sum()) for i in instances[:2]] == [ring.sum(), 10 * 5]
    assert np.array_equal(instances[0].mask[7:19, 5:25], ring) and instances[0].mask.sum() == ring.sum()
    assert instances[2].mask[40:45, 40:45].all() and instances[2].mask[45, 69]  # the mask and the polygon
    assert len(instances) == 3
    rejects = {Path(o.file).stem: o.reason for o in outcomes.values() if o.reason}
    assert rejects[files[1].stem].endswith("its mask is 6x6 px, but its points (5, 5) to (20, 20) make a 16x16 box")
    assert "its mask is not a base64 PNG" in rejects[files[2].stem] and len(rejects) == 2
