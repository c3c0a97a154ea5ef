"""Training through the TFX Trainer vs. directly through Model Garden, side by side.

    scripts/container python benchmarks/trainer_benchmark.py [--config cpu-demo] [--steps 60]

Both runs use the same ingested data, ExperimentConfig and steps, each in its own
process (for its peak memory). Step time is read the same way for both: Orbit's
`steps_per_second` summaries, first loop (tracing) excluded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of a child process."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=REPO)
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return time.monotonic() - started, usage.ru_maxrss / 1024 / 1024


def direct(examples_uri: str, model_dir: str, config: str, steps: int) -> None:
    """Model Garden alone: the same ExperimentConfig and training function as the Trainer's run_fn, no TFX."""
    from components.trainer import training
    from components.trainer.experiment import experiment_for_examples

    params = experiment_for_examples(config, examples_uri, train_steps=steps)
    training.train(params, model_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cpu-demo")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--direct", nargs=2, metavar=("EXAMPLES", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct:
        direct(args.direct[0], args.direct[1], args.config, args.steps)
        return

    from components.trainer.summaries import scalars
    from pipeline import run_summary
    from sample_data import sample

    work = tempfile.mkdtemp(prefix="trainer-bench-")
    dataset = os.path.join(work, "dataset")
    sample.generate(dataset, num_train=args.images, num_test=4, num_unlabelled=0)
    root = os.path.join(work, "pipeline")
    _tfx_wall, tfx_rss = _run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            "--dataset",
            dataset,
            "--pipeline-root",
            root,
            "--config",
            args.config,
            "--train-steps",
            str(args.steps),
        ]
    )
    summary = run_summary.latest_run(root)
    trainer = next(c for c in summary["components"] if c["component"] == "Trainer")
    direct_dir = os.path.join(work, "direct")
    direct_wall, direct_rss = _run(
        [
            sys.executable,
            __file__,
            "--config",
            args.config,
            "--steps",
            str(args.steps),
            "--direct",
            summary["examples_uri"],
            direct_dir,
        ]
    )

    rows = []
    for name, model_dir, wall, rss in (
        ("TFX Trainer", trainer["outputs"]["ModelRun"], trainer["seconds"], tfx_rss),
        ("Model Garden direct", direct_dir, direct_wall, direct_rss),
    ):
        rates = [v for _, v in scalars(model_dir, "steps_per_second")][1:]
        step = 1 / statistics.median(rates)
        batch = summary["training"]["global_batch_size"]
        rows.append((name, step, batch / step, wall - step * args.steps, rss))
    print(
        f"\nconfig {args.config}, {args.steps} steps, batch {summary['training']['global_batch_size']}, "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| run | s/step (steady) | images/s | fixed overhead s | peak RSS GB |")
    print("|---|---|---|---|---|")
    for name, step, ips, overhead, rss in rows:
        print(f"| {name} | {step:.3f} | {ips:.2f} | {overhead:.0f} | {rss:.2f} |")
    print(f"\nTrainer step time vs direct: {100 * (rows[0][1] / rows[1][1] - 1):+.1f}%")
    print(
        "(TFX Trainer overhead = Trainer execution wall time minus steps x step time: model build, "
        "tracing, export; the direct run's is its process wall time minus the same, without export.)"
    )


if __name__ == "__main__":
    main()
