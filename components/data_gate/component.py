"""DataGate: stops the pipeline before training when the examples are not fit for it.

In:  examples (Examples), statistics (ExampleStatistics), schema (Schema), anomalies (ExampleAnomalies),
     max_class_drift, min_eval_images (fewer eval images stop the run; 0: no minimum).
Out: report (File: validation_report.txt and the per-example problems); the run fails when it is not empty.

It reads what ExampleValidator found against the curated schema, adds what TFDV
cannot express (per-example list lengths, box order, mask sizes, class ids of
the label map) and the train/eval class drift, writes a report, and fails the
run with that report as the error when there is anything in it. The Trainer
runs after it, so bad data never reaches training.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.types.experimental import simple_artifacts

from components.data_gate import constants, executor


class DataGateSpec(ComponentSpec):
    PARAMETERS = {
        constants.MAX_CLASS_DRIFT_KEY: ExecutionParameter(type=float),
        constants.MIN_EVAL_IMAGES_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics),
        "schema": ChannelParameter(type=standard_artifacts.Schema),
        "anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
    OUTPUTS = {"report": ChannelParameter(type=simple_artifacts.File)}


class DataGate(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        anomalies: types.BaseChannel,
        max_class_drift: float = constants.DEFAULT_MAX_CLASS_DRIFT,
        min_eval_images: int = 0,
    ):
        super().__init__(
            spec=DataGateSpec(
                examples=examples,
                statistics=statistics,
                schema=schema,
                anomalies=anomalies,
                max_class_drift=float(max_class_drift),
                min_eval_images=int(min_eval_images),
                report=types.Channel(type=simple_artifacts.File),
            )
        )
