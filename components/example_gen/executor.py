"""ImageMaskExampleGen's executor: plans the ingestion, runs it with Beam, publishes the counts."""

from __future__ import annotations

from typing import Any

from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from components.example_gen.constants import (
    DATASET_FORMAT_KEY,
    EVAL_FRACTION_KEY,
    MAX_REJECT_FRACTION_KEY,
    MIN_INSTANCE_AREA_KEY,
)
from dataset import layout
from dataset.output import check_summary, format_summary, prepare_output_dir
from dataset.plan import IngestOptions, plan_ingest


class Executor(base_beam_executor.BaseBeamExecutor):
    """Runs dataset.beam_ingest.IngestDataset into the Examples artifact's uri."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        from dataset.beam_ingest import IngestDataset

        self._log_startup(input_dict, output_dict, exec_properties)
        options = IngestOptions(
            format=exec_properties[DATASET_FORMAT_KEY],
            eval_fraction=float(exec_properties[EVAL_FRACTION_KEY]),
            max_reject_fraction=float(exec_properties[MAX_REJECT_FRACTION_KEY]),
            min_instance_area=int(exec_properties[MIN_INSTANCE_AREA_KEY]),
        )
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        # Label map and layout errors surface here, before any Beam work.
        plan = plan_ingest(exec_properties[standard_component_specs.INPUT_BASE_KEY], options)
        logging.info("Ingesting %d inputs (%s layout) into %s", len(plan.items), plan.format, examples.uri)
        prepare_output_dir(examples.uri, overwrite=True)
        with self._make_beam_pipeline() as pipeline:
            _ = pipeline | "Ingest" >> IngestDataset(plan, examples.uri)

        summary = layout.read_summary(examples.uri)
        examples.split_names = artifact_utils.encode_split_names(list(layout.SPLITS))
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        for split in layout.SPLITS:
            examples.set_int_custom_property(f"num_examples_{split}", summary["num_examples"][split])
            examples.set_int_custom_property(f"num_instances_{split}", summary["num_instances"][split])
            examples.set_int_custom_property(f"num_negative_{split}", summary["num_negative"][split])
        examples.set_int_custom_property("num_instances", sum(summary["num_instances"].values()))
        examples.set_int_custom_property("num_rejected", summary["num_rejected"])
        examples.set_int_custom_property("num_unlabelled", summary["num_unlabelled"])
        examples.set_string_custom_property("ingest_format", summary["format"])
        logging.info("Ingestion summary:\n%s", format_summary(summary, layout.read_rejects(examples.uri)))
        check_summary(summary, options.max_reject_fraction, examples.uri)
