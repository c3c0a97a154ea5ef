"""ImageMaskExampleGen in a real (one-component) LocalDagRunner pipeline with SQLite metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE_NUM_TEST, SAMPLE_NUM_TRAIN, copy_dataset
from dataset import layout


def run_pipeline(dataset: Path, root: Path, **component_args):
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    from components.example_gen.component import ImageMaskExampleGen

    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(str(root / "metadata.db"))
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="ingest-test",
        pipeline_root=str(root / "pipeline"),
        components=[ImageMaskExampleGen(input_base=str(dataset), **component_args)],
        metadata_connection_config=connection,
        enable_cache=False,
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return metadata_store.MetadataStore(connection)


def test_component_writes_the_examples_artifact(sample_dataset, tmp_path):
    from tfx.types import artifact_utils

    store = run_pipeline(sample_dataset, tmp_path)
    [artifact] = store.get_artifacts_by_type("Examples")
    uri = Path(artifact.uri)
    props = {k: getattr(v, v.WhichOneof("value")) for k, v in artifact.custom_properties.items()}
    assert props["num_examples_train"] == SAMPLE_NUM_TRAIN
    assert props["num_examples_eval"] == SAMPLE_NUM_TEST
    assert props["num_rejected"] == 0
    assert props["num_instances"] == props["num_instances_train"] + props["num_instances_eval"] > 0
    assert props["payload_format"] == "FORMAT_TF_EXAMPLE"
    assert props["file_format"] == "tfrecords_gzip"
    assert props["ingest_format"] == "seed"
    assert "input_fingerprint" in props  # set by TFX's FileBasedDriver, keys the cache on the files
    assert artifact_utils.decode_split_names(artifact.properties["split_names"].string_value) == ["train", "eval"]
    for split in layout.SPLITS:
        assert list((uri / f"Split-{split}").glob("data_tfrecord-*.gz"))
    assert layout.read_label_map(str(uri)).names == ("speaker", "mug")
    assert (uri / layout.REJECTS_FILE).read_text() == ""
    summary = json.loads((uri / layout.SUMMARY_FILE).read_text())
    assert summary["num_instances"]["train"] == props["num_instances_train"]


def test_component_fails_when_too_many_inputs_are_rejected(sample_dataset, tmp_path):
    dataset = copy_dataset(sample_dataset, tmp_path / "dataset")
    (dataset / "train_images/broken.jpg").write_bytes(b"not a JPEG")
    (dataset / "train_masks/broken.png").write_bytes((dataset / "train_masks/train_0000.png").read_bytes())
    with pytest.raises(Exception) as error:
        run_pipeline(dataset, tmp_path, max_reject_fraction=0.05)
    message = str(error.value)
    assert "1 of 13 inputs rejected (7.7%), more than max_reject_fraction 5.0%" in message
    assert "broken.jpg: cannot decode the image" in message
    store_artifacts = run_pipeline(dataset, tmp_path / "again", max_reject_fraction=0.1).get_artifacts_by_type(
        "Examples"
    )
    assert store_artifacts[0].custom_properties["num_rejected"].int_value == 1
