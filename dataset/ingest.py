"""Ingestion: a dataset folder (seed layout or COCO) -> TFRecords of tf.train.Example.

The work is split in three parts, each usable on its own:

1. `plan_ingest` (driver side, before any Beam work): detects the format, loads
   and validates the label map, lists the input files and assigns splits. It
   reads folder listings (and COCO JSON), never image data.
2. `convert_item` (per input, in the Beam workers): reads one image with its
   mask / VOC / COCO annotations and returns an `Outcome`: an example or a
   reject reason.
3. The Beam transforms (`ImagesToExamples`, `IngestDataset`, in
   dataset/beam_ingest.py) run 2 over the plan and write the output layout of
   dataset/layout.py. The TFX component (components/example_gen) and the
   `maskrcnn-tfx ingest` command both run `IngestDataset`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any, Sequence

from dataset import fileio, layout
from dataset.labelmap import LabelMap, LabelMapError
from dataset.records import Outcome, RejectError, WorkItem

FORMATS = ("auto", "seed", "coco")
DEFAULT_EVAL_FRACTION = 0.2
DEFAULT_MAX_REJECT_FRACTION = 0.05
DEFAULT_MIN_INSTANCE_AREA = 16
# Reasons shown in error messages and the command's output; the full list is rejects.jsonl.
MAX_REASONS_SHOWN = 10


class IngestError(RuntimeError):
    """The dataset cannot be ingested as a whole (layout, too many rejects, empty split)."""


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    format: str = "auto"
    eval_fraction: float = DEFAULT_EVAL_FRACTION
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    min_instance_area: int = DEFAULT_MIN_INSTANCE_AREA

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be between 0 and 1 (exclusive), got {self.eval_fraction}")
        if not 0.0 <= self.max_reject_fraction <= 1.0:
            raise ValueError(f"max_reject_fraction must be within [0, 1], got {self.max_reject_fraction}")
        if self.min_instance_area < 1:
            raise ValueError(f"min_instance_area must be at least 1, got {self.min_instance_area}")


@dataclasses.dataclass(frozen=True)
class IngestPlan:
    dataset_dir: str
    format: str  # "seed" | "coco"
    label_map: LabelMap
    items: tuple[WorkItem, ...]
    unlabelled: tuple[str, ...]
    ignored: tuple[str, ...]
    eval_source: str
    options: IngestOptions

    def summary_fields(self) -> dict[str, Any]:
        """The summary entries known before conversion."""
        return {
            "format": self.format,
            "dataset": self.dataset_dir,
            "num_inputs": len(self.items) + len(self.unlabelled),
            "num_unlabelled": len(self.unlabelled),
            "unlabelled_images": list(self.unlabelled),
            "ignored_files": list(self.ignored),
            "eval_source": self.eval_source,
            "eval_fraction": self.options.eval_fraction,
            "min_instance_area": self.options.min_instance_area,
            "max_reject_fraction": self.options.max_reject_fraction,
            "num_classes": self.label_map.num_classes,
            "class_names": list(self.label_map.names),
        }


def _absolute(path: str) -> str:
    path = str(path)
    return path if fileio.is_uri(path) else os.path.abspath(path)


def detect_format(dataset_dir: str) -> str:
    from dataset import coco, seed

    if not fileio.isdir(dataset_dir):
        raise IngestError(f"{dataset_dir}: not a folder")
    is_seed, is_coco = seed.looks_like_seed(dataset_dir), coco.looks_like_coco(dataset_dir)
    if is_seed and is_coco:
        raise IngestError(f"{dataset_dir}: holds both a seed layout (train_images/) and COCO JSON files "
                          f"({', '.join(coco.annotation_files(dataset_dir))}); pass --format seed or --format coco")
    if is_seed:
        return "seed"
    if is_coco:
        return "coco"
    raise IngestError(
        f"{dataset_dir}: neither a seed layout (label.pbtxt + train_images/ + train_masks/) nor COCO "
        f"(annotations/instances_*.json + images)")


def plan_ingest(dataset_dir: str, options: IngestOptions) -> IngestPlan:
    """Lists and validates everything that can be checked without reading images.

    Raises LabelMapError for a bad label map and IngestError for an unusable layout.
    """
    from dataset import coco, seed

    dataset_dir = _absolute(dataset_dir)
    fmt = detect_format(dataset_dir) if options.format == "auto" else options.format
    if fmt == "seed":
        label_map = LabelMap.load(LabelMap.find(dataset_dir))
        try:
            listing = seed.list_seed_inputs(dataset_dir, options.eval_fraction)
        except FileNotFoundError as e:
            raise IngestError(str(e)) from e
        plan = IngestPlan(dataset_dir, fmt, label_map, listing.items, listing.unlabelled, listing.ignored,
                          listing.eval_source, options)
    else:
        try:
            listing = coco.list_coco_inputs(dataset_dir, options.eval_fraction)
        except coco.CocoLayoutError as e:
            raise IngestError(str(e)) from e
        plan = IngestPlan(dataset_dir, fmt, listing.label_map, listing.items, listing.unlabelled,
                          listing.ignored, listing.eval_source, options)
    if not plan.items:
        raise IngestError(f"{dataset_dir}: no input files found ({fmt} layout)")
    return plan


def convert_item(item: WorkItem, label_map: LabelMap, min_instance_area: int, dataset_dir: str = "",
                 own_colours: dict | None = None) -> Outcome:
    """One input -> an example or a reject. The same function runs in Beam and in the sequential reference.

    own_colours: `colours.own_colours` of the dataset's mask colour tally (seed layout).
    """
    from dataset import coco, records, seed

    if item.reject_reason:
        return Outcome(file=item.path, split=item.split, reason=item.reject_reason)
    dropped = 0
    try:
        if item.format == "seed":
            image, instances, dropped = seed.convert_seed_item(item, label_map, min_instance_area, dataset_dir,
                                                               own_colours)
        elif item.format == "coco":
            image, instances = coco.convert_coco_item(item, label_map)
        else:
            raise ValueError(f"unknown item format {item.format!r}")
    except RejectError as e:
        return Outcome(file=item.path, split=item.split, reason=str(e))
    example = records.build_example(item.rel_path, image.data, image.format, image.width, image.height, instances)
    return Outcome(file=item.path, split=item.split, example=example, num_instances=len(instances),
                   num_small_components_dropped=dropped)


class Report:
    """Counts and rejects accumulated from outcomes (a Beam combiner's accumulator, or used directly)."""

    def __init__(self):
        self.num_examples = {split: 0 for split in layout.SPLITS}
        self.num_instances = {split: 0 for split in layout.SPLITS}
        self.num_small_components_dropped = 0
        self.rejects: list[dict[str, str]] = []

    def add(self, outcome: Outcome) -> Report:
        if outcome.reason:
            self.rejects.append({"file": outcome.file, "reason": outcome.reason, "split": outcome.split})
        else:
            self.num_examples[outcome.split] += 1
            self.num_instances[outcome.split] += outcome.num_instances
            self.num_small_components_dropped += outcome.num_small_components_dropped
        return self

    def merge(self, other: Report) -> Report:
        for split in layout.SPLITS:
            self.num_examples[split] += other.num_examples[split]
            self.num_instances[split] += other.num_instances[split]
        self.num_small_components_dropped += other.num_small_components_dropped
        self.rejects.extend(other.rejects)
        return self


def write_report(report: Report, summary_fields: dict[str, Any], label_map_json: str, output_dir: str) -> dict:
    """Writes label_map.json, rejects.jsonl and ingest_summary.json; returns the summary."""
    num_converted = sum(report.num_examples.values()) + len(report.rejects)
    expected = summary_fields["num_inputs"] - summary_fields["num_unlabelled"]
    if num_converted != expected:  # would mean a lost input: never publish that
        raise IngestError(f"internal error: {expected} inputs but {num_converted} outcomes")
    rejects = sorted(report.rejects, key=lambda r: (r["file"], r["reason"]))
    summary = dict(summary_fields)
    summary.update({
        "num_examples": dict(report.num_examples),
        "num_instances": dict(report.num_instances),
        "num_rejected": len(rejects),
        "reject_fraction": round(len(rejects) / num_converted, 6) if num_converted else 0.0,
        "num_small_components_dropped": report.num_small_components_dropped,
    })
    fileio.write_text(layout.label_map_path(output_dir), label_map_json)
    fileio.write_text(layout.rejects_path(output_dir), "".join(json.dumps(r) + "\n" for r in rejects))
    fileio.write_text(layout.summary_path(output_dir), json.dumps(summary, indent=2) + "\n")
    return summary


def prepare_output_dir(output_dir: str, overwrite: bool = False) -> None:
    """Creates the output folder with its split folders; with `overwrite`, empties it first."""
    if fileio.exists(output_dir):
        entries = fileio.listdir(output_dir)
        if entries and not overwrite:
            raise IngestError(f"{output_dir}: not empty (use --overwrite to replace it)")
        for name in entries:
            fileio.remove_tree(fileio.join(output_dir, name))
    fileio.makedirs(output_dir)
    for split in layout.SPLITS:
        fileio.makedirs(layout.split_dir(output_dir, split))


def run_beam(plan: IngestPlan, output_dir: str, beam_pipeline_args: Sequence[str] = ()) -> dict:
    """Runs `IngestDataset` with the given Beam pipeline arguments; returns the summary."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from dataset.beam_ingest import IngestDataset

    with beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args))) as pipeline:
        _ = pipeline | "Ingest" >> IngestDataset(plan, output_dir)
    return layout.read_summary(output_dir)


def run_sequential(plan: IngestPlan, output_dir: str) -> dict:
    """The same work in one process, one file after another (the benchmark's reference)."""
    import tensorflow as tf

    from dataset import colours, seed

    tally = colours.ColourTally()
    for item in plan.items:
        tally.add(seed.mask_colours(item))
    own_colours = colours.own_colours(tally, plan.label_map)
    report = Report()
    writers = {
        split: tf.io.TFRecordWriter(f"{layout.record_prefix(output_dir, split)}-00000-of-00001"
                                    f"{layout.RECORD_FILE_SUFFIX}", options="GZIP")
        for split in layout.SPLITS
    }
    try:
        for item in plan.items:
            outcome = convert_item(item, plan.label_map, plan.options.min_instance_area, plan.dataset_dir,
                                   own_colours)
            if outcome.example is not None:
                writers[outcome.split].write(outcome.example)
            report.add(outcome.without_example())
    finally:
        for writer in writers.values():
            writer.close()
    return write_report(report, plan.summary_fields(), plan.label_map.to_json(), output_dir)


def check_summary(summary: dict, max_reject_fraction: float, output_dir: str) -> None:
    """Raises IngestError when too many inputs were rejected or a split is empty."""
    problems = []
    converted = sum(summary["num_examples"].values()) + summary["num_rejected"]
    if summary["num_rejected"] and summary["num_rejected"] / max(converted, 1) > max_reject_fraction:
        problems.append(
            f"{summary['num_rejected']} of {converted} inputs rejected "
            f"({100 * summary['num_rejected'] / converted:.1f}%), more than max_reject_fraction "
            f"{100 * max_reject_fraction:.1f}%")
    for split in layout.SPLITS:
        if summary["num_examples"].get(split, 0) == 0:
            hint = (" (add labelled test_images/ + test_masks/, or raise eval_fraction)" if split == layout.EVAL
                    else "")
            problems.append(f"the {split} split is empty{hint}")
    if problems:
        rejects = layout.read_rejects(output_dir) if summary["num_rejected"] else []
        raise IngestError("ingestion failed: " + "; ".join(problems) + "\n" + format_summary(summary, rejects)
                          + f"\nall rejects: {layout.rejects_path(output_dir)}")


def format_summary(summary: dict, rejects: list[dict]) -> str:
    lines = [f"format: {summary['format']}  (eval split from: {summary['eval_source']})"]
    for split in layout.SPLITS:
        lines.append(f"  {split:5s}: {summary['num_examples'].get(split, 0):6d} examples "
                     f"{summary['num_instances'].get(split, 0):7d} instances")
    lines.append(f"  rejected: {summary['num_rejected']} of {summary['num_inputs']} inputs; "
                 f"unlabelled: {summary['num_unlabelled']}; ignored: {len(summary.get('ignored_files', []))}")
    for reject in rejects[:MAX_REASONS_SHOWN]:
        lines.append(f"    {reject['file']}: {reject['reason']}")
    if len(rejects) > MAX_REASONS_SHOWN:
        lines.append(f"    ... and {len(rejects) - MAX_REASONS_SHOWN} more")
    return "\n".join(lines)


def check_output_apart(dataset_dir: str, output_dir: str) -> None:
    """Refuses an output folder that is, lies inside or contains the dataset folder: writing (or, with
    --overwrite, emptying) it would change or delete the dataset."""
    def resolved(path: str) -> str:
        return path.rstrip("/") if fileio.is_uri(path) else os.path.realpath(path)

    dataset, output = resolved(_absolute(dataset_dir)), resolved(_absolute(output_dir))
    if output == dataset:
        relation = "is the dataset folder"
    elif output.startswith(dataset.rstrip("/") + "/"):
        relation = f"lies inside the dataset folder {dataset}"
    elif dataset.startswith(output.rstrip("/") + "/"):
        relation = f"contains the dataset folder {dataset}"
    else:
        return
    raise IngestError(f"the output folder {output} {relation}: choose an output folder outside the dataset "
                      f"(nothing was written or deleted)")


def ingest(dataset_dir: str, output_dir: str, options: IngestOptions = IngestOptions(),
           beam_pipeline_args: Sequence[str] = (), overwrite: bool = False) -> dict:
    """Plan, run the Beam ingestion, check the result; returns the summary or raises."""
    check_output_apart(dataset_dir, output_dir)
    plan = plan_ingest(dataset_dir, options)
    output_dir = _absolute(output_dir)
    prepare_output_dir(output_dir, overwrite=overwrite)
    summary = run_beam(plan, output_dir, beam_pipeline_args)
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
    parser.add_argument("--dataset", required=True, help="the dataset folder (seed layout or COCO)")
    parser.add_argument("--output", required=True, help="output folder (the layout of a TFX Examples artifact)")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="dataset layout (default: auto)")
    parser.add_argument("--eval-fraction", type=float, default=DEFAULT_EVAL_FRACTION,
                        help="share of train images hashed into eval when the test folder has no masks "
                             f"(default {DEFAULT_EVAL_FRACTION})")
    parser.add_argument("--max-reject-fraction", type=float, default=DEFAULT_MAX_REJECT_FRACTION,
                        help=f"fail above this share of rejected inputs (default {DEFAULT_MAX_REJECT_FRACTION})")
    parser.add_argument("--min-instance-area", type=int, default=DEFAULT_MIN_INSTANCE_AREA,
                        help="connected components smaller than this (pixels) are specks, not objects "
                             f"(default {DEFAULT_MIN_INSTANCE_AREA})")
    parser.add_argument("--workers", type=int, default=2,
                        help="DirectRunner threads (default 2; 1.6x one thread at 4,000 images on 2 cores; "
                             "ignored with --beam-arg)")
    parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                        help="a Beam pipeline argument, repeatable (e.g. --beam-arg=--runner=DataflowRunner)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")


def main(args: argparse.Namespace) -> int:
    try:
        options = IngestOptions(format=args.format, eval_fraction=args.eval_fraction,
                                max_reject_fraction=args.max_reject_fraction,
                                min_instance_area=args.min_instance_area)
    except ValueError as e:
        print(f"maskrcnn-tfx ingest: {e}", file=sys.stderr)
        return 2
    beam_args = args.beam_arg or default_beam_args(args.workers)
    try:
        summary = ingest(args.dataset, args.output, options, beam_args, overwrite=args.overwrite)
    except (LabelMapError, IngestError) as e:
        print(f"maskrcnn-tfx ingest: {e}", file=sys.stderr)
        return 1
    output_dir = _absolute(args.output)
    print(format_summary(summary, layout.read_rejects(output_dir)))
    print(f"wrote {output_dir}")
    return 0


def __getattr__(name: str):
    # The Beam transforms live in dataset/beam_ingest.py so that `--help` needs no Beam import.
    if name in ("ImagesToExamples", "IngestDataset"):
        from dataset import beam_ingest

        return getattr(beam_ingest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
