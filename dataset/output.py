"""Ingestion, step 3: the output folder. Prepared empty with its split folders (never overlapping the dataset),
then given the counts and rejects of all outcomes (the report), which are checked."""

from __future__ import annotations

import json
import os
from typing import Any

from dataset import layout
from dataset.plan import absolute
from dataset.records import IngestError, Outcome
from storage import fileio

# Reasons shown in error messages and the command's output; the full list is rejects.jsonl.
MAX_REASONS_SHOWN = 10


class Report:
    """Counts and rejects accumulated from outcomes (a Beam combiner's accumulator, or used directly)."""

    def __init__(self):
        self.num_examples = dict.fromkeys(layout.SPLITS, 0)
        self.num_instances = dict.fromkeys(layout.SPLITS, 0)
        self.num_negative = dict.fromkeys(layout.SPLITS, 0)
        self.num_small_components_dropped = 0
        self.rejects: list[dict[str, str]] = []
        self.pixels_reassigned: dict[str, int] = {}  # input file -> mask pixels snapped to a class value
        self.lossy_masks: dict[str, str] = {}  # input file -> its mask, when the mask holds JPEG data
        self.alpha_pixels: dict[str, int] = {}  # input file -> mask pixels its alpha channel decided

    def add(self, outcome: Outcome) -> Report:
        if outcome.reason:
            self.rejects.append({"file": outcome.file, "reason": outcome.reason, "split": outcome.split})
            return self
        self.num_examples[outcome.split] += 1
        self.num_instances[outcome.split] += outcome.num_instances
        self.num_negative[outcome.split] += outcome.num_instances == 0
        self.num_small_components_dropped += outcome.num_small_components_dropped
        if outcome.pixels_reassigned:
            self.pixels_reassigned[outcome.file] = outcome.pixels_reassigned
        if outcome.lossy_mask:
            self.lossy_masks[outcome.file] = outcome.lossy_mask
        if outcome.alpha_pixels:
            self.alpha_pixels[outcome.file] = outcome.alpha_pixels
        return self

    def merge(self, other: Report) -> Report:
        for split in layout.SPLITS:
            self.num_examples[split] += other.num_examples[split]
            self.num_instances[split] += other.num_instances[split]
            self.num_negative[split] += other.num_negative[split]
        self.num_small_components_dropped += other.num_small_components_dropped
        self.rejects.extend(other.rejects)
        self.pixels_reassigned.update(other.pixels_reassigned)
        self.lossy_masks.update(other.lossy_masks)
        self.alpha_pixels.update(other.alpha_pixels)
        return self

    def warnings(self) -> list[str]:
        """What was read with judgement rather than as written (dataset/mask_values.py's rule)."""
        from dataset.mask_values import NOISE_TOLERANCE

        lines = []
        lossy = set(self.lossy_masks)
        if lossy:
            pixels = sum(n for file, n in self.pixels_reassigned.items() if file in lossy)
            lines.append(
                f"{len(lossy)} masks are JPEG data (lossy compression changes the values that carry the "
                f"class): read within {NOISE_TOLERANCE} grey levels of a class value, {pixels} pixels "
                f"reassigned; save masks as PNG to keep them exact"
            )
        soft = {file: n for file, n in self.pixels_reassigned.items() if file not in lossy}
        if soft:
            lines.append(
                f"{len(soft)} masks have soft or antialiased edges (blends of a class value and its "
                f"neighbour's): {sum(soft.values())} pixels took the nearest class value or the "
                f"background"
            )
        if self.alpha_pixels:
            lines.append(
                f"{len(self.alpha_pixels)} masks are on a transparent layer: alpha 0 read as the "
                f"background whatever the colour beneath, partial alpha as soft edges "
                f"({sum(self.alpha_pixels.values())} pixels decided by the alpha)"
            )
        return lines


