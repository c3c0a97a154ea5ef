"""The report's table (pipeline/report.py builds the report; pipeline/report_chart.py draws its chart): the
per-component times and the run's figures as rows, one column per run, with the blessing's reasons below."""

from __future__ import annotations

from components.util.uncertainty import with_interval

MISSING = "-"
INTERVAL_ROWS = ("box_AP", "box_AP50", "mask_AP", "mask_AP50")  # the metrics shown with their intervals


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
        (
            "device",
            f"{training['device_count']} {training['device_kind']} {training['precision']}" if training else MISSING,
        ),
        *(
            [
                (
                    "fine-tuned from",
                    "resumed"
                    if "skipped" in init
                    else f"{init['restored']} variables, {len(init['reinitialised'])} re-initialised",
                )
            ]
            if init
            else []
        ),
        *(
            [
                ("evaluations in training", f"{len(points)}, every {training['eval_interval']} steps"),
                ("last mask AP50 in training", f"{points[-1]['mask_AP50']:.3f} at step {points[-1]['step']}"),
                (
                    "time to threshold s",
                    MISSING
                    if report["time_to_threshold_s"] is None
                    else f"{report['time_to_threshold_s']:.0f} (step {report['steps_to_threshold']})",
                ),
            ]
            if points
            else []
        ),
        ("final loss", f"{report['loss_curve']['value'][-1]:.3f}" if report["loss_curve"]["value"] else MISSING),
        ("box AP / AP50 / AP75", _ap(evaluation.get("box"))),
        ("mask AP / AP50 / AP75", _ap(evaluation.get("mask"))),
        ("eval images", str(evaluation["num_images"]) if evaluation else MISSING),
        *[
            (f"{name.replace('_', ' ')} [{interval['confidence']:.0%} interval]", with_interval(evaluation, name))
            for interval in [evaluation.get("interval")]
            if interval
            for name in INTERVAL_ROWS
        ],
        ("latency median / p95 ms", f"{latency['median_ms']:.0f} / {latency['p95_ms']:.0f}" if latency else MISSING),
        (
            "throughput images/s",
            f"{throughput['images_per_s']:.2f} (batch {throughput['batch_size']})" if throughput else MISSING,
        ),
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
        rows += [
            (
                "server ready s (load, warm-up)",
                f"{check['ready_s']:.1f} ({server['load_s']:.1f}, "
                f"{server['warmup_records']} requests {server['warmup_s']:.1f})",
            ),
            (
                "first request ms (cold call at load)",
                f"{check['first_request_ms']:.0f} ({1000 * (server['warmup_first_call_s'] or 0):.0f})",
            ),
            ("steady request ms", f"{check['steady_request_ms']:.0f}"),
            ("answer bytes (REST JSON)", str(check["answer_bytes"])),
        ]
    return rows


def format_run_list(summaries: list[dict]) -> str:
    """A line per run: its id, its components' states, its blessing and pushed version."""
    rows = []
    for summary in summaries:
        states = [c["state"] for c in summary["components"]]
        blessing = (summary.get("evaluation") or {}).get("blessing")
        pushed = summary.get("pushed")
        rows.append(
            [
                summary["run_id"],
                ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states)) or MISSING,
                ("yes" if blessing["blessed"] else "no") if blessing else MISSING,
                (pushed["version"] if pushed["pushed"] else "none") if pushed else MISSING,
            ]
        )
    return _table(["run id", "components", "blessed", "pushed version"], rows)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def format_table(reports: list[dict]) -> str:
    """One run: its table with the blessing's reasons; several: side by side, a column per run."""
    names = list(dict.fromkeys(c["component"] for r in reports for c in r["components"]))
    seconds = [{c["component"]: c for c in r["components"]} for r in reports]
    rows = [
        [name]
        + [
            f"{s[name]['seconds']:.1f}" + ("" if s[name]["state"] == "COMPLETE" else f" {s[name]['state']}")
            if name in s
            else MISSING
            for s in seconds
        ]
        for name in names
    ]
    rows.append(
        ["pipeline wall time"]
        + [f"{r['wall_seconds']:.1f}" if r["wall_seconds"] is not None else MISSING for r in reports]
    )
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
