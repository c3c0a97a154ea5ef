"""The classic folder (seed layout): examples Model Garden decodes, EXIF, grayscale/palette/colour masks,
instances from connected components and from VOC boxes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import (
    MUG,
    SAMPLE_NUM_TEST,
    SAMPLE_NUM_TRAIN,
    SAMPLE_NUM_UNLABELLED,
    SPEAKER,
    convert,
    decoded_masks,
    feature,
    mini_seed,
    parse,
    photo,
    read_examples,
    voc,
    write_gray_png,
    write_image,
)
from dataset import layout, records
from dataset.labelmap import LabelMap


# --- the seed layout, end to end ---------------------------------------------------
def test_sample_ingests_completely(sample_dataset, sample_ingested):
    summary = layout.read_summary(str(sample_ingested))
    assert summary["format"] == "seed"
    assert summary["eval_source"] == "test_folder"
    assert summary["num_examples"] == {"train": SAMPLE_NUM_TRAIN, "eval": SAMPLE_NUM_TEST}
    assert summary["num_rejected"] == 0
    assert summary["num_inputs"] == SAMPLE_NUM_TRAIN + SAMPLE_NUM_TEST + SAMPLE_NUM_UNLABELLED
    assert summary["unlabelled_images"] == [str(sample_dataset / "test_images/unlabelled_0000.jpg")]
    assert layout.read_rejects(str(sample_ingested)) == []
    assert layout.read_label_map(str(sample_ingested)) == LabelMap.load(sample_dataset / "label.pbtxt")
    for split in layout.SPLITS:
        assert list((sample_ingested / f"Split-{split}").glob("data_tfrecord-*.gz"))
    train = read_examples(sample_ingested, "train")
    assert len(train) == SAMPLE_NUM_TRAIN
    assert sum(len(feature(e, records.CLASS_LABEL)) for e in train) == summary["num_instances"]["train"]


def test_examples_decode_with_model_garden(sample_dataset, sample_ingested):
    import tensorflow as tf
    from official.vision.dataloaders.tf_example_decoder import TfExampleDecoder

    decoder = TfExampleDecoder(include_mask=True)
    examples = read_examples(sample_ingested, "train") + read_examples(sample_ingested, "eval")
    for example in examples:
        decoded = decoder.decode(tf.constant(example.SerializeToString()))
        filename = feature(example, records.IMAGE_FILENAME)[0].decode()
        source_id = decoded["source_id"].numpy().decode()
        assert source_id == records.source_id(filename) and len(source_id) == 15
        height, width = int(decoded["height"]), int(decoded["width"])
        assert decoded["image"].shape == (height, width, 3)
        masks = decoded["groundtruth_instance_masks"].numpy()
        boxes = decoded["groundtruth_boxes"].numpy()  # ymin, xmin, ymax, xmax normalized
        assert masks.shape[0] == boxes.shape[0] > 0
        assert set(np.unique(masks).tolist()) == {0.0, 1.0}
        for mask, box in zip(masks, boxes, strict=True):
            ys, xs = np.nonzero(mask)
            np.testing.assert_allclose(
                box, [ys.min() / height, xs.min() / width, (ys.max() + 1) / height, (xs.max() + 1) / width], atol=1e-6
            )
        np.testing.assert_array_equal(decoded["groundtruth_area"].numpy(), masks.sum(axis=(1, 2)))
        assert set(decoded["groundtruth_classes"].numpy().tolist()) <= {1, 2}
        assert not decoded["groundtruth_is_crowd"].numpy().any()
        # instances = objects of the mask: one per connected component of each class
        folder = "train" if filename.startswith("train") else "test"
        mask_path = sample_dataset / f"{folder}_masks" / (Path(filename).stem + ".png")
        gray = cv2.cvtColor(cv2.imread(str(mask_path)), cv2.COLOR_BGR2GRAY)
        expected = sum(
            cv2.connectedComponents((gray == v).astype(np.uint8), connectivity=8)[0] - 1 for v in (SPEAKER, MUG)
        )
        assert masks.shape[0] == expected
        texts = [t.decode() for t in feature(example, records.CLASS_TEXT)]
        assert texts == [{1: "speaker", 2: "mug"}[c] for c in decoded["groundtruth_classes"].numpy()]


def test_plain_jpeg_and_png_bytes_pass_through_unchanged(tmp_path):
    root = mini_seed(tmp_path / "ds")
    gray = np.zeros((64, 96), np.uint8)
    gray[10:40, 20:60] = SPEAKER
    jpeg = write_image(root / "train_images/a.jpg", photo())
    png = write_image(root / "train_images/b.png", photo())
    write_gray_png(root / "train_masks/a.png", gray)
    write_gray_png(root / "train_masks/b.png", gray)
    for rel, data, fmt in (("train_images/a.jpg", jpeg, b"jpeg"), ("train_images/b.png", png, b"png")):
        example = parse(convert(root, rel))
        assert feature(example, records.IMAGE_ENCODED)[0] == data
        assert feature(example, records.IMAGE_FORMAT) == [fmt]
        assert feature(example, records.IMAGE_SHA256)[0].decode() == hashlib.sha256(data).hexdigest()


def test_exif_rotated_jpeg_is_reencoded_upright_and_lines_up_with_its_mask(tmp_path):
    import tensorflow as tf

    root = mini_seed(tmp_path / "ds")
    # What the annotator sees: a 64x96 portrait photo with a bright square, and its mask.
    upright = np.full((96, 64, 3), 40, np.uint8)
    upright[10:30, 5:25] = (250, 250, 250)
    gray = np.zeros((96, 64), np.uint8)
    gray[10:30, 5:25] = SPEAKER
    write_gray_png(root / "train_masks/phone.png", gray)
    # What the phone stores: the pixels turned 90 degrees, with EXIF orientation 6 ("rotate 90 CW to show").
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    assert stored.size == (96, 64)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(root / "train_images/phone.jpg", format="JPEG", quality=95, exif=exif)

    example = parse(convert(root, "train_images/phone.jpg"))
    encoded = feature(example, records.IMAGE_ENCODED)[0]
    assert encoded != (root / "train_images/phone.jpg").read_bytes()
    image = tf.io.decode_image(encoded, channels=3).numpy()  # TF ignores EXIF: this is what training sees
    assert image.shape == (96, 64, 3)
    assert feature(example, records.IMAGE_HEIGHT) == [96] and feature(example, records.IMAGE_WIDTH) == [64]
    [mask] = decoded_masks(example)
    assert image[mask == 1].mean() > 200 and image[mask == 0].mean() < 80
    assert Image.open(io.BytesIO(encoded)).getexif().get(0x0112, 1) == 1


def test_mask_drawn_on_the_stored_not_upright_pixels_is_rejected_with_a_hint(tmp_path):
    root = mini_seed(tmp_path / "ds")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo(96, 64)).save(root / "train_images/phone.jpg", format="JPEG", exif=exif)
    gray = np.zeros((64, 96), np.uint8)  # the stored orientation
    gray[10:30, 5:25] = SPEAKER
    write_gray_png(root / "train_masks/phone.png", gray)
    outcome = convert(root, "train_images/phone.jpg")
    assert "is 96x64 but the image is 64x96" in outcome.reason
    assert "before its EXIF rotation" in outcome.reason


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "RGBA"])
def test_grayscale_palette_and_colour_masks_give_the_same_instances(tmp_path, mode):
    root = mini_seed(tmp_path / "ds")
    write_image(root / "train_images/a.png", photo())
    classes = np.zeros((64, 96), np.uint8)  # 0 background, 1 speaker, 2 mug
    classes[5:25, 5:30] = 1
    classes[30:60, 50:90] = 2
    colours = {0: (0, 0, 0), 1: (255, 0, 0), 2: (0, 255, 0)}  # luma 0, 76, 150
    if mode == "L":
        img = Image.fromarray(np.array([0, SPEAKER, MUG], np.uint8)[classes], "L")
    elif mode == "P":
        img = Image.fromarray(classes, "P")
        img.putpalette([c for i in range(3) for c in colours[i]] + [0] * (256 - 3) * 3)
    else:
        rgb = np.array([colours[i] for i in range(3)], np.uint8)[classes]
        img = Image.fromarray(rgb, "RGB")
        if mode == "RGBA":
            img = img.convert("RGBA")
    assert img.mode == mode
    img.save(root / "train_masks/a.png")

    example = parse(convert(root, "train_images/a.png"))
    assert feature(example, records.CLASS_LABEL) == [1, 2]
    speaker, mug = decoded_masks(example)
    np.testing.assert_array_equal(speaker, (classes == 1).astype(np.uint8))
    np.testing.assert_array_equal(mug, (classes == 2).astype(np.uint8))


def test_connected_components_are_instances_with_8_connectivity_and_a_minimum_area(tmp_path):
    root = mini_seed(tmp_path / "ds")
    write_image(root / "train_images/a.jpg", photo())
    gray = np.zeros((64, 96), np.uint8)
    gray[5:20, 5:20] = MUG  # mug 1
    gray[20:35, 20:35] = MUG  # touches mug 1 only at a corner: the same object with 8-connectivity
    gray[40:60, 60:90] = MUG  # mug 2
    gray[40:50, 5:25] = SPEAKER
    gray[2:5, 90:93] = MUG  # a 9-pixel speck
    write_gray_png(root / "train_masks/a.png", gray)

    outcome = convert(root, "train_images/a.jpg", min_instance_area=10)
    example = parse(outcome)
    assert feature(example, records.CLASS_LABEL) == [1, 2, 2]
    assert feature(example, records.OBJECT_AREA) == [200.0, 450.0, 600.0]
    assert outcome.num_small_components_dropped == 1
    outcome = convert(root, "train_images/a.jpg", min_instance_area=5)
    assert feature(parse(outcome), records.CLASS_LABEL) == [1, 2, 2, 2]


def test_voc_boxes_make_one_instance_each_even_when_objects_touch(tmp_path):
    root = mini_seed(tmp_path / "ds")
    (root / "train_bboxes").mkdir()
    write_image(root / "train_images/a.jpg", photo())
    gray = np.zeros((64, 96), np.uint8)
    gray[10:40, 10:40] = MUG
    gray[10:40, 40:70] = MUG  # touches the first mug: one connected component
    write_gray_png(root / "train_masks/a.png", gray)
    (root / "train_bboxes/a.xml").write_text(voc(("mug", (10, 10, 39, 39)), ("mug150", (40, 10, 69, 39))))

    example = parse(convert(root, "train_images/a.jpg"))
    assert feature(example, records.CLASS_LABEL) == [2, 2]
    left, right = decoded_masks(example)
    assert left.sum() == right.sum() == 900
    assert left[:, 40:].sum() == 0 and right[:, :40].sum() == 0
    # without the boxes it is one connected component: one instance
    (root / "train_bboxes/a.xml").unlink()
    assert feature(parse(convert(root, "train_images/a.jpg")), records.CLASS_LABEL) == [2]


def test_voc_object_of_the_mask_without_a_box_is_rejected(tmp_path):
    root = mini_seed(tmp_path / "ds")
    (root / "train_bboxes").mkdir()
    write_image(root / "train_images/a.jpg", photo())
    gray = np.zeros((64, 96), np.uint8)
    gray[10:30, 10:30] = MUG
    gray[40:60, 60:90] = MUG
    write_gray_png(root / "train_masks/a.png", gray)
    (root / "train_bboxes/a.xml").write_text(voc(("mug", (10, 10, 29, 29))))
    assert "outside every 'mug' box" in convert(root, "train_images/a.jpg").reason
