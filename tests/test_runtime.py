"""The image's stack: imports, the Kubeflow V2 runner, and a real LocalDagRunner run."""

import importlib
import os
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "tfx.v1",
        "tensorflow_data_validation",
        "ml_metadata",
        "apache_beam",
        "official.vision",
        "cv2",
        "kfp",
        "pycocotools.mask",
        "tensorboard",
    ],
)
def test_stack_imports(module):
    importlib.import_module(module)


def test_python_and_tensorflow_versions():
    import tensorflow as tf
    import tfx

    assert sys.version_info[:2] >= (3, 12)
    assert tf.__version__.startswith("2.21.")
    assert tfx.__version__.startswith("1.21.")


def test_kubeflow_v2_runner_exists():
    from tfx import v1 as tfx

    assert hasattr(tfx.orchestration.experimental, "KubeflowV2DagRunner")


def test_project_is_importable_from_the_working_tree():
    import pipeline

    # scripts/container puts the working tree first on PYTHONPATH, ahead of the copy
    # installed in the image, so tests run the current code.
    assert os.path.dirname(os.path.dirname(pipeline.__file__)) == os.path.dirname(os.path.dirname(__file__))


def _write_examples(path, count):
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as writer:
        for i in range(count):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "value": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 3])),
                    }
                )
            )
            writer.write(example.SerializeToString())


def test_local_dag_runner_runs_example_gen_and_statistics_gen_with_sqlite(tmp_path):
    import tensorflow_data_validation as tfdv
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_examples(str(data_dir / "examples.tfrecord"), 40)
    example_gen = tfx.components.ImportExampleGen(input_base=str(data_dir))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    metadata_path = tmp_path / "metadata.sqlite"
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="runtime-smoke",
            pipeline_root=str(tmp_path / "root"),
            components=[example_gen, statistics_gen],
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(metadata_path)),
        )
    )

    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(str(metadata_path))
    )
    stats_artifacts = store.get_artifacts_by_type("ExampleStatistics")
    assert len(stats_artifacts) == 1
    stats = tfdv.load_stats_binary(os.path.join(stats_artifacts[0].uri, "Split-train", "FeatureStats.pb"))
    train_count = stats.datasets[0].num_examples
    eval_stats = tfdv.load_stats_binary(os.path.join(stats_artifacts[0].uri, "Split-eval", "FeatureStats.pb"))
    assert train_count + eval_stats.datasets[0].num_examples == 40
    assert {f.path.step[0] for f in stats.datasets[0].features} == {"value", "label"}
