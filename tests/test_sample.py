"""The sample generator: deterministic, the label map's colours, several objects that do not touch."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from conftest import MUG, SAMPLE_NUM_TEST, SAMPLE_NUM_TRAIN, SAMPLE_NUM_UNLABELLED, SPEAKER
from dataset.labelmap import LabelMap
from sample_data import sample


# --- the sample generator -------------------------------------------------------
def test_sample_mask_colours_have_the_label_map_luma():
    assert [(c.name, c.pixel_value) for c in sample.DEFAULT_CLASSES] == [("speaker", SPEAKER), ("mug", MUG)]
    for cls in sample.DEFAULT_CLASSES:
        rgb = np.array([[cls.mask_rgb]], np.uint8)
        assert cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2GRAY)[0, 0] == cls.pixel_value
        assert Image.fromarray(rgb).convert("L").getpixel((0, 0)) == cls.pixel_value


def test_sample_is_deterministic(tmp_path):
    kwargs = dict(num_train=3, num_test=1, num_unlabelled=1, sizes=((128, 96),))
    sample.generate(tmp_path / "a", seed=1, **kwargs)
    sample.generate(tmp_path / "b", seed=1, **kwargs)
    sample.generate(tmp_path / "c", seed=2, **kwargs)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a/train_images/train_0000.jpg").read_bytes() != (
        tmp_path / "c/train_images/train_0000.jpg"
    ).read_bytes()


def test_sample_layout(sample_dataset):
    label_map = LabelMap.load(sample_dataset / "label.pbtxt")
    assert [(c.name, c.pixel_value) for c in label_map.classes] == [("speaker", 76), ("mug", 150)]
    assert len(list((sample_dataset / "train_images").glob("*.jpg"))) == SAMPLE_NUM_TRAIN
    assert len(list((sample_dataset / "train_masks").glob("*.png"))) == SAMPLE_NUM_TRAIN
    assert len(list((sample_dataset / "test_images").glob("*.jpg"))) == SAMPLE_NUM_TEST + SAMPLE_NUM_UNLABELLED
    assert len(list((sample_dataset / "test_masks").glob("*.png"))) == SAMPLE_NUM_TEST
    assert list((sample_dataset / "train_bboxes").glob("*.xml"))
    # RGB colour masks whose grayscale values are exactly the label map's
    mask = cv2.imread(str(sample_dataset / "train_masks/train_0000.png"), cv2.IMREAD_UNCHANGED)
    assert mask.ndim == 3
    assert set(np.unique(cv2.cvtColor(mask, cv2.COLOR_BGR2GRAY)).tolist()) <= {0, SPEAKER, MUG}


def test_sample_has_several_objects_of_one_class_that_do_not_touch(tmp_path):
    sample.generate(tmp_path, num_train=12, num_test=0, num_unlabelled=0, sizes=((256, 192),), seed=0)
    counts = []
    for path in (tmp_path / "train_masks").glob("*.png"):
        gray = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
        for value in (SPEAKER, MUG):
            n, _ = cv2.connectedComponents((gray == value).astype(np.uint8), connectivity=8)
            counts.append(n - 1)
    assert max(counts) >= 2
