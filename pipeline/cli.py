"""The `maskrcnn-tfx` command line.

Each subcommand lives in the module that does the work: the module exposes
`add_arguments(parser)` and `main(args) -> int`, and is imported only when its
subcommand runs (TensorFlow's import costs seconds).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pipeline.local_runner", "run the whole pipeline locally (LocalDagRunner, SQLite metadata)"),
    "sample-data": (
        "sample_data.sample",
        "generate the sample dataset into a folder, in the classic layout or another format's (--format)",
    ),
    "ingest": (
        "dataset.ingest",
        "convert a dataset folder to TFRecords (the ExampleGen's transform) and report rejects",
    ),
    "labelmap": ("dataset.labelmap_draft", "list the mask pixel values of a dataset and draft a label map"),
    "schema": (
        "components.schema_gen.schema",
        "draft a curated TFDV schema (structural rules) from an ingestion output",
    ),
    "report": ("pipeline.report", "a run's timings and results from ML Metadata: table, JSON, PNG chart"),
    "predict": (
        "pipeline.predict",
        "a model (--model) or a model server (--url) on images: overlay PNGs and COCO-RLE JSON",
    ),
    "serve": ("pipeline.serve", "serve a pushed model over TF Serving's REST protocol, to try it locally"),
    "kubeflow": ("kubeflow.runner", "compile the pipeline for Kubeflow Pipelines v2, or submit a compiled package"),
}


def _load(name: str):
    return importlib.import_module(SUBCOMMANDS[name][0])


def build_parser(names=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskrcnn-tfx",
        description="Mask R-CNN (TF Model Garden) in a TFX pipeline: ingest, validate, train, evaluate, push.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if names is None or name in names:
            _load(name).add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    # Only the chosen subcommand's module is imported; `--help` alone imports none.
    parser = build_parser(names=[chosen] if chosen else [])
    args = parser.parse_args(argv)
    return int(_load(args.command).main(args) or 0)


def entry() -> int:
    """The `maskrcnn-tfx` command: `main` with a quiet terminal (pipeline/quiet.py)."""
    from pipeline.quiet import quiet_terminal

    quiet_terminal()
    return main()


if __name__ == "__main__":
    sys.exit(entry())
