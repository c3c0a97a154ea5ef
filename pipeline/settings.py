"""The pipeline's settings and their defaults, in one place.

`PipelineConfig` is what a run is given (the local runner and the Kubeflow
compiler build one from the command line); `TrainingSettings` is what the
Trainer receives in its `custom_config`. The components, the dataset tools and
the commands take their defaults from here. Light on purpose (no TFX or
TensorFlow import): `--help` and the Beam workers import it.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from dataset.dask_runner_args import dask_runner_args

if TYPE_CHECKING:
    from tfx.orchestration.data_types import RuntimeParameter

DEFAULT_CONFIG = "cpu-demo"                # a training config of pipeline/configs/
DEFAULT_PIPELINE_ROOT = "outputs/pipeline"
DEFAULT_SERVING_DIR = "outputs/serving"
DATASET_FORMATS = ("auto", "seed", "coco")  # auto: seed if train_images/ or test_images/, else COCO JSON
DEFAULT_DATASET_FORMAT = "auto"
DEFAULT_EVAL_FRACTION = 0.2                # hash split of train when the dataset has no labelled test split
DEFAULT_MAX_REJECT_FRACTION = 0.05         # ingestion fails above this share of rejected inputs
DEFAULT_MIN_INSTANCE_AREA = 16             # pixels: smaller connected components of a mask are specks
DEFAULT_MAX_CLASS_DRIFT = 0.25             # L-infinity between eval and train class distributions
DEFAULT_LATENCY_BATCH = 8                  # the evaluator's throughput batch


@dataclasses.dataclass
class TrainingSettings:
    """What the pipeline passes to the Trainer in `custom_config`."""
    config: str = DEFAULT_CONFIG
    batch_size: int | None = None
    params_override: list[str] = dataclasses.field(default_factory=list)
    init_checkpoint: str | None = None     # a pretrained checkpoint (or a folder: its latest), local or gs://
    init_modules: str | None = None        # all | backbone | decoder | backbone,decoder; None: the config's
    eval_interval: int | None = None       # evaluate every N steps while training; None: the config's, 0: never
    stop_at: dict[str, float] = dataclasses.field(default_factory=dict)  # end at the first evaluation meeting all

    @classmethod
    def from_custom_config(cls, custom_config: dict | None) -> TrainingSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in known})


@dataclasses.dataclass
class PipelineConfig:
    """Everything a run needs; defaults are the local demo's."""
    dataset: str | RuntimeParameter        # on Kubeflow a runtime parameter: the dataset URI per run
    pipeline_root: str
    pipeline_name: str = "maskrcnn-tfx"
    dataset_format: str = DEFAULT_DATASET_FORMAT
    eval_fraction: float = DEFAULT_EVAL_FRACTION
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    schema: str | None = None              # a curated TFDV schema; None: the one in the package
    max_class_drift: float = DEFAULT_MAX_CLASS_DRIFT
    training: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)
    # None: the training config's own. On Kubeflow a runtime parameter holding TrainArgs JSON, '{"num_steps": N}'.
    train_steps: int | RuntimeParameter | None = None
    serving_dir: str = DEFAULT_SERVING_DIR  # blessed models are pushed to <serving_dir>/<version>/
    thresholds: dict[str, float] | None = None   # None: the training config's `blessing:` section
    max_regression: float | None = None
    bless_on: str = "point"                # or "lower-bound": thresholds judge the intervals' low ends
    min_eval_images: int = 0               # the gate stops a run with fewer eval images; 0: no minimum
    latency_batch: int = DEFAULT_LATENCY_BATCH
    beam_pipeline_args: list[str] = dataclasses.field(default_factory=list)
    enable_cache: bool = True

    def __post_init__(self):  # `--runner=DaskRunner` means the project's (dataset/dask_runner.py)
        self.beam_pipeline_args = dask_runner_args(self.beam_pipeline_args)
