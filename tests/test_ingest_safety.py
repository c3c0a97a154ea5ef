"""Ingestion never merges, loses or deletes silently: colour collisions, empty files, output folders, the cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import feature, ingest_folder, mini_seed, photo, read_examples, write_gray_png, write_image
from dataset import images, ingest, layout, output, records
from dataset import plan as planning
from dataset.labelmap import LabelMap

RED, BLUE, GREEN_AS_RED = (255, 0, 0), (0, 0, 255), (0, 130, 0)
CUP_LABELS = "item { id: 1 name: 'speaker076' }\nitem { id: 2 name: 'cup029' }\n"
# A Python object's repr (`<_io.BytesIO object at 0x7f...>`) has no place in a reason meant for people.
OBJECT_REPR = re.compile(r"object at 0x|<[\w.]+ object")


def write_colour_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes())


def speaker_and_cup(cup_colour: tuple[int, int, int]) -> np.ndarray:
    mask = np.zeros((64, 96, 3), np.uint8)
    mask[5:30, 5:30] = RED
    mask[35:60, 50:90] = cup_colour
    return mask


@pytest.fixture(scope="module")
def painted_cups(tmp_path_factory) -> Path:
    """Masks only: speakers red, cups blue; in two masks the cups are green, whose grey value is the speakers'."""
    assert images.luma(GREEN_AS_RED) == images.luma(RED) == 76 and images.luma(BLUE) == 29
    root = mini_seed(tmp_path_factory.mktemp("painted") / "dataset", CUP_LABELS)
    for i in range(6):
        write_image(root / f"train_images/ok_{i}.jpg", photo())
        write_colour_png(root / f"train_masks/ok_{i}.png", speaker_and_cup(BLUE))
    for i in range(2):
        write_image(root / f"train_images/green_{i}.jpg", photo())
        write_colour_png(root / f"train_masks/green_{i}.png", speaker_and_cup(GREEN_AS_RED))
    return root


def _rejects(output: Path) -> dict[str, str]:
    return {Path(r["file"]).name: r["reason"] for r in layout.read_rejects(str(output))}


def test_a_colour_sharing_a_classs_grey_value_is_rejected_not_merged(painted_cups, tmp_path):
    summary = ingest_folder(painted_cups, tmp_path / "out", eval_fraction=0.01)
    rejects = _rejects(tmp_path / "out")
    assert sorted(rejects) == ["green_0.jpg", "green_1.jpg"]
    for reason in rejects.values():
        assert "RGB(0, 130, 0)" in reason and "grey value 76" in reason and "class 'speaker'" in reason
        assert "RGB(255, 0, 0)" in reason and f"maskrcnn-tfx labelmap --dataset {painted_cups}" in reason
    assert sum(summary["num_examples"].values()) == 6
    labels = [
        feature(e, records.CLASS_LABEL) for split in layout.SPLITS for e in read_examples(tmp_path / "out", split)
    ]
    assert labels == [[1, 2]] * 6  # one speaker, one cup each: nothing merged


def test_the_sequential_reference_rejects_the_same_masks(painted_cups, tmp_path):
    plan = planning.plan_ingest(str(painted_cups), planning.IngestOptions(eval_fraction=0.01))
    output.prepare_output_dir(str(tmp_path / "out"))
    ingest.run_sequential(plan, str(tmp_path / "out"))
    assert sorted(_rejects(tmp_path / "out")) == ["green_0.jpg", "green_1.jpg"]


@pytest.mark.parametrize(
    "labels, rejected",
    [
        (CUP_LABELS, "red"),  # green makes 76 in more masks: green is the speakers' colour
        (
            "classes:\n  - {id: 1, name: speaker, colour: [255, 0, 0]}\n  - {id: 2, name: cup, pixel_value: 29}\n",
            "green",
        ),  # the label map says red
    ],
)
def test_the_label_maps_colour_settles_which_colour_is_the_class(tmp_path, labels, rejected):
    root = mini_seed(tmp_path / "dataset", "")
    (root / "label.pbtxt").unlink()
    (root / ("label.pbtxt" if labels == CUP_LABELS else "label_map.yaml")).write_text(labels)
    for colour, name, count in ((RED, "red", 3), (GREEN_AS_RED, "green", 5)):
        for i in range(count):
            write_image(root / f"train_images/{name}_{i}.jpg", photo())
            mask = speaker_and_cup(BLUE)
            mask[mask[..., 0] == 255] = colour
            write_colour_png(root / f"train_masks/{name}_{i}.png", mask)
    ingest_folder(root, tmp_path / "out", eval_fraction=0.01)
    assert sorted(_rejects(tmp_path / "out")) == sorted(
        f"{rejected}_{i}.jpg" for i in range(3 if rejected == "red" else 5)
    )


def test_grayscale_masks_hold_values_not_colours(tmp_path):
    root = mini_seed(tmp_path / "dataset", CUP_LABELS)
    for i in range(3):
        write_image(root / f"train_images/g_{i}.jpg", photo())
        write_gray_png(root / f"train_masks/g_{i}.png", cv2.cvtColor(speaker_and_cup(BLUE), cv2.COLOR_RGB2GRAY))
    write_image(root / "train_images/c.jpg", photo())
    write_colour_png(root / "train_masks/c.png", speaker_and_cup(BLUE))
    summary = ingest_folder(root, tmp_path / "out", eval_fraction=0.01)
    assert summary["num_rejected"] == 0


