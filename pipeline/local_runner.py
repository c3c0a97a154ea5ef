"""`maskrcnn-tfx run`: the pipeline on this machine with LocalDagRunner and SQLite metadata."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

METADATA_FILE = "metadata.sqlite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset folder (seed layout or COCO JSON + images)")
    parser.add_argument("--format", default="auto", choices=["auto", "seed", "coco"], dest="dataset_format")
    parser.add_argument("--config", default="cpu-demo",
                        help="training config: a name in pipeline/configs/ (cpu-demo, gpu-r50fpn, tiny) or a YAML path")
    parser.add_argument("--train-steps", type=int, help="override the config's trainer.train_steps")
    parser.add_argument("--batch-size", type=int, help="override the config's global training batch size")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="params_override",
                        help="Model Garden params_override, e.g. task.model.input_size=[256,320,3] (repeatable)")
    parser.add_argument("--init-checkpoint", help="warm start: a checkpoint path or gs:// URI")
    parser.add_argument("--pipeline-root", default="outputs/pipeline",
                        help="artifacts and the SQLite metadata store (default: outputs/pipeline)")
    parser.add_argument("--serving-dir", default="outputs/serving",
                        help="blessed models are pushed to SERVING_DIR/<version>/ (default: outputs/serving)")
    parser.add_argument("--threshold", action="append", default=[], metavar="METRIC=MIN",
                        help="blessing threshold, replacing the config's, e.g. mask_AP50=0.5 (repeatable)")
    parser.add_argument("--max-regression", type=float,
                        help="how far a thresholded metric may fall below the last blessed model's")
    parser.add_argument("--schema", help="a curated TFDV schema (default: pipeline/schema/schema.pbtxt; "
                                         "draft one with `maskrcnn-tfx schema`)")
    parser.add_argument("--max-class-drift", type=float, default=0.25,
                        help="largest L-infinity distance between the eval and train class distributions")
    parser.add_argument("--eval-fraction", type=float, default=0.2)
    parser.add_argument("--max-reject-fraction", type=float, default=0.05)
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_pipeline_args",
                        help="a Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2 (repeatable)")
    parser.add_argument("--no-cache", action="store_true", help="rerun every component even if unchanged")


class _ProgressPrinter(logging.Handler):
    """Prints LocalDagRunner's component start/finish lines, with times, to the terminal."""

    def __init__(self):
        super().__init__(logging.INFO)
        self._started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if not record.pathname.endswith("local_dag_runner.py") or not record.args:
            return
        node = str(record.args[0])
        if "is running" in record.msg:
            self._started[node] = time.monotonic()
            print(f"[run] {node} ...", flush=True)
        elif "is finished" in record.msg:
            took = time.monotonic() - self._started.get(node, time.monotonic())
            print(f"[run] {node} done in {took:.1f} s", flush=True)
        elif "Skipping" in record.msg:
            print(f"[run] {node} skipped", flush=True)


def run(config) -> str:
    """Runs the pipeline; component logs go to a file under the pipeline root, whose path is returned."""
    from absl import logging as absl_logging
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    log_dir = os.path.join(config.pipeline_root, "logs")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, time.strftime("run-%Y%m%d-%H%M%S.log"))
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        os.path.join(config.pipeline_root, METADATA_FILE))
    absl_logging.set_verbosity(absl_logging.INFO)
    file_handler = logging.FileHandler(log_path)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("absl", "tensorflow")]
    saved = [(lg.handlers, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers, lg.propagate = [file_handler, _ProgressPrinter()], False
    print(f"[run] logs: {log_path}", flush=True)
    try:
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config, metadata))
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved):
            lg.handlers, lg.propagate = handlers, propagate
        absl_logging.set_verbosity(absl_logging.WARNING)
        file_handler.close()
    return log_path


def _thresholds(items: list[str]) -> dict[str, float]:
    thresholds = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"--threshold {item!r}: expected METRIC=MIN, e.g. mask_AP50=0.5") from None
    return thresholds


def main(args: argparse.Namespace) -> int:
    from components.trainer.trainer_module import TrainingSettings
    from pipeline.pipeline import PipelineConfig

    config = PipelineConfig(
        dataset=os.path.abspath(args.dataset),
        pipeline_root=os.path.abspath(args.pipeline_root),
        dataset_format=args.dataset_format,
        eval_fraction=args.eval_fraction,
        max_reject_fraction=args.max_reject_fraction,
        training=TrainingSettings(config=args.config, batch_size=args.batch_size,
                                  params_override=args.params_override, init_checkpoint=args.init_checkpoint),
        train_steps=args.train_steps,
        serving_dir=os.path.abspath(args.serving_dir),
        thresholds=_thresholds(args.threshold) if args.threshold else None,
        max_regression=args.max_regression,
        max_class_drift=args.max_class_drift,
        **({"schema": os.path.abspath(args.schema)} if args.schema else {}),
        beam_pipeline_args=args.beam_pipeline_args,
        enable_cache=not args.no_cache,
    )
    started = time.monotonic()
    try:
        run(config)
    except Exception as error:  # noqa: BLE001 - the reason is the message; the trace is in the log
        print(f"[run] FAILED after {time.monotonic() - started:.0f} s: {type(error).__name__}: {error}",
              file=sys.stderr)
        return 1
    print(f"[run] pipeline finished in {time.monotonic() - started:.0f} s")
    from pipeline import run_summary

    summary = run_summary.latest_run(config.pipeline_root)
    print(run_summary.format_summary(summary))
    with open(os.path.join(config.pipeline_root, "last_run_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return 0

