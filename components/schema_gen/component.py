"""LabelMapSchemaGen: the run's TFDV schema = curated structural rules + the dataset's classes.

In:  examples (Examples: its label_map.json), schema_file (a curated schema; empty: the one in the package).
Out: schema (Schema: schema.pbtxt), what StatisticsGen, ExampleValidator and the DataGate check against.

Like TFX's ImportSchemaGen it publishes a hand-curated schema, but the class
domains (ids 1..N and the class names) come from the label map that ingestion
wrote, so a dataset with other classes than the sample needs no schema step.
A curated schema that states other classes fails with both lists and the fix.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.schema_gen import executor


class LabelMapSchemaGenSpec(ComponentSpec):
    PARAMETERS = {standard_component_specs.SCHEMA_FILE_KEY: ExecutionParameter(type=str)}
    INPUTS = {standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {standard_component_specs.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema)}


class LabelMapSchemaGen(base_component.BaseComponent):
    SPEC_CLASS = LabelMapSchemaGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, schema_file: str | None = None):
        super().__init__(
            spec=LabelMapSchemaGenSpec(
                examples=examples, schema_file=schema_file or "", schema=types.Channel(type=standard_artifacts.Schema)
            )
        )
