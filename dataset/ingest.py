"""`maskrcnn-tfx ingest`: a dataset folder (seed layout or COCO) -> TFRecords of tf.train.Example.

The ingestion is three steps, each a module usable on its own: the plan
(dataset/plan.py: layout, label map, inputs and splits, before any Beam work),
the per-input conversion (dataset/convert.py, in the Beam workers) and the
output folder with its report (dataset/output.py). dataset/beam_ingest.py
runs them as Beam transforms; the TFX component (components/example_gen) and
this command both run `IngestDataset`. `run_sequential` does the same work in
one process, one file after another: the benchmark's reference.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dataset import formats, layout
from dataset.convert import convert_item
from dataset.dask_runner_args import dask_runner_args
from dataset.labelmap import LabelMapError
from dataset.output import (
    Report,
    check_output_apart,
    check_summary,
    format_summary,
    prepare_output_dir,
    write_report,
)
from dataset.plan import (
    DATASET_FORMATS,
    DEFAULT_DATASET_FORMAT,
    DEFAULT_EVAL_FRACTION,
    DEFAULT_MAX_REJECT_FRACTION,
    DEFAULT_MIN_INSTANCE_AREA,
    IngestOptions,
    IngestPlan,
    absolute,
    plan_ingest,
)
from dataset.records import IngestError


def run_sequential(plan: IngestPlan, output_dir: str) -> dict:
    """The same work in one process, one file after another (the benchmark's reference)."""
    import tensorflow as tf

    from dataset import colours, seed_convert

    tally = colours.ColourTally()
    for item in plan.items:
        tally.add(seed_convert.mask_colours(item))
    own_colours = colours.own_colours(tally, plan.label_map)
    report = Report()
    writers = {
        split: tf.io.TFRecordWriter(
            f"{layout.record_prefix(output_dir, split)}-00000-of-00001{layout.RECORD_FILE_SUFFIX}", options="GZIP"
        )
        for split in layout.SPLITS
    }
    try:
        for item in plan.items:
            outcome = convert_item(item, plan.label_map, plan.options.min_instance_area, plan.dataset_dir, own_colours)
            if outcome.example is not None:
                writers[outcome.split].write(outcome.example)
            report.add(outcome.without_example())
    finally:
        for writer in writers.values():
            writer.close()
    return write_report(report, plan.summary_fields(), plan.label_map.to_json(), output_dir)


def ingest(
    dataset_dir: str,
    output_dir: str,
    options: IngestOptions = IngestOptions(),
    beam_pipeline_args: Sequence[str] = (),
    overwrite: bool = False,
    check: bool = True,
) -> dict:
    """Ingests a dataset folder into an output folder: plan, prepare the output, run the Beam ingestion and
    (with check) refuse too many rejects; returns the summary. What `ingest`, the tests and the benchmarks
    run; the ExampleGen runs the same steps inside TFX's Beam pipeline."""
    check_output_apart(dataset_dir, output_dir)
    plan = plan_ingest(dataset_dir, options)
    output_dir = absolute(output_dir)
    prepare_output_dir(output_dir, overwrite=overwrite)
    from dataset.beam_ingest import (
        run_beam,  # Beam's import costs seconds; `--help` needs none
    )

    summary = run_beam(plan, output_dir, beam_pipeline_args)
    if check:
        check_summary(summary, options.max_reject_fraction, output_dir)
    return summary


def default_beam_args(workers: int) -> list[str]:
    if workers <= 1:
        return ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    # Threads, not worker processes: OpenCV, Pillow and zlib release the GIL for most of the per-image
    # work, and processes cost about 12 s to start and 60% more memory (benchmarks/ingest_benchmark.py).
    return ["--direct_running_mode=multi_threading", f"--direct_num_workers={workers}"]


# --- command line -----------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="the dataset folder, in any layout --format names")
    parser.add_argument("--output", required=True, help="output folder (the layout of a TFX Examples artifact)")
    parser.add_argument(
        "--format",
        choices=DATASET_FORMATS,
        default=DEFAULT_DATASET_FORMAT,
        help=f"dataset layout (default: %(default)s): {formats.choices_help()}",
    )
    parser.add_argument(
        "--eval-fraction",
        type=float,
        default=DEFAULT_EVAL_FRACTION,
        help="share of train images hashed into eval when the test folder has no masks "
        f"(default {DEFAULT_EVAL_FRACTION})",
    )
    parser.add_argument(
        "--max-reject-fraction",
        type=float,
        default=DEFAULT_MAX_REJECT_FRACTION,
        help=f"fail above this share of rejected inputs (default {DEFAULT_MAX_REJECT_FRACTION})",
    )
    parser.add_argument(
        "--min-instance-area",
        type=int,
        default=DEFAULT_MIN_INSTANCE_AREA,
        help="connected components smaller than this (pixels) are specks, not objects "
        f"(default {DEFAULT_MIN_INSTANCE_AREA})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="DirectRunner threads (default 2; 1.6x one thread at 4,000 images on 2 cores; ignored with --beam-arg)",
    )
    parser.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="a Beam pipeline argument, repeatable (e.g. --beam-arg=--runner=DataflowRunner)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")


def main(args: argparse.Namespace) -> int:
    try:
        options = IngestOptions(
            format=args.format,
            eval_fraction=args.eval_fraction,
            max_reject_fraction=args.max_reject_fraction,
            min_instance_area=args.min_instance_area,
        )
    except ValueError as e:
        print(f"maskrcnn-tfx ingest: {e}", file=sys.stderr)
        return 2
    beam_args = dask_runner_args(args.beam_arg) or default_beam_args(args.workers)
    try:
        summary = ingest(args.dataset, args.output, options, beam_args, overwrite=args.overwrite)
    except (LabelMapError, IngestError) as e:
        print(f"maskrcnn-tfx ingest: {e}", file=sys.stderr)
        return 1
    output_dir = absolute(args.output)
    print(format_summary(summary, layout.read_rejects(output_dir)))
    print(f"wrote {output_dir}")
    return 0
