"""Validation: TFDV statistics, the curated schema, ExampleValidator and the gate before training."""
import os
import shutil

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from components.data_gate.component import DataValidationReport
from components.data_gate.executor import DataValidationError, check_example
from components.trainer.trainer_module import TrainingSettings
from dataset import layout, records
from pipeline.pipeline import PipelineConfig, trainer_component, validation_components


def test_clean_sample_passes_the_gate(trained_pipeline):
    gate = next(c for c in trained_pipeline["components"] if c["component"] == "DataGate")
    report = open(os.path.join(gate["outputs"][DataValidationReport.TYPE_NAME], "validation_report.txt")).read()
    assert report.endswith("anomalies: none")
    assert trained_pipeline["validation"] == report  # shown in the run's summary
    statistics = next(c for c in trained_pipeline["components"] if c["component"] == "StatisticsGen")
    assert os.path.exists(os.path.join(statistics["outputs"]["ExampleStatistics"], "Split-train", "FeatureStats.pb"))
    assert any(c["component"] == "Trainer" and c["state"] == "COMPLETE" for c in trained_pipeline["components"])


def _rewrite(examples_dir, split, mutate, which=lambda index: index == 0):
    """Rewrites the split's GZIP TFRecords with `mutate(example)` applied to the chosen examples."""
    for path in tf.io.gfile.glob(os.path.join(layout.split_dir(str(examples_dir), split), "*")):
        serialized = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type="GZIP")]
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for index, data in enumerate(serialized):
                example = tf.train.Example.FromString(data)
                if which(index):
                    mutate(example.features.feature)
                writer.write(example.SerializeToString())


def _set(key, values):
    def mutate(feature):
        kind = feature[key].WhichOneof("kind")
        getattr(feature[key], kind).value[:] = values(list(getattr(feature[key], kind).value))
    return mutate


def _no_instances(feature):
    for key in (records.BBOX_XMIN, records.BBOX_YMIN, records.BBOX_XMAX, records.BBOX_YMAX, records.CLASS_LABEL,
                records.CLASS_TEXT, records.OBJECT_AREA, records.OBJECT_IS_CROWD, records.OBJECT_MASK):
        kind = feature[key].WhichOneof("kind")
        del getattr(feature[key], kind).value[:]


def _swap_x(feature):
    xmin, xmax = feature[records.BBOX_XMIN].float_list.value, feature[records.BBOX_XMAX].float_list.value
    xmin[0], xmax[0] = xmax[0], xmin[0]


BAD_DATA = {
    "class id not in the label map": (
        "train", _set(records.CLASS_LABEL, lambda v: [7] + v[1:]), ["image/object/class/label",
                                                                  "class ids [7] are not in the label map"]),
    "box with xmin > xmax": ("train", _swap_x, ["box is not ordered"]),
    "box outside [0, 1]": ("train", _set(records.BBOX_XMAX, lambda v: [1.4] + v[1:]), ["image/object/bbox/xmax"]),
    "example with no instances": ("train", _no_instances, ["no instances", "image/object/class/label"]),
    "lists of different lengths": ("train", _set(records.OBJECT_MASK, lambda v: v[:-1]),
                                   ["per-instance lists differ in length"]),
}


def _run_until_gate(examples_dir, root, **config_changes):
    config = PipelineConfig(dataset="unused", pipeline_root=str(root), training=TrainingSettings(config="tiny"),
                            train_steps=2, **config_changes)
    importer = tfx.dsl.Importer(source_uri=str(examples_dir), artifact_type=tfx.types.standard_artifacts.Examples,
                                properties={"split_names": '["train", "eval"]'}).with_id("examples")
    validation = validation_components(importer.outputs["result"], config)
    trainer = trainer_component(importer.outputs["result"], config, after=[validation[-1]])
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(os.path.join(root, "metadata.sqlite"))
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="gate-test", pipeline_root=str(root), components=[importer, *validation, trainer],
        metadata_connection_config=metadata))


def _trainer_ran(root) -> bool:
    return os.path.exists(os.path.join(root, "Trainer"))


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_examples_stop_the_pipeline_before_training(case, sample_ingested, tmp_path):
    split, mutate, expected = BAD_DATA[case]
    examples = shutil.copytree(sample_ingested, tmp_path / "examples")
    _rewrite(examples, split, mutate)
    root = tmp_path / "root"
    with pytest.raises(DataValidationError) as error:
        _run_until_gate(examples, root)
    report = str(error.value)
    assert "the data is not fit for training" in report
    for text in expected:
        assert text in report
    assert not _trainer_ran(root)


def test_class_distribution_drift_between_splits_stops_the_pipeline(sample_ingested, tmp_path):
    examples = shutil.copytree(sample_ingested, tmp_path / "examples")
    only_speakers = _set(records.CLASS_LABEL, lambda v: [1] * len(v))
    _rewrite(examples, "eval", lambda f: (only_speakers(f), _set(records.CLASS_TEXT, lambda v: [b"speaker"] * len(v))(f)),
             which=lambda index: True)
    root = tmp_path / "root"
    with pytest.raises(DataValidationError, match="eval vs train drift") as error:
        _run_until_gate(examples, root)
    assert "image/object/class/label" in str(error.value)
    assert not _trainer_ran(root)


def test_example_checks_name_the_file_and_the_reason(sample_ingested):
    path = tf.io.gfile.glob(os.path.join(layout.split_dir(str(sample_ingested), "train"), "*"))[0]
    serialized = next(iter(tf.data.TFRecordDataset(path, compression_type="GZIP"))).numpy()
    assert check_example(serialized, frozenset({1, 2})) == []
    example = tf.train.Example.FromString(serialized)
    _swap_x(example.features.feature)
    problems = check_example(example.SerializeToString(), frozenset({1, 2}))
    name = example.features.feature[records.IMAGE_FILENAME].bytes_list.value[0].decode()
    assert problems and problems[0].startswith(f"{name}: instance 0 box is not ordered")
