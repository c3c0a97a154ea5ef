"""Ingestion: the sample generator, the seed layout, COCO, bad inputs, splits, the command."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dataset import coco_convert, layout, records, sample
from dataset import plan as planning
from dataset.convert import convert_item
from dataset.labelmap import LabelMap, LabelMapError
from tests.conftest import (MUG, SAMPLE_NUM_TEST, SAMPLE_NUM_TRAIN, SAMPLE_NUM_UNLABELLED, SPEAKER,
                            copy_dataset, feature, ingest_folder, mini_seed, photo, read_examples, write_gray_png,
                            write_image)


# --- helpers -------------------------------------------------------------------
def plan_items(root: Path, **options) -> dict[str, records.WorkItem]:
    plan = planning.plan_ingest(str(root), planning.IngestOptions(**options))
    return {item.rel_path: item for item in plan.items}


def convert(root: Path, rel_path: str, min_instance_area: int = 16) -> records.Outcome:
    plan = planning.plan_ingest(str(root), planning.IngestOptions(min_instance_area=min_instance_area))
    item = next(i for i in plan.items if i.rel_path == rel_path)
    return convert_item(item, plan.label_map, min_instance_area, plan.dataset_dir)


def parse(outcome: records.Outcome):
    import tensorflow as tf

    assert outcome.example is not None, outcome.reason
    return tf.train.Example.FromString(outcome.example)


def decoded_masks(example) -> list[np.ndarray]:
    return [cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
            for png in feature(example, records.OBJECT_MASK)]


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
        tmp_path / "c/train_images/train_0000.jpg").read_bytes()


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
        for mask, box in zip(masks, boxes):
            ys, xs = np.nonzero(mask)
            np.testing.assert_allclose(box, [ys.min() / height, xs.min() / width, (ys.max() + 1) / height,
                                             (xs.max() + 1) / width], atol=1e-6)
        np.testing.assert_array_equal(decoded["groundtruth_area"].numpy(), masks.sum(axis=(1, 2)))
        assert set(decoded["groundtruth_classes"].numpy().tolist()) <= {1, 2}
        assert not decoded["groundtruth_is_crowd"].numpy().any()
        # instances = objects of the mask: one per connected component of each class
        folder = "train" if filename.startswith("train") else "test"
        mask_path = sample_dataset / f"{folder}_masks" / (Path(filename).stem + ".png")
        gray = cv2.cvtColor(cv2.imread(str(mask_path)), cv2.COLOR_BGR2GRAY)
        expected = sum(cv2.connectedComponents((gray == v).astype(np.uint8), connectivity=8)[0] - 1
                       for v in (SPEAKER, MUG))
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


VOC = """<annotation><filename>a.jpg</filename><size><width>{width}</width><height>{height}</height></size>
{objects}</annotation>"""
VOC_OBJECT = "<object><name>{name}</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin><xmax>{2}</xmax><ymax>{3}</ymax></bndbox></object>"


def voc(*objects, size=(96, 64)) -> str:
    return VOC.format(objects="".join(VOC_OBJECT.format(*box, name=name) for name, box in objects),
                      width=size[0], height=size[1])


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


# --- bad inputs: one dataset holding them all, ingested once --------------------------
@pytest.fixture(scope="module")
def bad_dataset(sample_dataset, tmp_path_factory) -> Path:
    root = copy_dataset(sample_dataset, tmp_path_factory.mktemp("bad") / "dataset")
    images, masks, boxes = root / "train_images", root / "train_masks", root / "train_bboxes"
    good_jpeg = (images / "train_0000.jpg").read_bytes()
    good_mask = masks / "train_0000.png"
    height, width = cv2.imread(str(good_mask)).shape[:2]

    (images / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    shutil.copy(good_mask, masks / "corrupt.png")
    (images / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    shutil.copy(good_mask, masks / "truncated.png")
    (images / "nomask.jpg").write_bytes(good_jpeg)
    shutil.copy(good_mask, masks / "orphan.png")
    (images / "small.jpg").write_bytes(good_jpeg)
    write_gray_png(masks / "small.png", np.full((height // 2, width // 2), SPEAKER, np.uint8))
    unknown = np.zeros((height, width), np.uint8)
    unknown[10:40, 10:40] = SPEAKER
    unknown[50:60, 50:60] = 77
    unknown[70:72, 70:72] = 200
    (images / "unknown.jpg").write_bytes(good_jpeg)
    write_gray_png(masks / "unknown.png", unknown)
    (images / "empty.jpg").write_bytes(good_jpeg)
    write_gray_png(masks / "empty.png", np.zeros((height, width), np.uint8))

    one_object = np.zeros((height, width), np.uint8)
    one_object[20:60, 20:60] = MUG
    for stem, xml in (
        ("voc_outside", voc(("mug", (20, 20, 59, 59)), ("mug", (width + 10, 5, width + 40, 30)), size=(width, height))),
        ("voc_nopixels", voc(("mug", (20, 20, 59, 59)), ("mug", (100, 100, 120, 120)), size=(width, height))),
        ("voc_unknown_name", voc(("cat", (20, 20, 59, 59)), size=(width, height))),
        ("voc_malformed", "<annotation><object><name>mug</name><bndbox><xmin>1</xmin>"),
    ):
        (images / f"{stem}.jpg").write_bytes(good_jpeg)
        write_gray_png(masks / f"{stem}.png", one_object)
        (boxes / f"{stem}.xml").write_text(xml)
    (boxes / "voc_orphan.xml").write_text(voc(("mug", (20, 20, 59, 59)), size=(width, height)))

    (images / "notes.txt").write_text("shot on a sunny day")
    (masks / "readme.md").write_text("masks")
    (images / "scan.bmp").write_bytes(b"BM")
    (images / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (images / "more").mkdir()
    (root / "test_masks" / "orphan_test.png").write_bytes(good_mask.read_bytes())
    return root


@pytest.fixture(scope="module")
def bad_ingested(bad_dataset, tmp_path_factory) -> tuple[dict, dict[str, dict], Path]:
    out = tmp_path_factory.mktemp("bad_out") / "examples"
    summary = ingest_folder(bad_dataset, out)
    rejects = {Path(r["file"]).relative_to(bad_dataset).as_posix(): r for r in layout.read_rejects(str(out))}
    return summary, rejects, out


@pytest.mark.parametrize("file, reason", [
    ("train_images/corrupt.jpg", "cannot decode the image"),
    ("train_images/truncated.jpg", "truncated"),
    ("train_images/nomask.jpg", "no mask train_masks/nomask.png"),
    ("train_masks/orphan.png", "mask without image"),
    ("test_masks/orphan_test.png", "mask without image"),
    ("train_images/small.jpg", "mask small.png is 128x96 but the image is 256x192"),
    ("train_images/unknown.jpg", "not in the label map: 77 (100 px), 200 (4 px)"),
    ("train_images/unknown.jpg", "maskrcnn-tfx labelmap --dataset"),
    ("train_images/empty.jpg", "has no object"),
    ("train_images/voc_outside.jpg", "object #2 (mug) box [266, 5, 296, 30] is outside the 256x192 image"),
    ("train_images/voc_nopixels.jpg", "object #2 (mug) box [100, 100, 120, 120] holds no pixel of its class"),
    ("train_images/voc_unknown_name.jpg", "named 'cat', which is not in the label map (classes: speaker, mug)"),
    ("train_images/voc_malformed.jpg", "malformed VOC XML"),
    ("train_bboxes/voc_orphan.xml", "VOC file without image"),
    ("train_images/notes.txt", "non-image file in train_images/"),
    ("train_masks/readme.md", "non-image file in train_masks/"),
    ("train_images/scan.bmp", "unsupported image type .bmp"),
    ("train_images/more", "nested folders are not read"),
])
def test_bad_input_gives_a_reject_row_with_its_reason(bad_ingested, file, reason):
    _, rejects, _ = bad_ingested
    assert file in rejects, sorted(rejects)
    assert reason in rejects[file]["reason"]
    assert rejects[file]["split"] in layout.SPLITS


def test_every_input_is_an_example_a_reject_or_unlabelled(bad_dataset, bad_ingested):
    summary, rejects, out = bad_ingested
    assert summary["num_rejected"] == len(rejects) == 17
    assert summary["num_examples"] == {"train": SAMPLE_NUM_TRAIN, "eval": SAMPLE_NUM_TEST}
    assert summary["num_inputs"] == sum(summary["num_examples"].values()) + summary["num_rejected"] + 1
    assert summary["ignored_files"] == [str(bad_dataset / "train_images/.DS_Store")]
    examples = {feature(e, records.IMAGE_FILENAME)[0].decode()
                for split in layout.SPLITS for e in read_examples(out, split)}
    unlabelled = {Path(p).relative_to(bad_dataset).as_posix() for p in summary["unlabelled_images"]}
    files = {p.relative_to(bad_dataset).as_posix()
             for folder in ("train_images", "train_masks", "train_bboxes", "test_images", "test_masks")
             for p in (bad_dataset / folder).iterdir() if not p.name.startswith(".")}
    images = {f for f in files if f.startswith(("train_images/", "test_images/"))}
    assert images <= examples | set(rejects) | unlabelled
    assert not examples & set(rejects) and not examples & unlabelled and not set(rejects) & unlabelled
    # a mask or VOC file is either consumed with its image or a reject of its own
    for f in files - images:
        stem = Path(f).stem
        folder = f.split("/")[0].split("_")[0]
        paired = {f"{folder}_images/{stem}{ext}" for ext in (".jpg", ".jpeg", ".png")} & (examples | set(rejects))
        assert paired or f in rejects, f


def test_too_many_rejects_fail_with_counts_and_first_reasons(bad_dataset, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(records.IngestError) as error:
        ingest_folder(bad_dataset, out, check=True)
    message = str(error.value)
    assert "17 of 29 inputs rejected (58.6%), more than max_reject_fraction 5.0%" in message
    assert "corrupt.jpg: cannot decode the image" in message
    assert "... and 7 more" in message
    assert str(out / "rejects.jsonl") in message
    # the same data passes with a threshold above its reject fraction
    ingest_folder(bad_dataset, tmp_path / "out2", check=True, max_reject_fraction=0.7)


def test_malformed_label_map_fails_before_any_beam_work(sample_dataset, tmp_path, capsys):
    from pipeline import cli

    root = copy_dataset(sample_dataset, tmp_path / "ds")
    (root / "label.pbtxt").write_text("item { id: 1 name: 'speaker' }\n")
    with pytest.raises(LabelMapError, match="label.pbtxt: item at line 1: name 'speaker' does not end in three"):
        planning.plan_ingest(str(root), planning.IngestOptions())
    out = tmp_path / "out"
    assert cli.main(["ingest", "--dataset", str(root), "--output", str(out)]) == 1
    assert "does not end in three digits" in capsys.readouterr().err
    assert not out.exists()


# --- splits -------------------------------------------------------------------------
def test_hash_split_is_stable_and_close_to_the_fraction():
    paths = [f"train_images/img_{i:05d}.jpg" for i in range(5000)]
    splits = [records.hash_split(p, 0.2) for p in paths]
    assert splits == [records.hash_split(p, 0.2) for p in paths]
    assert abs(splits.count("eval") / len(paths) - 0.2) < 0.02
    assert abs([records.hash_split(p, 0.5) for p in paths].count("eval") / len(paths) - 0.5) < 0.03


def test_without_test_masks_eval_is_a_hash_split_of_train(sample_dataset, tmp_path):
    root = copy_dataset(sample_dataset, tmp_path / "ds")
    shutil.rmtree(root / "test_masks")
    plan = planning.plan_ingest(str(root), planning.IngestOptions(eval_fraction=0.4))
    again = planning.plan_ingest(str(root), planning.IngestOptions(eval_fraction=0.4))
    assert plan.eval_source == "hash_split"
    assert [(i.rel_path, i.split) for i in plan.items] == [(i.rel_path, i.split) for i in again.items]
    assert all(i.rel_path.startswith("train_images/") for i in plan.items)
    assert {i.split for i in plan.items} == {"train", "eval"}
    assert all(i.split == records.hash_split(i.rel_path, 0.4) for i in plan.items)
    assert len(plan.unlabelled) == SAMPLE_NUM_TEST + SAMPLE_NUM_UNLABELLED


def test_test_folder_with_masks_is_the_eval_split(sample_dataset):
    plan = planning.plan_ingest(str(sample_dataset), planning.IngestOptions())
    assert plan.eval_source == "test_folder"
    assert {i.rel_path for i in plan.items if i.split == "eval"} == {
        f"test_images/test_{i:04d}.jpg" for i in range(SAMPLE_NUM_TEST)}


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
                    annotations.append({"id": ann_id, "image_id": image_id, "category_id": category_id,
                                        "segmentation": segmentation, "iscrowd": int(kind == "crowd"),
                                        "area": float(mask.sum()), "bbox": [0, 0, 1, 1]})
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
    root, expected = coco_dataset
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
        for got, (_, kind, mask) in zip(decoded_masks(example), wanted):
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
    np.testing.assert_array_equal(coco_convert.segmentation_mask(uncompressed_rle(mask), 20, 30), mask)
    square = coco_convert.segmentation_mask([[10, 5, 25, 5, 25, 15, 10, 15]], 20, 30)
    assert square[6:14, 11:24].all() and not square[:4].any()
    with pytest.raises(ValueError, match="at least 3"):
        coco_convert.segmentation_mask([[1, 2, 3, 4]], 20, 30)
    with pytest.raises(ValueError, match="differs"):
        coco_convert.segmentation_mask({"size": [10, 10], "counts": [100]}, 20, 30)


# --- format detection ------------------------------------------------------------------------
def test_format_auto_detection(sample_dataset, coco_dataset, tmp_path):
    assert planning.detect_format(str(sample_dataset)) == "seed"
    assert planning.detect_format(str(coco_dataset[0])) == "coco"
    both = copy_dataset(sample_dataset, tmp_path / "both")
    (both / "annotations").mkdir()
    shutil.copy(coco_dataset[0] / "annotations/instances_train.json", both / "annotations")
    with pytest.raises(records.IngestError, match="both a seed layout .* pass --format"):
        planning.detect_format(str(both))
    assert planning.plan_ingest(str(both), planning.IngestOptions(format="seed")).format == "seed"
    (tmp_path / "empty").mkdir()
    with pytest.raises(records.IngestError, match="neither a seed layout"):
        planning.detect_format(str(tmp_path / "empty"))


# --- the command line --------------------------------------------------------------------------
def test_ingest_command_prints_counts_and_rejects(bad_dataset, tmp_path, capsys):
    from pipeline import cli

    out = tmp_path / "out"
    argv = ["ingest", "--dataset", str(bad_dataset), "--output", str(out), "--beam-arg=--direct_num_workers=1"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "17 of 29 inputs rejected" in err and "nomask.jpg: no mask" in err
    assert cli.main(argv + ["--overwrite", "--max-reject-fraction", "0.7"]) == 0
    printed = capsys.readouterr().out
    assert f"train:      {SAMPLE_NUM_TRAIN} examples" in printed
    assert "rejected: 17 of 30 inputs" in printed
    assert "corrupt.jpg: cannot decode the image" in printed
    assert layout.read_summary(str(out))["num_rejected"] == 17


def test_labelmap_command_lists_values_and_drafts_a_loadable_map(bad_dataset, tmp_path, capsys):
    from pipeline import cli

    draft = tmp_path / "label_map.yaml"
    assert cli.main(["labelmap", "--dataset", str(bad_dataset), "--output", str(draft)]) == 0
    printed = capsys.readouterr().out
    rows = {int(line.split()[0]): line for line in printed.splitlines() if line.strip()[:1].isdigit()}
    assert set(rows) == {SPEAKER, 77, MUG, 200}
    assert "speaker" in rows[SPEAKER] and "(255, 0, 0)" in rows[SPEAKER]
    assert "not in the label map" in rows[77]
    label_map = LabelMap.load(draft)
    assert {c.pixel_value: c.name for c in label_map.classes} == {
        SPEAKER: "speaker", MUG: "mug", 77: "class_077", 200: "class_200"}
    assert label_map.by_pixel[SPEAKER].id == 1 and label_map.by_pixel[MUG].id == 2


def test_examples_are_tf_train_examples_built_without_tensorflow():
    import tensorflow as tf

    from dataset import example_proto

    features = {"a/bytes": ("bytes", [b"x", b"\0y"]), "a/float": ("float", [0.5, 0.25]),
                "a/int": ("int64", [3, -1, 2**40]), "a/empty": ("float", [])}
    ours = tf.train.Example.FromString(example_proto.serialize(features))
    expected = tf.train.Example(features=tf.train.Features(feature={
        "a/bytes": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x", b"\0y"])),
        "a/float": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5, 0.25])),
        "a/int": tf.train.Feature(int64_list=tf.train.Int64List(value=[3, -1, 2**40])),
        "a/empty": tf.train.Feature(float_list=tf.train.FloatList(value=[])),
    }))
    assert ours == expected
    assert example_proto.serialize(features) == expected.SerializeToString(deterministic=True)
