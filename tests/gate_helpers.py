"""The validation tests' helpers: rewriting ingested examples, running the validation steps on them."""

from __future__ import annotations

import os
from pathlib import Path

from dataset import layout


def rewrite_examples(examples_dir, split, mutate, which=lambda index: index == 0):
    """Rewrites the split's GZIP TFRecords with `mutate(example)` applied to the chosen examples."""
    import tensorflow as tf

    for path in tf.io.gfile.glob(os.path.join(layout.split_dir(str(examples_dir), split), "*")):
        serialized = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type="GZIP")]
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for index, data in enumerate(serialized):
                example = tf.train.Example.FromString(data)
                if which(index):
                    mutate(example.features.feature)
                writer.write(example.SerializeToString())


def run_until_gate(examples_dir: Path, root: Path, train: bool = True, **config_changes) -> None:
    """Runs the validation components (and a 2-step Trainer after the gate) on an ingested folder."""
    from tfx import v1 as tfx

    from pipeline.pipeline import trainer_component, validation_components
    from pipeline.settings import PipelineConfig, TrainingSettings

    config = PipelineConfig(
        dataset="unused",
        pipeline_root=str(root),
        training=TrainingSettings(config="tiny"),
        train_steps=2,
        **config_changes,
    )
    importer = tfx.dsl.Importer(
        source_uri=str(examples_dir),
        artifact_type=tfx.types.standard_artifacts.Examples,
        properties={"split_names": '["train", "eval"]'},
    ).with_id("examples")
    validation = validation_components(importer.outputs["result"], config)
    trainer = [trainer_component(importer.outputs["result"], config, after=[validation[-1]])] if train else []
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(os.path.join(root, "metadata.sqlite"))
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="gate-test",
            pipeline_root=str(root),
            components=[importer, *validation, *trainer],
            metadata_connection_config=metadata,
            beam_pipeline_args=config.beam_pipeline_args,
        )
    )
