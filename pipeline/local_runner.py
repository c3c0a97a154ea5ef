"""`maskrcnn-tfx run`: the pipeline on this machine with LocalDagRunner and SQLite metadata."""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import time

from pipeline import options, settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_pipeline_arguments(
        parser, pipeline_root=settings.DEFAULT_PIPELINE_ROOT, serving_dir=settings.DEFAULT_SERVING_DIR
    )


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


def new_run_id() -> str:
    """A pipeline run id, as LocalDagRunner makes them (its start time, to the microsecond)."""
    return datetime.datetime.now().isoformat()


def run(config, run_id: str | None = None) -> str:
    """Runs the pipeline as run `run_id` (default: a new one), which it returns; component logs go to a file under
    the pipeline root. Runs sharing a root share its metadata store: each is read back by its id."""
    from absl import logging as absl_logging
    from tfx import v1 as tfx
    from tfx.dsl.compiler import constants
    from tfx.orchestration.portable import runtime_parameter_utils

    from pipeline.run_summary import METADATA_FILE

    run_id = run_id or new_run_id()
    log_dir = os.path.join(config.pipeline_root, "logs")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"run-{run_id.replace(':', '')}.log")
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        os.path.join(config.pipeline_root, METADATA_FILE)
    )
    absl_logging.set_verbosity(absl_logging.INFO)
    file_handler = logging.FileHandler(log_path)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("absl", "tensorflow")]
    saved = [(lg.handlers, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers, lg.propagate = [file_handler, _ProgressPrinter()], False
    print(f"[run] logs: {log_path}", flush=True)
    try:
        ir = compile_pipeline(config, metadata)
        # LocalDagRunner names the run itself and keeps the name; substituted here, the run's id is known.
        runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
        tfx.orchestration.LocalDagRunner().run_with_ir(ir)
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
        absl_logging.set_verbosity(absl_logging.WARNING)
        file_handler.close()
    return run_id


def compile_pipeline(config, metadata):
    """The pipeline's IR, with the steps of UNCACHED_STEPS always run."""
    from tfx.dsl.compiler import compiler

    from pipeline.pipeline import UNCACHED_STEPS, create_pipeline

    ir = compiler.Compiler().compile(create_pipeline(config, metadata))
    for node in ir.nodes:
        if node.pipeline_node.node_info.id in UNCACHED_STEPS:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    return ir


def main(args: argparse.Namespace) -> int:
    from components.trainer import onednn

    config = options.pipeline_config(args, local=True)
    started, run_id = time.monotonic(), new_run_id()
    note = onednn.off_for_float16(config.training.config, config.training.params_override)
    if note:
        print(f"[run] {note}", flush=True)
    from components.trainer import trainer_module

    try:
        print(f"[run] {trainer_module.starting_point(config.training)}", flush=True)
        print(f"[run] run id {run_id} (its report later: maskrcnn-tfx report --run {run_id})", flush=True)
        run(config, run_id)
    except Exception as error:  # noqa: BLE001 - the reason is the message; the trace is in the log
        print(
            f"[run] FAILED after {time.monotonic() - started:.0f} s: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 1
    print(f"[run] pipeline finished in {time.monotonic() - started:.0f} s")
    show_results(config.pipeline_root, run_id)
    return 0


def show_results(pipeline_root: str, run_id: str) -> None:
    """After a run: its report, and overlays of what its model finds in the dataset's unlabelled images."""
    from pipeline import predict, report

    summary = report.report_run(pipeline_root, run_id)
    predict.predict_unlabelled(summary, report.reports_dir(pipeline_root))
