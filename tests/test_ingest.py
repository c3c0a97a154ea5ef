"""Ingestion as a whole: every bad input a reject with its reason, nothing lost, splits, the commands."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import (
    MUG,
    SAMPLE_NUM_TEST,
    SAMPLE_NUM_TRAIN,
    SAMPLE_NUM_UNLABELLED,
    SPEAKER,
    copy_dataset,
    feature,
    ingest_folder,
    read_examples,
)
from dataset import layout, records
from dataset import plan as planning
from dataset.labelmap import LabelMap, LabelMapError


# --- bad inputs (the bad_dataset fixture), ingested once ----------------------------
@pytest.fixture(scope="module")
def bad_ingested(bad_dataset, tmp_path_factory) -> tuple[dict, dict[str, dict], Path]:
    out = tmp_path_factory.mktemp("bad_out") / "examples"
    summary = ingest_folder(bad_dataset, out)
    rejects = {Path(r["file"]).relative_to(bad_dataset).as_posix(): r for r in layout.read_rejects(str(out))}
    return summary, rejects, out


@pytest.mark.parametrize(
    "file, reason",
    [
        ("train_images/corrupt.jpg", "cannot decode the image"),
        ("train_images/truncated.jpg", "truncated"),
        ("train_images/nomask.jpg", "no mask train_masks/nomask.png"),
        ("train_masks/orphan.png", "mask without image"),
        ("test_masks/orphan_test.png", "mask without image"),
        ("train_images/small.jpg", "mask small.png is 128x96 but the image is 256x192"),
        ("train_images/unknown.jpg", "not in the label map: 100 (100 px), 200 (4 px)"),
        ("train_images/unknown.jpg", "maskrcnn-tfx labelmap --dataset"),
        ("train_images/voc_outside.jpg", "object #2 (mug) box [266, 5, 296, 30] is outside the 256x192 image"),
        ("train_images/voc_nopixels.jpg", "object #2 (mug) box [100, 100, 120, 120] holds no pixel of its class"),
        ("train_images/voc_unknown_name.jpg", "named 'cat', which is not in the label map (classes: speaker, mug)"),
        ("train_images/voc_malformed.jpg", "malformed VOC XML"),
        ("train_bboxes/voc_orphan.xml", "VOC file without image"),
        ("train_images/notes.txt", "non-image file in train_images/"),
        ("train_masks/readme.md", "non-image file in train_masks/"),
        ("train_images/scan.bmp", "unsupported image type .bmp"),
        ("train_images/more", "nested folders are not read"),
    ],
)
def test_bad_input_gives_a_reject_row_with_its_reason(bad_ingested, file, reason):
    _, rejects, _ = bad_ingested
    assert file in rejects, sorted(rejects)
    assert reason in rejects[file]["reason"]
    assert rejects[file]["split"] in layout.SPLITS


def test_every_input_is_an_example_a_reject_or_unlabelled(bad_dataset, bad_ingested):
    summary, rejects, out = bad_ingested
    assert summary["num_rejected"] == len(rejects) == 16
    # empty.png, all background: a negative example (tests/test_mask_values.py)
    assert summary["num_examples"] == {"train": SAMPLE_NUM_TRAIN + 1, "eval": SAMPLE_NUM_TEST}
    assert summary["num_negative"] == {"train": 1, "eval": 0}
    assert summary["num_inputs"] == sum(summary["num_examples"].values()) + summary["num_rejected"] + 1
    assert summary["ignored_files"] == [str(bad_dataset / "train_images/.DS_Store")]
    examples = {
        feature(e, records.IMAGE_FILENAME)[0].decode() for split in layout.SPLITS for e in read_examples(out, split)
    }
    unlabelled = {Path(p).relative_to(bad_dataset).as_posix() for p in summary["unlabelled_images"]}
    files = {
        p.relative_to(bad_dataset).as_posix()
        for folder in ("train_images", "train_masks", "train_bboxes", "test_images", "test_masks")
        for p in (bad_dataset / folder).iterdir()
        if not p.name.startswith(".")
    }
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
    assert "16 of 29 inputs rejected (55.2%), more than max_reject_fraction 5.0%" in message
    assert "corrupt.jpg: cannot decode the image" in message
    assert "... and 6 more" in message
    assert str(out / "rejects.jsonl") in message
    # the same data passes with a threshold above its reject fraction
    ingest_folder(bad_dataset, tmp_path / "out2", check=True, max_reject_fraction=0.7)


def test_malformed_label_map_fails_before_any_beam_work(sample_dataset, tmp_path, capsys):
    from pipeline import cli

    root = copy_dataset(sample_dataset, tmp_path / "ds")
    (root / "label.pbtxt").write_text("item { id: 1 name: 'speaker' }\n")
    with pytest.raises(LabelMapError, match=r"label\.pbtxt: item at line 1: name 'speaker' does not end in three"):
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
        f"test_images/test_{i:04d}.jpg" for i in range(SAMPLE_NUM_TEST)
    }


# --- the command line --------------------------------------------------------------------------
def test_ingest_command_prints_counts_and_rejects(bad_dataset, tmp_path, capsys):
    from pipeline import cli

    out = tmp_path / "out"
    argv = ["ingest", "--dataset", str(bad_dataset), "--output", str(out), "--beam-arg=--direct_num_workers=1"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "16 of 29 inputs rejected" in err and "nomask.jpg: no mask" in err
    assert cli.main([*argv, "--overwrite", "--max-reject-fraction", "0.7"]) == 0
    printed = capsys.readouterr().out
    assert f"train:     {SAMPLE_NUM_TRAIN + 1} examples" in printed  # empty.png: a background photo
    assert "(1 of them background photos, no object: negatives)" in printed
    assert "rejected: 16 of 30 inputs" in printed
    assert "corrupt.jpg: cannot decode the image" in printed
    assert layout.read_summary(str(out))["num_rejected"] == 16


def test_each_ingestion_in_a_process_counts_its_progress_from_zero(sample_dataset, tmp_path, capsys):
    from pipeline import cli

    for name in ("first", "second"):
        assert cli.main(["ingest", "--dataset", str(sample_dataset), "--output", str(tmp_path / name)]) == 0
    counts = [
        tuple(int(n) for n in re.search(r": (\d+) of (\d+) ", line).groups())
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("[ingest] inputs converted")
    ]
    assert counts and all(done <= total for done, total in counts), counts
    assert len([done for done, total in counts if done == total]) == 2, counts


def test_labelmap_command_lists_values_and_drafts_a_loadable_map(bad_dataset, tmp_path, capsys):
    from pipeline import cli

    draft = tmp_path / "label_map.yaml"
    assert cli.main(["labelmap", "--dataset", str(bad_dataset), "--output", str(draft)]) == 0
    printed = capsys.readouterr().out
    rows = {int(line.split()[0]): line for line in printed.splitlines() if line.strip()[:1].isdigit()}
    assert set(rows) == {SPEAKER, 100, MUG, 200}
    assert "speaker" in rows[SPEAKER] and "(255, 0, 0)" in rows[SPEAKER]
    assert "not in the label map" in rows[100]
    label_map = LabelMap.load(draft)
    assert {c.pixel_value: c.name for c in label_map.classes} == {
        SPEAKER: "speaker",
        MUG: "mug",
        100: "class_100",
        200: "class_200",
    }
    assert label_map.by_pixel[SPEAKER].id == 1 and label_map.by_pixel[MUG].id == 2


def test_examples_are_tf_train_examples_built_without_tensorflow():
    import tensorflow as tf

    from dataset import example_proto

    features = {
        "a/bytes": ("bytes", [b"x", b"\0y"]),
        "a/float": ("float", [0.5, 0.25]),
        "a/int": ("int64", [3, -1, 2**40]),
        "a/empty": ("float", []),
    }
    ours = tf.train.Example.FromString(example_proto.serialize(features))
    expected = tf.train.Example(
        features=tf.train.Features(
            feature={
                "a/bytes": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x", b"\0y"])),
                "a/float": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5, 0.25])),
                "a/int": tf.train.Feature(int64_list=tf.train.Int64List(value=[3, -1, 2**40])),
                "a/empty": tf.train.Feature(float_list=tf.train.FloatList(value=[])),
            }
        )
    )
    assert ours == expected
    assert example_proto.serialize(features) == expected.SerializeToString(deterministic=True)
