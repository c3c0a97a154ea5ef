"""ImageMaskExampleGen: a file-based ExampleGen for photos with masks, in any format of dataset/formats/.

In:  input_base (the dataset folder, local or a URI), dataset_format, eval_fraction, max_reject_fraction,
     min_instance_area.
Out: examples (Examples: Split-train/, Split-eval/, label_map.json, rejects.jsonl, ingest_summary.json).

Modelled on TFX's FileBasedExampleGen: its driver (fingerprinting every file
under `input_base`, so a changed dataset is not served from the cache, see
driver.py; it sets span/version), an `Examples` output laid out as ExampleGen's
(`Split-train/`, `Split-eval/`, GZIP TFRecords), and a Beam executor that runs
dataset.beam_ingest.IngestDataset, which also writes the label map, the rejects
report and the summary into the artifact.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.example_gen import executor
from components.example_gen.constants import (
    DATASET_FORMAT_KEY,
    EVAL_FRACTION_KEY,
    MAX_REJECT_FRACTION_KEY,
    MIN_INSTANCE_AREA_KEY,
)
from components.example_gen.driver import DatasetDriver
from dataset.plan import (
    DEFAULT_DATASET_FORMAT,
    DEFAULT_EVAL_FRACTION,
    DEFAULT_MAX_REJECT_FRACTION,
    DEFAULT_MIN_INSTANCE_AREA,
    IngestOptions,
)

# Only read by TFX's span resolution in the driver (no {SPAN} here); the fingerprint covers every file
# (components/example_gen/driver.py) and the executor lists the folder itself.
INPUT_CONFIG = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="dataset", pattern="*")])


class ImageMaskExampleGenSpec(ComponentSpec):
    PARAMETERS = {
        standard_component_specs.INPUT_BASE_KEY: ExecutionParameter(type=str),
        standard_component_specs.INPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Input),
        DATASET_FORMAT_KEY: ExecutionParameter(type=str),
        EVAL_FRACTION_KEY: ExecutionParameter(type=float),
        MAX_REJECT_FRACTION_KEY: ExecutionParameter(type=float),
        MIN_INSTANCE_AREA_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }


class ImageMaskExampleGen(base_beam_component.BaseBeamComponent):
    """Ingests a dataset folder (any format of dataset/formats/) into train/eval Examples.

    Args: input_base (the dataset folder, local or a URI: storage/fileio.py), dataset_format ("auto" or a
    name of dataset.formats.FORMATS), eval_fraction (hash split of train when there is no labelled test folder),
    max_reject_fraction, min_instance_area (pixels; smaller connected components are specks).

    Outputs `examples` (standard_artifacts.Examples) with custom properties
    num_examples_train, num_examples_eval, num_instances (and num_instances_train/eval),
    num_negative_train, num_negative_eval, num_rejected, num_unlabelled, ingest_format. Fails with a
    summary when more than `max_reject_fraction` of the inputs are rejected or a split is empty.
    """

    SPEC_CLASS = ImageMaskExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = DatasetDriver

    def __init__(
        self,
        input_base: str,
        dataset_format: str = DEFAULT_DATASET_FORMAT,
        eval_fraction: float = DEFAULT_EVAL_FRACTION,
        max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION,
        min_instance_area: int = DEFAULT_MIN_INSTANCE_AREA,
    ):
        # Fails at pipeline construction, not after the run started.
        IngestOptions(
            format=dataset_format,
            eval_fraction=eval_fraction,
            max_reject_fraction=max_reject_fraction,
            min_instance_area=min_instance_area,
        )
        spec = ImageMaskExampleGenSpec(
            input_base=input_base,
            input_config=INPUT_CONFIG,
            dataset_format=dataset_format,
            eval_fraction=float(eval_fraction),
            max_reject_fraction=float(max_reject_fraction),
            min_instance_area=int(min_instance_area),
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
