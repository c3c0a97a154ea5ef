"""Pascal VOC segmentation (dataset/formats/voc_seg.py): the sample written in VOC's layout with each of its
malformed files named with the reason, void 255, an instance over two classes, and labelmap.txt's names and
colours. The copy ingesting as the classic layout does is tests/test_formats.py's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLE_NUM_TEST, SAMPLE_NUM_TRAIN
from dataset import plan as planning
from dataset.convert import convert_item
from dataset.voc_seg_files import VOC_CLASSES
from sample_data import sample_formats


@pytest.fixture(scope="module")
def voc(sample_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("voc") / "VOCdevkit" / "VOC2012"  # as the devkit unpacks
    sample_formats.write("voc-seg", str(sample_dataset), str(out))
    return out.parent.parent


def _outcomes(dataset: Path) -> tuple[planning.IngestPlan, dict]:
    plan = planning.plan_ingest(str(dataset), planning.IngestOptions())
    return plan, {
        Path(item.rel_path).name: convert_item(item, plan.label_map, 16, plan.dataset_dir) for item in plan.items
    }


def _copy(voc: Path, tmp_path: Path) -> Path:
    return shutil.copytree(voc / "VOCdevkit" / "VOC2012", tmp_path / "VOC2012")


def _ids(root: Path, name: str) -> list[str]:
    return (root / "ImageSets" / "Segmentation" / f"{name}.txt").read_text().split()


def _edit(path: Path, change) -> None:
    """`change(indices)` applied to a palette mask, its palette kept."""
    with Image.open(path) as im:
        palette, array = im.getpalette(), np.array(im)
    out = Image.fromarray(change(array))
    out.putpalette(palette)
    out.save(path)


def test_voc_malformed_files_are_named_with_their_reason(voc, tmp_path):
    root = _copy(voc, tmp_path)
    train, val = _ids(root, "train"), _ids(root, "val")
    (root / "JPEGImages" / f"{train[0]}.jpg").unlink()
    _edit(root / "SegmentationObject" / f"{train[1]}.png", lambda a: a[:-4])
    with Image.open(root / "SegmentationClass" / f"{train[2]}.png") as im:
        im.convert("RGB").save(root / "SegmentationClass" / f"{train[2]}.png")
    objects = np.array(Image.open(root / "SegmentationObject" / f"{train[3]}.png"))
    _edit(root / "SegmentationClass" / f"{train[3]}.png", lambda a: np.where(objects == 1, 0, a).astype(np.uint8))
    (root / "SegmentationObject" / f"{train[4]}.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    (root / "SegmentationObject" / f"{train[5]}.png").unlink()
    shutil.copy(root / "SegmentationClass" / f"{val[0]}.png", root / "SegmentationClass" / "ghost.png")
    shutil.copy(root / "JPEGImages" / f"{val[0]}.jpg", root / "JPEGImages" / "not_listed.jpg")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join([*val[1:], train[6]]) + "\n")
    with open(root / "ImageSets" / "Segmentation" / "test.txt", "a") as test:
        test.write(f"{val[0]}\n")  # a test id with its masks: an eval example
    plan, outcomes = _outcomes(tmp_path)
    assert plan.format == "voc-seg" and plan.eval_source == "annotation_files"
    rejects = {name: o.reason for name, o in outcomes.items() if o.reason}
    assert rejects == {
        f"{train[0]}.jpg": f"no photo JPEGImages/{train[0]}.jpg for the id {train[0]} listed in "
        "ImageSets/Segmentation/train.txt",
        f"{train[1]}.jpg": f"the mask SegmentationObject/{train[1]}.png has size 256x188 but the image is 256x192",
        f"{train[2]}.jpg": f"SegmentationClass/{train[2]}.png is in mode RGB, not a palette PNG: VOC's masks hold "
        "the class (SegmentationClass) or the instance id (SegmentationObject) as the palette "
        "index of each pixel",
        f"{train[3]}.jpg": f"instance 1 of SegmentationObject/{train[3]}.png lies on no class in "
        f"SegmentationClass/{train[3]}.png (only background or void 255 there)",
        f"{train[4]}.jpg": rejects[f"{train[4]}.jpg"],
        f"{train[5]}.jpg": f"no SegmentationObject/{train[5]}.png for the id {train[5]} listed in "
        "ImageSets/Segmentation/train.txt (Mask R-CNN needs its instances and their classes)",
        f"{train[6]}.jpg": "listed in both train.txt and val.txt of ImageSets/Segmentation",
        "ghost.png": "mask of no id listed in ImageSets/Segmentation",
    }
    assert rejects[f"{train[4]}.jpg"].startswith(f"cannot read SegmentationObject/{train[4]}.png")
    examples = {name: o.split for name, o in outcomes.items() if not o.reason}
    assert len(examples) == SAMPLE_NUM_TRAIN + SAMPLE_NUM_TEST - 7 and examples[f"{val[0]}.jpg"] == "eval"
    assert [Path(p).name for p in plan.ignored] == ["not_listed.jpg"]
    assert [Path(p).name for p in plan.unlabelled] == ["unlabelled_0000.jpg"]  # test.txt's, without masks


def test_voc_void_is_no_pixel_of_an_instance_and_two_classes_take_the_majority(voc, tmp_path):
    import cv2

    root = _copy(voc, tmp_path)
    first, second, third = _ids(root, "train")[:3]
    _, before = _outcomes(tmp_path)
    objects = np.array(Image.open(root / "SegmentationObject" / f"{first}.png"))
    # VOC's 5 px void band along each object's outline, in both masks
    band = cv2.morphologyEx((objects > 0).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    for sub in ("SegmentationObject", "SegmentationClass"):
        _edit(root / sub / f"{first}.png", lambda a: np.where(band, 255, a).astype(np.uint8))
    for name, count in ((second, 5), (third, None)):  # an instance over a few pixels of another class, or half
        objects = np.array(Image.open(root / "SegmentationObject" / f"{name}.png"))
        ys, xs = np.nonzero(objects == 1)
        count = count or len(ys) // 2
        picked = (ys[:count], xs[:count])
        _edit(root / "SegmentationClass" / f"{name}.png", lambda a, picked=picked: _recoloured(a, *picked))
    _, outcomes = _outcomes(tmp_path)
    voided = outcomes[f"{first}.jpg"]
    assert not voided.reason and voided.num_instances == before[f"{first}.jpg"].num_instances
    few = outcomes[f"{second}.jpg"]
    assert not few.reason and few.num_instances == before[f"{second}.jpg"].num_instances
    assert few.pixels_reassigned == 5  # the minority's pixels, counted
    assert "instance 1 of SegmentationObject/" in outcomes[f"{third}.jpg"].reason
    assert "spans two classes in SegmentationClass/" in outcomes[f"{third}.jpg"].reason
    assert "give each object its own instance id" in outcomes[f"{third}.jpg"].reason


def _recoloured(array: np.ndarray, ys, xs) -> np.ndarray:
    """The pixels (ys, xs) of a sample's class mask (1 speaker, 2 mug) made the other class."""
    array = array.copy()
    array[ys, xs] = 3 - array[ys, xs]
    return array


