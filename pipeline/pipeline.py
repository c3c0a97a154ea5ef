"""The pipeline's shape, in one place: used by the local runner and the Kubeflow compiler."""

from __future__ import annotations

import dataclasses

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx
from tfx.orchestration.data_types import RuntimeParameter

from components.data_gate.component import DataGate
from components.evaluator.component import MaskEvaluator
from components.example_gen.component import ImageMaskExampleGen
from components.pusher.component import AtomicPusher
from components.schema_gen.component import LabelMapSchemaGen
from components.serving_check.component import ServingCheck
from pipeline.settings import PipelineConfig

TRAINER_RUN_FN = "components.trainer.trainer_module.run_fn"
# Steps never served from the cache: they decide on what is served now, which is not one of their inputs. The
# evaluator's baseline is the served model (from the cache it could judge against a model no longer served); the
# Pusher checks whether the model is already served (from the cache a push could be reported that did not
# happen now, or a cached Trainer's model pushed again: components/pusher/executor.py). The serving check judges
# the evaluator's answers of this run.
UNCACHED_STEPS = ("MaskEvaluator", "ServingCheck", "Pusher")


def validation_components(examples: tfx.dsl.Channel, config: PipelineConfig) -> list:
    """The schema (curated rules + the label map's classes), statistics, TFDV's validator and the gate."""
    schema_gen = LabelMapSchemaGen(examples=examples, schema_file=config.schema)
    statistics_gen = tfx.components.StatisticsGen(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True),
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    data_gate = DataGate(
        examples=examples,
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        anomalies=example_validator.outputs["anomalies"],
        max_class_drift=config.max_class_drift,
        min_eval_images=config.min_eval_images,
    )
    return [schema_gen, statistics_gen, example_validator, data_gate]


def trainer_component(examples: tfx.dsl.Channel, config: PipelineConfig, after: list) -> tfx.components.Trainer:
    if isinstance(config.train_steps, RuntimeParameter):
        train_args = config.train_steps
    else:
        train_args = tfx.proto.TrainArgs(num_steps=config.train_steps) if config.train_steps else tfx.proto.TrainArgs()
    trainer = tfx.components.Trainer(
        run_fn=TRAINER_RUN_FN,
        examples=examples,
        train_args=train_args,
        eval_args=tfx.proto.EvalArgs(),
        custom_config=dataclasses.asdict(config.training),
    )
    for upstream in after:
        trainer.add_upstream_node(upstream)
    return trainer


def create_components(config: PipelineConfig) -> list:
    example_gen = ImageMaskExampleGen(
        input_base=config.dataset,
        dataset_format=config.dataset_format,
        eval_fraction=config.eval_fraction,
        max_reject_fraction=config.max_reject_fraction,
        min_instance_area=config.min_instance_area,
    )
    examples = example_gen.outputs["examples"]
    validation = validation_components(examples, config)
    trainer = trainer_component(examples, config, after=[validation[-1]])
    evaluator = MaskEvaluator(
        examples=examples,
        model=trainer.outputs["model"],
        serving_dir=config.serving_dir,
        blessing=config.blessing_config(),
        latency_batch=config.latency_batch,
    )
    serving_check = ServingCheck(
        model=trainer.outputs["model"],
        examples=examples,
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        serving_dir=config.serving_dir,
    )
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=serving_check.outputs["infra_blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
        ),
    ).with_id("Pusher")
    return [example_gen, *validation, trainer, evaluator, serving_check, pusher]


def create_pipeline(config: PipelineConfig, metadata_connection_config=None) -> tfx.dsl.Pipeline:
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_pipeline_args,
    )
