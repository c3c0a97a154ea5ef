"""Validation: TFDV statistics, the curated schema, ExampleValidator and the gate before training."""

import os
import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from components.data_gate.constants import REPORT_FILE, REPORT_TYPE_NAME
from components.data_gate.executor import DataValidationError, check_example
from conftest import SAMPLE_NUM_TEST, ingest_folder
from dataset import layout, records
from gate_helpers import rewrite_examples, run_until_gate


def test_clean_sample_passes_the_gate(trained_pipeline):
    gate = next(c for c in trained_pipeline["components"] if c["component"] == "DataGate")
    report = Path(gate["outputs"][REPORT_TYPE_NAME], REPORT_FILE).read_text()
    assert report.endswith("anomalies: none")
    assert trained_pipeline["validation"] == report  # shown in the run's summary
    statistics = next(c for c in trained_pipeline["components"] if c["component"] == "StatisticsGen")
    assert os.path.exists(os.path.join(statistics["outputs"]["ExampleStatistics"], "Split-train", "FeatureStats.pb"))
    assert any(c["component"] == "Trainer" and c["state"] == "COMPLETE" for c in trained_pipeline["components"])


def _set(key, values):
    def mutate(feature):
        kind = feature[key].WhichOneof("kind")
        getattr(feature[key], kind).value[:] = values(list(getattr(feature[key], kind).value))

    return mutate


def _no_instances(feature):
    for key in (
        records.BBOX_XMIN,
        records.BBOX_YMIN,
        records.BBOX_XMAX,
        records.BBOX_YMAX,
        records.CLASS_LABEL,
        records.CLASS_TEXT,
        records.OBJECT_AREA,
        records.OBJECT_IS_CROWD,
        records.OBJECT_MASK,
    ):
        kind = feature[key].WhichOneof("kind")
        del getattr(feature[key], kind).value[:]


def _swap_x(feature):
    xmin, xmax = feature[records.BBOX_XMIN].float_list.value, feature[records.BBOX_XMAX].float_list.value
    xmin[0], xmax[0] = xmax[0], xmin[0]


BAD_DATA = {
    "class id not in the label map": (
        "train",
        _set(records.CLASS_LABEL, lambda v: [7, *v[1:]]),
        ["image/object/class/label", "class ids [7] are not in the label map"],
    ),
    "box with xmin > xmax": ("train", _swap_x, ["box is not ordered"]),
    "box outside [0, 1]": ("train", _set(records.BBOX_XMAX, lambda v: [1.4, *v[1:]]), ["image/object/bbox/xmax"]),
    "lists of different lengths": (
        "train",
        _set(records.OBJECT_MASK, lambda v: v[:-1]),
        ["per-instance lists differ in length"],
    ),
}


def _gate_report_dir(root) -> str:
    [folder] = [d for d, _, files in os.walk(os.path.join(root, "DataGate")) if "validation_report.txt" in files]
    return folder


def _trainer_ran(root) -> bool:
    return os.path.exists(os.path.join(root, "Trainer"))


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_examples_stop_the_pipeline_before_training(case, sample_ingested, tmp_path):
    split, mutate, expected = BAD_DATA[case]
    examples = shutil.copytree(sample_ingested, tmp_path / "examples")
    rewrite_examples(examples, split, mutate)
    root = tmp_path / "root"
    with pytest.raises(DataValidationError) as error:
        run_until_gate(examples, root)
    report = str(error.value)
    assert "the data is not fit for training" in report
    for text in expected:
        assert text in report
    assert not _trainer_ran(root)


def test_background_images_pass_the_gate_as_negatives(sample_ingested, tmp_path):
    # a photo with no object (a COCO image without annotation, a mask all background): empty per-instance lists
    examples = shutil.copytree(sample_ingested, tmp_path / "examples")
    for split in layout.SPLITS:
        rewrite_examples(examples, split, _no_instances)
    root = tmp_path / "root"
    run_until_gate(examples, root, train=False)
    report = Path(_gate_report_dir(root), "validation_report.txt").read_text()
    assert report.endswith("anomalies: none")


def _only_speakers_in_eval(examples):
    only_speakers = _set(records.CLASS_LABEL, lambda v: [1] * len(v))
    rewrite_examples(
        examples,
        "eval",
        lambda f: (only_speakers(f), _set(records.CLASS_TEXT, lambda v: [b"speaker"] * len(v))(f)),
        which=lambda index: True,
    )


def test_class_distribution_drift_between_splits_stops_the_pipeline(pipeline_dataset, tmp_path):
    # 12 eval photos: enough instances for a one-class eval split to be drift, not chance
    examples = tmp_path / "examples"
    ingest_folder(pipeline_dataset, examples)
    _only_speakers_in_eval(examples)
    root = tmp_path / "root"
    with pytest.raises(DataValidationError, match="eval vs train drift") as error:
        run_until_gate(examples, root)
    assert "image/object/class/label" in str(error.value)
    assert "class drift threshold 0.250 (max_class_drift)" in str(error.value)
    assert not _trainer_ran(root)


