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
from components.util.uncertainty import with_interval
from pipeline.settings import DEFAULT_PIPELINE_ROOT

MISSING = "-"
INTERVAL_ROWS = ("box_AP", "box_AP50", "mask_AP", "mask_AP50")  # the metrics shown with their intervals


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
        "examples": {key: examples.get(key) for key in
                     ("num_examples", "num_instances", "num_rejected", "num_unlabelled")} if examples else None,
        "validation": summary.get("validation"),
        "training": summary.get("training"),
        "evaluation": {key: evaluation.get(key) for key in
                       ("num_images", "box", "mask", "interval", "latency", "throughput")} if evaluation else None,
        "blessing": evaluation.get("blessing"),
        "serving_check": summary.get("serving_check"),
        "pushed": summary.get("pushed"),
        "model_uri": summary.get("model_uri"),
        "loss_curve": loss_curve((trainer or {}).get("outputs", {}).get("ModelRun")),
        "accuracy_over_time": (summary.get("training") or {}).get("accuracy_over_time") or [],
    }
    report["time_to_threshold_s"], report["steps_to_threshold"] = time_to_threshold(
        report["accuracy_over_time"], (evaluation.get("blessing") or {}).get("thresholds") or {})
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


def _split_pair(counts: dict | None) -> str:
    return f"{counts.get('train', 0)} / {counts.get('eval', 0)}" if counts else MISSING


def _ap(metrics: dict | None) -> str:
    return " / ".join(f"{metrics[k]:.3f}" for k in ("AP", "AP50", "AP75")) if metrics else MISSING


def metric_rows(report: dict) -> list[tuple[str, str]]:
    """(label, value) rows of the table, below the per-component times."""
    examples, training = report["examples"] or {}, report["training"] or {}
    evaluation, blessing, pushed = report["evaluation"] or {}, report["blessing"], report["pushed"]
    latency, throughput = evaluation.get("latency"), evaluation.get("throughput")
    validation = report["validation"]
    init, points = training.get("init"), report["accuracy_over_time"]
    rows = [
        ("examples (train / eval)", _split_pair(examples.get("num_examples"))),
        ("instances (train / eval)", _split_pair(examples.get("num_instances"))),
        ("rejected inputs", str(examples["num_rejected"]) if examples else MISSING),
        ("validation", validation.splitlines()[-1] if validation else MISSING),
        ("training steps", f"{training['start_step']} -> {training['end_step']}" if training else MISSING),
        ("training time s", f"{training['wall_time_s']:.0f}" if training else MISSING),
        ("median step s", f"{training['median_step_s']:.3f}" if training else MISSING),
        ("training images/s", f"{training['images_per_s']:.2f}" if training else MISSING),
        ("device", f"{training['device_count']} {training['device_kind']} {training['precision']}"
         if training else MISSING),
        *([("fine-tuned from", "resumed" if "skipped" in init else
            f"{init['restored']} variables, {len(init['reinitialised'])} re-initialised")] if init else []),
        *([("evaluations in training", f"{len(points)}, every {training['eval_interval']} steps"),
           ("last mask AP50 in training", f"{points[-1]['mask_AP50']:.3f} at step {points[-1]['step']}"),
           ("time to threshold s", MISSING if report["time_to_threshold_s"] is None else
            f"{report['time_to_threshold_s']:.0f} (step {report['steps_to_threshold']})")] if points else []),
        ("final loss", f"{report['loss_curve']['value'][-1]:.3f}" if report["loss_curve"]["value"] else MISSING),
        ("box AP / AP50 / AP75", _ap(evaluation.get("box"))),
        ("mask AP / AP50 / AP75", _ap(evaluation.get("mask"))),
        ("eval images", str(evaluation["num_images"]) if evaluation else MISSING),
        *[(f"{name.replace('_', ' ')} [{interval['confidence']:.0%} interval]", with_interval(evaluation, name))
          for interval in [evaluation.get("interval")] if interval for name in INTERVAL_ROWS],
        ("latency median / p95 ms", f"{latency['median_ms']:.0f} / {latency['p95_ms']:.0f}" if latency else MISSING),
        ("throughput images/s", f"{throughput['images_per_s']:.2f} (batch {throughput['batch_size']})"
         if throughput else MISSING),
        ("blessed", ("yes" if blessing["blessed"] else "no") if blessing else MISSING),
        *serving_rows(report.get("serving_check")),
        ("pushed version", (pushed["version"] if pushed["pushed"] else "none") if pushed else MISSING),
    ]
    return rows


