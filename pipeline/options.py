"""The command-line options that shape a pipeline, shared by `run` and `kubeflow compile`.

Kept free of TFX imports: `--help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex

from components.trainer.config_files import own_keys, shipped_configs
from components.trainer.constants import ACCURACY_METRICS
from components.util import serving_contract
from components.util.blessing import BlessingConfig
from components.util.metrics import BLESS_ON_RULES, BLESSING_METRICS
from dataset import formats
from pipeline import settings


def add_pipeline_arguments(
    parser: argparse.ArgumentParser,
    pipeline_root: str | None = None,
    serving_dir: str | None = None,
    config: str = settings.DEFAULT_CONFIG,
) -> None:
    """Dataset, training, validation and blessing options; a path without a default is required."""
    parser.add_argument("--dataset", required=True, help="dataset folder (any layout --format reads)")
    parser.add_argument(
        "--format",
        default=settings.DEFAULT_DATASET_FORMAT,
        choices=settings.DATASET_FORMATS,
        dest="dataset_format",
        help=f"dataset layout (default: %(default)s): {formats.choices_help()}",
    )
    parser.add_argument(
        "--config",
        default=config,
        help=f"training config: a name in components/trainer/configs/ ({', '.join(shipped_configs())}) "
        f"or a YAML path (default: {config})",
    )
    parser.add_argument("--train-steps", type=int, help="override the config's trainer.train_steps")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="override the config's training batch size (per GPU where the config scales with "
        "the GPU count, as gpu-r50fpn does)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="params_override",
        help="Model Garden params_override, e.g. task.model.input_size=[256,320,3] (repeatable)",
    )
    parser.add_argument(
        "--init-checkpoint",
        metavar="PATH",
        help="fine-tune from a pretrained checkpoint (a prefix, or a folder: its latest; local or "
        "gs://): what fits the model is restored, the rest (class layers) re-initialised; "
        "'none': random weights, also where the config names a checkpoint",
    )
    parser.add_argument(
        "--init-modules",
        metavar="MODULES",
        help="what to take from --init-checkpoint: all, backbone, decoder or backbone,decoder "
        "(default: the config's, else all)",
    )
    parser.add_argument(
        "--eval-interval",
        type=int,
        metavar="STEPS",
        help="evaluate on the eval split every STEPS training steps: accuracy over training time "
        "(default: the config's; 0: never)",
    )
    parser.add_argument(
        "--stop-at",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help=f"end training at the first evaluation meeting every target, e.g. mask_AP50=0.8 "
        f"(repeatable; {', '.join(ACCURACY_METRICS)})",
    )
    parser.add_argument(
        "--serving-max-detections",
        type=int,
        default=serving_contract.DEFAULT_MAX_DETECTIONS,
        metavar="N",
        help="the served answer's most detections per photo (default %(default)s)",
    )
    parser.add_argument(
        "--serving-min-score",
        type=float,
        default=serving_contract.DEFAULT_MIN_SCORE,
        metavar="SCORE",
        help="the served answer's lowest detection score (default %(default)s; docs/serving.md says why)",
    )
    parser.add_argument(
        "--pipeline-root",
        default=pipeline_root,
        required=pipeline_root is None,
        help="artifacts (and, locally, the SQLite metadata store)"
        + (f" (default: {pipeline_root})" if pipeline_root else ""),
    )
    parser.add_argument(
        "--serving-dir",
        default=serving_dir,
        required=serving_dir is None,
        help="blessed models are pushed to SERVING_DIR/<version>/"
        + (f" (default: {serving_dir})" if serving_dir else ""),
    )
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="METRIC=MIN",
        help=f"blessing threshold, replacing the config's, e.g. mask_AP50=0.5 (repeatable; "
        f"{', '.join(BLESSING_METRICS)})",
    )
    parser.add_argument(
        "--max-regression",
        type=float,
        help="how far a thresholded metric may fall below the last blessed model's (default: the config's)",
    )
    parser.add_argument(
        "--bless-on",
        choices=BLESS_ON_RULES,
        help="what a threshold is compared with: the metric (point) or the low end of its 95%% "
        "bootstrap interval over the eval images (lower-bound) (default: the config's, else "
        "point)",
    )
    parser.add_argument(
        "--schema",
        help="a curated TFDV schema of structural rules (default: the project's, "
        "components/schema_gen/schema.pbtxt; draft one with `maskrcnn-tfx schema`); "
        "the classes always come from the dataset's label map",
    )
    parser.add_argument(
        "--beam-args",
        "--beam-arg",
        action="extend",
        type=shlex.split,
        default=[],
        dest="beam_pipeline_args",
        metavar="ARGS",
        help="Beam pipeline arguments, e.g. --beam-args='--runner=DataflowRunner --region=europe-west1' (repeatable)",
    )
    parser.add_argument("--no-cache", action="store_true", help="rerun every component even if unchanged")
    for field in dataclasses.fields(settings.PipelineConfig):
        if "option" in field.metadata:
            parser.add_argument(f"--{field.name.replace('_', '-')}", default=field.default, **field.metadata["option"])


def metric_values(items: list[str], option: str, known: tuple[str, ...] | None = None) -> dict[str, float]:
    """METRIC=VALUE items of a repeatable option."""
    parsed = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            parsed[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"{option} {item!r}: expected METRIC=VALUE, e.g. mask_AP50=0.5") from None
        if known is not None and name.strip() not in known:
            raise SystemExit(f"{option} {item!r}: {name.strip()} is not one of {', '.join(known)}")
    return parsed


def blessing_for(args: argparse.Namespace) -> BlessingConfig:
    """The training config's blessing, with what the command line changes."""
    try:
        return own_keys(args.config).blessing.overridden(
            thresholds=metric_values(args.threshold, "--threshold", BLESSING_METRICS) or None,
            max_regression=args.max_regression,
            bless_on=args.bless_on,
        )
    except ValueError as error:
        raise SystemExit(str(error)) from None


def pipeline_config(args: argparse.Namespace, local: bool, **changes):
    """The PipelineConfig the options describe; `local` makes paths absolute (URIs are kept as given)."""
    path = os.path.abspath if local else str
    return settings.PipelineConfig(
        **{
            "dataset": path(args.dataset),
            "pipeline_root": path(args.pipeline_root),
            "dataset_format": args.dataset_format,
            "training": settings.TrainingSettings(
                config=args.config,
                batch_size=args.batch_size,
                params_override=args.params_override,
                init_checkpoint=args.init_checkpoint,
                init_modules=args.init_modules,
                eval_interval=args.eval_interval,
                stop_at=metric_values(args.stop_at, "--stop-at", ACCURACY_METRICS),
                serving_max_detections=args.serving_max_detections,
                serving_min_score=args.serving_min_score,
            ),
            "train_steps": args.train_steps,
            "serving_dir": path(args.serving_dir),
            "blessing": blessing_for(args),
            **({"schema": path(args.schema)} if args.schema else {}),
            "beam_pipeline_args": args.beam_pipeline_args,
            **{
                field.name: getattr(args, field.name)
                for field in dataclasses.fields(settings.PipelineConfig)
                if "option" in field.metadata
            },
            "enable_cache": not args.no_cache,
            **changes,
        }
    )
