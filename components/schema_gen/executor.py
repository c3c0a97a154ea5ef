"""LabelMapSchemaGen's executor: reads the curated schema, sets the label map's classes, writes schema.pbtxt."""

from __future__ import annotations

import os
from typing import Any

from absl import logging
from tfx import types
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils

from components.schema_gen import schema as schema_lib
from dataset import layout


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        source = exec_properties.get(standard_component_specs.SCHEMA_FILE_KEY) or str(schema_lib.SCHEMA_PATH)
        label_map = layout.read_label_map(examples.uri)
        schema = schema_lib.with_classes(io_utils.SchemaReader().read(source), label_map, schema_source=source)
        output = os.path.join(
            artifact_utils.get_single_uri(output_dict[standard_component_specs.SCHEMA_KEY]),
            schema_gen_executor.DEFAULT_FILE_NAME,
        )
        io_utils.write_pbtxt_file(output, schema)
        logging.info(
            "Schema %s with the classes of %s (%s) written to %s",
            source,
            layout.label_map_path(examples.uri),
            ", ".join(label_map.names),
            output,
        )
