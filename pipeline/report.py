"""`maskrcnn-tfx report`: what a run took and what it made, from ML Metadata and the components' outputs.

One run: a table on the terminal, the same as JSON, and a PNG chart (time per
component, training loss curve from the Trainer's TensorBoard logs).
`--compare` puts several runs side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from components.util.blessing import meets
from pipeline.report_table import format_run_list, format_table
from pipeline.settings import DEFAULT_PIPELINE_ROOT


def loss_curve(model_run_uri: str | None, tag: str = "total_loss") -> dict[str, list]:
    """Step and value of a training scalar from the Trainer's TensorBoard summaries."""
    from components.trainer.summaries import scalars

    points = scalars(model_run_uri, tag)
    return {"tag": tag, "step": [s for s, _ in points], "value": [round(v, 5) for _, v in points]}


def build(summary: dict) -> dict:
    """The report of one run (a `run_summary.latest_run` result): numbers only, as written to JSON."""
    components = [{k: c[k] for k in ("component", "state", "seconds")} for c in summary["components"]]
    times = [(c["started_ms"], c["ended_ms"]) for c in summary["components"]]
    trainer = next((c for c in summary["components"] if c["component"] == "Trainer"), None)
    examples = summary.get("examples") or {}
    evaluation = summary.get("evaluation") or {}
    report = {
        "run_id": summary["run_id"],
        "pipeline_root": summary["pipeline_root"],
        "components": components,
        "wall_seconds": round((max(e for _, e in times) - min(s for s, _ in times)) / 1000, 1) if times else None,
        "examples": {
            key: examples.get(key) for key in ("num_examples", "num_instances", "num_rejected", "num_unlabelled")
        }
        if examples
        else None,
        "validation": summary.get("validation"),
        "training": summary.get("training"),
        "evaluation": {
            key: evaluation.get(key) for key in ("num_images", "box", "mask", "interval", "latency", "throughput")
        }
        if evaluation
        else None,
        "blessing": evaluation.get("blessing"),
        "serving_check": summary.get("serving_check"),
        "pushed": summary.get("pushed"),
        "model_uri": summary.get("model_uri"),
        "loss_curve": loss_curve((trainer or {}).get("outputs", {}).get("ModelRun")),
        "accuracy_over_time": (summary.get("training") or {}).get("accuracy_over_time") or [],
    }
    report["time_to_threshold_s"], report["steps_to_threshold"] = time_to_threshold(
        report["accuracy_over_time"], (evaluation.get("blessing") or {}).get("thresholds") or {}
    )
    for kind in ("box", "mask"):  # per-class AP stays in the evaluator's metrics.json
        if report["evaluation"] and report["evaluation"].get(kind):
            report["evaluation"][kind] = {k: v for k, v in report["evaluation"][kind].items() if k != "per_class_AP"}
    return report


def time_to_threshold(points: list[dict], thresholds: dict[str, float]) -> tuple[float | None, int | None]:
    """Seconds and steps of training until the first evaluation meeting every blessing threshold; (None, None)
    when none did, or a threshold names a metric not measured during training."""
    if not thresholds or not points or any(name not in points[0] for name in thresholds):
        return None, None
    first = next((p for p in points if meets(p, thresholds)), None)
    return (first["seconds"], first["step"]) if first else (None, None)


def write(reports: list[dict], output_dir: str, compare: bool = False) -> tuple[str, str]:
    """report-<run id>.json and .png in output_dir (report-compare.* with a list of runs); their paths."""
    import tensorflow as tf

    tf.io.gfile.makedirs(output_dir)
    name = "compare" if compare else reports[0]["run_id"]
    json_path = os.path.join(output_dir, f"report-{name}.json")
    with tf.io.gfile.GFile(json_path, "w") as f:
        json.dump(reports if compare else reports[0], f, indent=1)
    from pipeline.report_chart import write_chart

    return json_path, write_chart(reports, os.path.join(output_dir, f"report-{name}.png"))


def reports_dir(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, "reports")


def report_run(pipeline_root: str, run_id: str) -> dict:
    """One run's report, printed and written as JSON and PNG; returns the run's summary."""
    from pipeline import run_summary

    summary = run_summary.latest_run(pipeline_root, run_id)
    run_report = build(summary)
    print(format_table([run_report]))
    json_path, png_path = write([run_report], reports_dir(pipeline_root))
    print(f"[run] report: {json_path}, {png_path}")
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pipeline-root",
        default=DEFAULT_PIPELINE_ROOT,
        help=f"a pipeline root of `maskrcnn-tfx run` (default: {DEFAULT_PIPELINE_ROOT})",
    )
    parser.add_argument("--run", help="a run id (default: the newest run; --list shows them)")
    parser.add_argument("--list", action="store_true", help="the runs of the pipeline root, oldest first")
    parser.add_argument(
        "--compare",
        nargs="*",
        metavar="RUN",
        help="several runs side by side: the ids given, or without ids the last five",
    )
    parser.add_argument("--output", help="where to write the JSON and PNG (default: PIPELINE_ROOT/reports)")


def main(args: argparse.Namespace) -> int:
    from pipeline import run_summary

    try:
        if args.list:
            print(
                format_run_list(
                    [
                        run_summary.latest_run(args.pipeline_root, run_id)
                        for run_id in run_summary.run_ids(args.pipeline_root)
                    ]
                )
            )
            return 0
        ids = [args.run] if args.compare is None else args.compare or run_summary.run_ids(args.pipeline_root)[-5:]
        reports = [build(run_summary.latest_run(args.pipeline_root, run_id)) for run_id in ids]
    except (FileNotFoundError, LookupError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 1
    print(format_table(reports))
    json_path, png_path = write(
        reports, args.output or reports_dir(args.pipeline_root), compare=args.compare is not None
    )
    print(f"wrote {json_path} and {png_path}")
    return 0