def write_report(report: Report, summary_fields: dict[str, Any], label_map_json: str, output_dir: str) -> dict:
    """Writes label_map.json, rejects.jsonl and ingest_summary.json; returns the summary."""
    num_converted = sum(report.num_examples.values()) + len(report.rejects)
    expected = summary_fields["num_inputs"] - summary_fields["num_unlabelled"]
    if num_converted != expected:  # would mean a lost input: never publish that
        raise IngestError(f"internal error: {expected} inputs but {num_converted} outcomes")
    rejects = sorted(report.rejects, key=lambda r: (r["file"], r["reason"]))
    summary = dict(summary_fields)
    summary.update(
        {
            "num_examples": dict(report.num_examples),
            "num_instances": dict(report.num_instances),
            "num_rejected": len(rejects),
            "reject_fraction": round(len(rejects) / num_converted, 6) if num_converted else 0.0,
            "num_negative": dict(report.num_negative),
            "num_small_components_dropped": report.num_small_components_dropped,
            "pixels_reassigned": sum(report.pixels_reassigned.values()),
            "pixels_reassigned_by_input": dict(sorted(report.pixels_reassigned.items())),
            "lossy_masks": sorted(report.lossy_masks.values()),
            "alpha_pixels_by_input": dict(sorted(report.alpha_pixels.items())),
            "warnings": report.warnings(),
        }
    )
    fileio.write_text(layout.label_map_path(output_dir), label_map_json)
    fileio.write_text(layout.rejects_path(output_dir), "".join(json.dumps(r) + "\n" for r in rejects))
    fileio.write_text(layout.summary_path(output_dir), json.dumps(summary, indent=2) + "\n")
    return summary


def check_summary(summary: dict, max_reject_fraction: float, output_dir: str) -> None:
    """Raises IngestError when too many inputs were rejected or a split is empty."""
    problems = []
    converted = sum(summary["num_examples"].values()) + summary["num_rejected"]
    if summary["num_rejected"] and summary["num_rejected"] / max(converted, 1) > max_reject_fraction:
        problems.append(
            f"{summary['num_rejected']} of {converted} inputs rejected "
            f"({100 * summary['num_rejected'] / converted:.1f}%), more than max_reject_fraction "
            f"{100 * max_reject_fraction:.1f}%"
        )
    for split in layout.SPLITS:
        if summary["num_examples"].get(split, 0) == 0:
            hint = " (add labelled test_images/ + test_masks/, or raise eval_fraction)" if split == layout.EVAL else ""
            problems.append(f"the {split} split is empty{hint}")
        elif summary["num_instances"].get(split, 0) == 0:
            problems.append(
                f"the {split} split has no object: its {summary['num_examples'][split]} images are all "
                f"background (negatives teach and score only beside images with objects)"
            )
    if problems:
        rejects = layout.read_rejects(output_dir) if summary["num_rejected"] else []
        raise IngestError(
            "ingestion failed: "
            + "; ".join(problems)
            + "\n"
            + format_summary(summary, rejects)
            + f"\nall rejects: {layout.rejects_path(output_dir)}"
        )


def format_summary(summary: dict, rejects: list[dict]) -> str:
    lines = [f"format: {summary['format']}  (eval split from: {summary['eval_source']})"]
    for split in layout.SPLITS:
        negative = summary.get("num_negative", {}).get(split, 0)
        lines.append(
            f"  {split:5s}: {summary['num_examples'].get(split, 0):6d} examples "
            f"{summary['num_instances'].get(split, 0):7d} instances"
            + (f"  ({negative} of them background photos, no object: negatives)" if negative else "")
        )
    lines.append(
        f"  rejected: {summary['num_rejected']} of {summary['num_inputs']} inputs; "
        f"unlabelled: {summary['num_unlabelled']}; ignored: {len(summary.get('ignored_files', []))}"
    )
    lines += [f"  warning: {warning}" for warning in summary.get("warnings", [])]
    for reject in rejects[:MAX_REASONS_SHOWN]:
        lines.append(f"    {reject['file']}: {reject['reason']}")
    if len(rejects) > MAX_REASONS_SHOWN:
        lines.append(f"    ... and {len(rejects) - MAX_REASONS_SHOWN} more")
    return "\n".join(lines)


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


def check_output_apart(dataset_dir: str, output_dir: str) -> None:
    """Refuses an output folder that is, lies inside or contains the dataset folder: writing (or, with
    --overwrite, emptying) it would change or delete the dataset."""

    def resolved(path: str) -> str:
        return path.rstrip("/") if fileio.is_uri(path) else os.path.realpath(path)

    dataset, output = resolved(absolute(dataset_dir)), resolved(absolute(output_dir))
    if output == dataset:
        relation = "is the dataset folder"
    elif output.startswith(dataset.rstrip("/") + "/"):
        relation = f"lies inside the dataset folder {dataset}"
    elif dataset.startswith(output.rstrip("/") + "/"):
        relation = f"contains the dataset folder {dataset}"
    else:
        return
    raise IngestError(
        f"the output folder {output} {relation}: choose an output folder outside the dataset "
        f"(nothing was written or deleted)"
    )