def test_labelmap_command_lists_the_colours_behind_each_value(painted_cups, tmp_path, capsys):
    from pipeline import cli

    assert cli.main(["labelmap", "--dataset", str(painted_cups), "--output", str(tmp_path / "draft.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "RGB(255, 0, 0) in 8 files; RGB(0, 130, 0) in 2 files" in printed
    assert "value 76 comes from 2 colours" in printed
    draft = LabelMap.load(tmp_path / "draft.yaml")
    assert draft.by_pixel[76].colour == RED and draft.by_pixel[29].colour == BLUE


def test_empty_files_are_named_as_such_and_no_reason_carries_a_python_repr(tmp_path):
    root = mini_seed(tmp_path / "dataset")
    mask = np.zeros((64, 96), np.uint8)
    mask[10:40, 10:40] = 76
    for stem in ("good", "empty_photo", "noise_photo", "empty_mask", "empty_voc"):
        write_image(root / f"train_images/{stem}.jpg", photo())
        write_gray_png(root / f"train_masks/{stem}.png", mask)
    (root / "train_images/empty_photo.jpg").write_bytes(b"")
    (root / "train_images/noise_photo.jpg").write_bytes(np.random.default_rng(0).bytes(500))
    (root / "train_masks/empty_mask.png").write_bytes(b"")
    (root / "train_bboxes").mkdir()
    (root / "train_bboxes/empty_voc.xml").write_bytes(b"")
    ingest_folder(root, tmp_path / "out", eval_fraction=0.01)
    rejects = _rejects(tmp_path / "out")
    assert rejects["empty_photo.jpg"] == "empty file (0 bytes)"
    assert rejects["empty_mask.jpg"] == "mask empty_mask.png: empty file (0 bytes)"
    assert rejects["empty_voc.jpg"] == "VOC file: empty file (0 bytes)"
    assert "not a JPEG or PNG" in rejects["noise_photo.jpg"]
    for reason in rejects.values():
        assert not OBJECT_REPR.search(reason), reason


@pytest.mark.parametrize("where", ["the dataset", "inside", "containing"])
def test_ingest_refuses_an_output_folder_overlapping_the_dataset(sample_dataset, tmp_path, capsys, where):
    import shutil

    from pipeline import cli

    root = Path(shutil.copytree(sample_dataset, tmp_path / "parent" / "dataset"))
    output = {"the dataset": root, "inside": root / "examples", "containing": tmp_path / "parent"}[where]
    before = sorted(p for p in root.rglob("*"))
    assert cli.main(["ingest", "--dataset", str(root), "--output", str(output), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert f"the output folder {output}" in err and "outside the dataset" in err
    assert sorted(p for p in root.rglob("*")) == before


# --- the ExampleGen's cache key ------------------------------------------------------------
def _coco_with_deep_images(root: Path) -> Path:
    """COCO with its photos three folders down: images/train/a/b/<name>.jpg."""
    deep = root / "images" / "train" / "a" / "b"
    entries, annotations = [], []
    mask = np.zeros((64, 96), np.uint8)
    mask[10:40, 10:40] = 1
    for i in range(4):
        write_image(deep / f"p{i}.jpg", photo())
        entries.append({"id": i + 1, "file_name": f"train/a/b/p{i}.jpg", "width": 96, "height": 64})
        annotations.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 3,
                "iscrowd": 0,
                "segmentation": [[10, 10, 39, 10, 39, 39, 10, 39]],
            }
        )
    (root / "annotations").mkdir(parents=True)
    (root / "annotations/instances_default.json").write_text(
        json.dumps({"images": entries, "annotations": annotations, "categories": [{"id": 3, "name": "kettle"}]})
    )
    return root


def _run_example_gen(dataset: Path, root: Path) -> str:
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    from components.example_gen.component import ImageMaskExampleGen

    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(str(root / "metadata.db"))
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="fingerprint-test",
            pipeline_root=str(root / "pipeline"),
            enable_cache=True,
            components=[ImageMaskExampleGen(input_base=str(dataset), eval_fraction=0.5, max_reject_fraction=1.0)],
            metadata_connection_config=connection,
        )
    )
    from ml_metadata.proto import metadata_store_pb2

    newest = max(metadata_store.MetadataStore(connection).get_executions(), key=lambda e: e.id)
    return metadata_store_pb2.Execution.State.Name(newest.last_known_state)


def test_a_changed_photo_deep_in_the_dataset_is_not_served_from_the_cache(tmp_path):
    dataset = _coco_with_deep_images(tmp_path / "dataset")
    assert _run_example_gen(dataset, tmp_path) == "COMPLETE"
    assert _run_example_gen(dataset, tmp_path) == "CACHED"
    photo_path = dataset / "images/train/a/b/p2.jpg"
    write_image(photo_path, 255 - photo())  # same size, other pixels
    assert _run_example_gen(dataset, tmp_path) == "COMPLETE"