def serving_rows(check: dict | None) -> list[tuple[str, str]]:
    """The serving check's rows: its verdict, and the server's figures when it started one."""
    if not check:
        return []
    rows = [("served by a model server", "yes" if check["ok"] else "no")]
    if "first_request_ms" in check:
        server = check["server"]
        rows += [("server ready s (load, warm-up)", f"{check['ready_s']:.1f} ({server['load_s']:.1f}, "
                                                     f"{server['warmup_records']} requests {server['warmup_s']:.1f})"),
                 ("first request ms (cold call at load)",
                  f"{check['first_request_ms']:.0f} ({1000 * (server['warmup_first_call_s'] or 0):.0f})"),
                 ("steady request ms", f"{check['steady_request_ms']:.0f}"),
                 ("answer bytes (REST JSON)", str(check["answer_bytes"]))]
    return rows


def format_run_list(summaries: list[dict]) -> str:
    """A line per run: its id, its components' states, its blessing and pushed version."""
    rows = []
    for summary in summaries:
        states = [c["state"] for c in summary["components"]]
        blessing = (summary.get("evaluation") or {}).get("blessing")
        pushed = summary.get("pushed")
        rows.append([summary["run_id"], ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states)) or MISSING,
                     ("yes" if blessing["blessed"] else "no") if blessing else MISSING,
                     (pushed["version"] if pushed["pushed"] else "none") if pushed else MISSING])
    return _table(["run id", "components", "blessed", "pushed version"], rows)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def format_table(reports: list[dict]) -> str:
    """One run: its table with the blessing's reasons; several: side by side, a column per run."""
    names = list(dict.fromkeys(c["component"] for r in reports for c in r["components"]))
    seconds = [{c["component"]: c for c in r["components"]} for r in reports]
    rows = [[name] + [f"{s[name]['seconds']:.1f}" + ("" if s[name]["state"] == "COMPLETE" else f" {s[name]['state']}")
                      if name in s else MISSING for s in seconds] for name in names]
    rows.append(["pipeline wall time"] + [f"{r['wall_seconds']:.1f}" if r["wall_seconds"] is not None else MISSING
                                          for r in reports])
    per_run = [dict(metric_rows(r)) for r in reports]  # runs may have different rows (fine-tuning, evaluations)
    labels = list(dict.fromkeys(label for rows_of_run in per_run for label in rows_of_run))
    rows += [[label] + [rows_of_run.get(label, MISSING) for rows_of_run in per_run] for label in labels]
    header = ["step / seconds"] + [r["run_id"] for r in reports]
    text = [f"Pipeline root: {reports[0]['pipeline_root']}", _table(header, rows)]
    if len(reports) == 1 and reports[0]["validation"]:
        text.append("Validation: " + reports[0]["validation"].replace("\n", "; "))
    if len(reports) == 1 and (reports[0]["evaluation"] or {}).get("interval"):
        text.append(f"Intervals: {reports[0]['evaluation']['interval']['method']}")
    if len(reports) == 1 and reports[0]["blessing"]:
        blessing = reports[0]["blessing"]
        text.append(f"{'BLESSED' if blessing['blessed'] else 'NOT BLESSED'}: " + "; ".join(blessing["reasons"]))
        text += [f"WARNING: {warning}" for warning in blessing.get("warnings", [])]
    if len(reports) == 1 and (reports[0]["training"] or {}).get("end_reason"):
        text.append(f"Training: {reports[0]['training']['end_reason']}")
    if len(reports) == 1 and reports[0].get("serving_check"):
        check = reports[0]["serving_check"]
        text.append(f"Serving check: {'passed' if check['ok'] else 'FAILED'}: {check['reason']}")
    if len(reports) == 1 and reports[0]["pushed"] and reports[0]["pushed"]["pushed"]:
        text.append(f"Pushed: {reports[0]['pushed']['destination']}")
    return "\n".join(text)


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
    parser.add_argument("--pipeline-root", default=DEFAULT_PIPELINE_ROOT,
                        help=f"a pipeline root of `maskrcnn-tfx run` (default: {DEFAULT_PIPELINE_ROOT})")
    parser.add_argument("--run", help="a run id (default: the newest run; --list shows them)")
    parser.add_argument("--list", action="store_true", help="the runs of the pipeline root, oldest first")
    parser.add_argument("--compare", nargs="*", metavar="RUN",
                        help="several runs side by side: the ids given, or without ids the last five")
    parser.add_argument("--output", help="where to write the JSON and PNG (default: PIPELINE_ROOT/reports)")


def main(args: argparse.Namespace) -> int:
    from pipeline import run_summary

    try:
        if args.list:
            print(format_run_list([run_summary.latest_run(args.pipeline_root, run_id)
                                   for run_id in run_summary.run_ids(args.pipeline_root)]))
            return 0
        if args.compare is not None:
            ids = args.compare or run_summary.run_ids(args.pipeline_root)[-5:]
        else:
            ids = [args.run]
        reports = [build(run_summary.latest_run(args.pipeline_root, run_id)) for run_id in ids]
    except (FileNotFoundError, LookupError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 1
    print(format_table(reports))
    json_path, png_path = write(reports, args.output or reports_dir(args.pipeline_root),
                                compare=args.compare is not None)
    print(f"wrote {json_path} and {png_path}")
    return 0