def _class_names(outcome) -> list[str]:
    import tensorflow as tf

    from dataset.records import CLASS_TEXT, feature_values

    return [v.decode() for v in feature_values(tf.train.Example.FromString(outcome.example), CLASS_TEXT)]


def test_voc_labelmap_names_and_colours_say_the_class(voc, tmp_path):
    root = _copy(voc, tmp_path)
    _, before = _outcomes(tmp_path)
    # classes in another order and colours: the palette's colours, not its indices, say the class (datumaro)
    (root / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncup:0,0,255::\nloudspeaker:255,0,0::\n"
    )
    first, second = [
        n for n in _ids(root, "train") if 1 in np.array(Image.open(root / "SegmentationClass" / f"{n}.png"))
    ][:2]
    for name in _ids(root, "trainval"):
        with Image.open(root / "SegmentationClass" / f"{name}.png") as im:
            palette = im.getpalette()
            palette[3:9] = [255, 0, 0, 0, 0, 255]
            im.putpalette(palette)
            im.save(root / "SegmentationClass" / f"{name}.png")
    with Image.open(root / "SegmentationClass" / f"{first}.png") as im:
        palette = im.getpalette()
        palette[3:6] = [9, 9, 9]
        im.putpalette(palette)
        im.save(root / "SegmentationClass" / f"{first}.png")
    plan, outcomes = _outcomes(tmp_path)
    assert plan.label_map.names == ("cup", "loudspeaker")
    assert outcomes[f"{first}.jpg"].reason == (
        f"SegmentationClass/{first}.png: index 1 has colour RGB(9, 9, 9), which is no colour of {root / 'labelmap.txt'}"
    )
    renamed = {"speaker": "loudspeaker", "mug": "cup"}
    assert _class_names(outcomes[f"{second}.jpg"]) == [renamed[n] for n in _class_names(before[f"{second}.jpg"])]
    rejected = [name for name, o in outcomes.items() if o.reason]
    assert rejected == [f"{first}.jpg"]
    # without labelmap.txt: VOC's 20 classes by index
    (root / "labelmap.txt").unlink()
    plan, outcomes = _outcomes(tmp_path)
    assert plan.label_map.names == VOC_CLASSES and not any(o.reason for o in outcomes.values())
