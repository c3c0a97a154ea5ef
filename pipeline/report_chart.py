"""The report's chart (matplotlib, Agg): time per component, training loss, the final AP with its intervals,
accuracy over training time."""

from __future__ import annotations


def _accuracy_panel(axes, reports: list[dict]) -> None:
    """Mask AP50 (solid) and mask AP (dashed) of the evaluations during training, against training minutes;
    one colour per run, so that `report --compare` shows which config reaches a level first."""
    for index, report in enumerate(reports):
        points = report["accuracy_over_time"]
        if not points:
            continue
        minutes = [p["seconds"] / 60 for p in points]
        colour = f"C{index}"
        axes.plot(
            minutes,
            [p["mask_AP50"] for p in points],
            color=colour,
            marker="o",
            markersize=3,
            label=f"{report['run_id']} mask AP50",
        )
        if all("mask_AP50" in p.get("interval", {}) for p in points):
            axes.fill_between(
                minutes,
                [p["interval"]["mask_AP50"][0] for p in points],
                [p["interval"]["mask_AP50"][1] for p in points],
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
        axes.plot(
            minutes, [p["mask_AP"] for p in points], color=colour, linestyle="--", label=f"{report['run_id']} mask AP"
        )
        if report["time_to_threshold_s"] is not None:
            axes.axvline(report["time_to_threshold_s"] / 60, color=colour, linewidth=0.8, alpha=0.6)
    axes.set_xlabel("training minutes")
    axes.set_ylabel("AP on the eval split")
    axes.set_ylim(0, 1)
    axes.set_title("accuracy over training time\n(band: mask AP50's 95% interval; line: thresholds met)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)


def _evaluation_panel(axes, reports: list[dict]) -> None:
    """The final evaluation's AP figures with their bootstrap intervals (error bars), and the blessing
    thresholds (ticks); one colour per run."""
    names = ("box_AP", "box_AP50", "mask_AP", "mask_AP50")
    height = 0.8 / len(reports)
    for index, report in enumerate(reports):
        evaluation = report["evaluation"]
        if not evaluation:
            continue
        interval = evaluation.get("interval")
        values = [evaluation[name.split("_")[0]][name.split("_")[1]] for name in names]
        y = [i + index * height for i in range(len(names))]
        errors = (
            None
            if not interval
            else [
                [v - interval[n][0] for v, n in zip(values, names, strict=True)],
                [interval[n][1] - v for v, n in zip(values, names, strict=True)],
            ]
        )
        axes.errorbar(values, y, xerr=errors, fmt="o", color=f"C{index}", capsize=3, label=report["run_id"])
        for name, minimum in ((report["blessing"] or {}).get("thresholds") or {}).items():
            if name in names:
                i = names.index(name) + index * height
                axes.plot([minimum, minimum], [i - 0.3, i + 0.3], color=f"C{index}", linewidth=2)
    axes.set_yticks(range(len(names)), [n.replace("_", " ") for n in names])
    axes.invert_yaxis()
    axes.set_xlim(0, 1.03)
    axes.set_xlabel("AP on the eval split")
    axes.set_title("final evaluation\n(bars: 95% bootstrap interval; tick: blessing threshold)")
    axes.grid(alpha=0.3)


def write_chart(reports: list[dict], path: str) -> str:
    """Seconds per component (bars, one colour per run), the training loss curves and, when there were
    evaluations during training, mask AP50 and mask AP against training minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(dict.fromkeys(c["component"] for r in reports for c in r["components"]))
    with_accuracy = any(r["accuracy_over_time"] for r in reports)
    ratios = [1.1, 1, 0.8] + ([1] if with_accuracy else [])
    figure, panels = plt.subplots(
        1, len(ratios), figsize=(6 * len(ratios), 0.45 * len(names) + 2.5), gridspec_kw={"width_ratios": ratios}
    )
    bars, curve = panels[0], panels[1]
    _evaluation_panel(panels[2], reports)
    height = 0.8 / len(reports)
    for i, report in enumerate(reports):
        seconds = {c["component"]: c["seconds"] for c in report["components"]}
        y = np.arange(len(names)) + i * height
        bars.barh(y, [seconds.get(n, 0) for n in names], height=height, label=report["run_id"])
        loss = report["loss_curve"]
        if loss["step"]:
            curve.plot(loss["step"], loss["value"], label=report["run_id"], linewidth=1.2)
    bars.set_yticks(np.arange(len(names)) + 0.4 - height / 2, names)
    bars.invert_yaxis()
    bars.set_xlabel("seconds")
    bars.set_title("time per component")
    curve.set_xlabel("step")
    curve.set_ylabel(reports[0]["loss_curve"]["tag"])
    curve.set_title("training loss")
    curve.grid(alpha=0.3)
    if with_accuracy:
        _accuracy_panel(panels[3], reports)
    if len(reports) > 1:
        bars.legend(fontsize=7)
        curve.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
