"""What a run is given: `PipelineConfig` (the local runner and the Kubeflow compiler build one from the
command line), holding the Trainer's `TrainingSettings`.

Each default lives with what it configures, low in the stack (dataset/plan.py for ingestion, each component's
constants, components/trainer/settings.py); this module gathers them for the pipeline and the commands. Light
on purpose (no TFX or TensorFlow import): `--help` imports it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from components.data_gate.constants import DEFAULT_MAX_CLASS_DRIFT
from components.evaluator.constants import DEFAULT_LATENCY_BATCH
from components.trainer.config_files import own_keys
from components.trainer.settings import DEFAULT_CONFIG, TrainingSettings  # noqa: F401 - for the commands
from components.util.blessing import BlessingConfig
from dataset.dask_runner_args import dask_runner_args
from dataset.plan import (  # noqa: F401 - for the commands
    DATASET_FORMATS,
    DEFAULT_DATASET_FORMAT,
    DEFAULT_EVAL_FRACTION,
    DEFAULT_MAX_REJECT_FRACTION,
    DEFAULT_MIN_INSTANCE_AREA,
)

if TYPE_CHECKING:
    from tfx.orchestration.data_types import RuntimeParameter

DEFAULT_PIPELINE_ROOT = "outputs/pipeline"
DEFAULT_SERVING_DIR = "outputs/serving"


def option(default, help: str, **argparse) -> dataclasses.Field:
    """A PipelineConfig field that `run` and `kubeflow compile` take as --<field-name> (pipeline/options.py):
    the field, its default, its help and its type, written once."""
    return dataclasses.field(default=default, metadata={"option": {"help": help, **argparse}})


@dataclasses.dataclass
class PipelineConfig:
    """Everything a run needs; defaults are the local demo's."""

    dataset: str | RuntimeParameter  # on Kubeflow a runtime parameter: the dataset URI per run
    pipeline_root: str
    pipeline_name: str = "maskrcnn-tfx"
    dataset_format: str = DEFAULT_DATASET_FORMAT
    eval_fraction: float = option(
        DEFAULT_EVAL_FRACTION,
        "share of the labelled photos scored, when the dataset has "
        "no labelled test split (a hash split; default %(default)s)",
        type=float,
    )
    max_reject_fraction: float = option(
        DEFAULT_MAX_REJECT_FRACTION,
        "ingestion fails above this share of rejected inputs (default %(default)s)",
        type=float,
    )
    min_instance_area: int = option(
        DEFAULT_MIN_INSTANCE_AREA,
        "pixels: smaller connected pieces of a mask are specks, dropped (default %(default)s)",
        type=int,
    )
    schema: str | None = None  # a curated TFDV schema; None: the one in the package
    max_class_drift: float = option(
        DEFAULT_MAX_CLASS_DRIFT,
        "largest L-infinity distance between the eval and "
        "train class distributions, or chance at the splits' sizes if larger (default "
        "%(default)s)",
        type=float,
    )
    training: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)
    # None: the training config's own. On Kubeflow a runtime parameter holding TrainArgs JSON, '{"num_steps": N}'.
    train_steps: int | RuntimeParameter | None = None
    serving_dir: str = DEFAULT_SERVING_DIR  # blessed models are pushed to <serving_dir>/<version>/
    blessing: BlessingConfig | None = None  # None: the training config's `blessing:` section (blessing_for)
    min_eval_images: int = option(
        0,
        "stop before training when the eval split has fewer than N images, too few for "
        "its AP to mean much (default: no minimum)",
        type=int,
        metavar="N",
    )
    latency_batch: int = DEFAULT_LATENCY_BATCH
    beam_pipeline_args: list[str] = dataclasses.field(default_factory=list)
    enable_cache: bool = True

    def __post_init__(self):  # `--runner=DaskRunner` means the project's (dataset/dask_runner.py)
        self.beam_pipeline_args = dask_runner_args(self.beam_pipeline_args)

    def blessing_config(self) -> BlessingConfig:
        """What the evaluator blesses on: the given config, else the training config's."""
        return self.blessing or own_keys(self.training.config).blessing