def test_drift_that_chance_explains_on_a_small_eval_split_does_not_stop_the_run(sample_ingested, tmp_path):
    # 3 eval photos (4 instances) all of one class: random splits of this size do that often
    examples = shutil.copytree(sample_ingested, tmp_path / "examples")
    _only_speakers_in_eval(examples)
    root = tmp_path / "root"
    run_until_gate(examples, root, train=False)
    report = Path(_gate_report_dir(root), "validation_report.txt").read_text()
    assert "random splits of 4 eval and 21 train instances differ by more than" in report
    assert report.endswith("anomalies: none")


def test_too_few_eval_images_for_the_minimum_asked_stop_the_run_before_training(sample_ingested, tmp_path):
    root = tmp_path / "root"
    with pytest.raises(DataValidationError) as error:
        run_until_gate(sample_ingested, root, min_eval_images=SAMPLE_NUM_TEST + 1)
    assert f"{SAMPLE_NUM_TEST} eval images, fewer than the {SAMPLE_NUM_TEST + 1} asked for (--min-eval-images)" in str(
        error.value
    )
    assert not _trainer_ran(root)


def test_sampling_noise_shrinks_as_the_splits_grow():
    from components.data_gate.drift import sampling_noise

    shares = {"1": 0.5, "2": 0.3, "3": 0.2}
    noise = [
        sampling_noise({k: 4 * n * v for k, v in shares.items()}, {k: n * v for k, v in shares.items()})
        for n in (10, 100, 1000)
    ]
    assert noise[0] > 0.25 > noise[1] > noise[2]
    assert noise == [
        sampling_noise({k: 4 * n * v for k, v in shares.items()}, {k: n * v for k, v in shares.items()})
        for n in (10, 100, 1000)
    ]  # seeded: the gate decides the same way every time


def test_example_checks_name_the_file_and_the_reason(sample_ingested):
    path = tf.io.gfile.glob(os.path.join(layout.split_dir(str(sample_ingested), "train"), "*"))[0]
    serialized = next(iter(tf.data.TFRecordDataset(path, compression_type="GZIP"))).numpy()
    assert check_example(serialized, frozenset({1, 2})) == []
    example = tf.train.Example.FromString(serialized)
    _swap_x(example.features.feature)
    problems = check_example(example.SerializeToString(), frozenset({1, 2}))
    name = example.features.feature[records.IMAGE_FILENAME].bytes_list.value[0].decode()
    assert problems and problems[0].startswith(f"{name}: instance 0 box is not ordered")


# --- the schema: curated rules + the label map's classes ---------------------------------------
def test_the_schema_takes_its_classes_from_the_label_map():
    import tensorflow_data_validation as tfdv

    from components.schema_gen import schema as schema_lib
    from dataset.labelmap import LabelClass, LabelMap

    curated = tfdv.load_schema_text(str(schema_lib.SCHEMA_PATH))
    assert schema_lib.stated_classes(curated) == (None, None)  # the committed schema leaves them to each run
    five = LabelMap(
        classes=tuple(
            LabelClass(i, name, 10 * i)
            for i, name in enumerate(["boombox", "tumbler", "kettle", "plant", "lamp"], start=1)
        )
    )
    schema = schema_lib.with_classes(curated, five)
    assert schema_lib.stated_classes(schema) == ((1, 5), ("boombox", "kettle", "lamp", "plant", "tumbler"))
    assert schema_lib.with_classes(schema, five) == schema  # a schema stating the same classes is fine


def test_a_curated_schema_stating_other_classes_fails_naming_both_and_the_fix(sample_ingested, tmp_path):
    import tensorflow_data_validation as tfdv

    from components.schema_gen import schema as schema_lib

    stale = tfdv.load_schema_text(str(schema_lib.SCHEMA_PATH))
    tfdv.get_feature(stale, records.CLASS_TEXT).string_domain.value[:] = ["cup", "speaker"]
    tfdv.write_schema_text(stale, str(tmp_path / "stale.pbtxt"))
    with pytest.raises(schema_lib.SchemaClassesError) as error:
        run_until_gate(sample_ingested, tmp_path / "root", schema=str(tmp_path / "stale.pbtxt"))
    message = str(error.value)
    assert f"{tmp_path / 'stale.pbtxt'} states the classes (names cup, speaker)" in message
    assert "label map" in message and "names mug, speaker" in message
    assert "maskrcnn-tfx schema --examples" in message and "Remove the int_domain" in message
    assert not _trainer_ran(tmp_path / "root")


def test_a_schema_drafted_by_the_schema_command_passes_the_gate(sample_ingested, tmp_path):
    from pipeline import cli

    assert cli.main(["schema", "--examples", str(sample_ingested), "--output", str(tmp_path / "mine.pbtxt")]) == 0
    root = tmp_path / "root"
    run_until_gate(sample_ingested, root, train=False, schema=str(tmp_path / "mine.pbtxt"))
    report = Path(_gate_report_dir(root), "validation_report.txt").read_text()
    assert report.endswith("anomalies: none")
