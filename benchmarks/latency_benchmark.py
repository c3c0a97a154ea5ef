"""Inference latency: the evaluator's figures vs a plain loop over the same SavedModel outside TFX.

    scripts/container python benchmarks/latency_benchmark.py --pipeline-root outputs/pipeline [--rounds 3]

Takes the newest run's model and eval split from a pipeline root and measures,
in one process and alternating so that both see the same machine:
(a) the evaluator's own measurement (`components.evaluator.executor.evaluate_model`,
what the MaskEvaluator component runs), and (b) a plain loop: load the
SavedModel, call `serving_default` on each eval image's bytes at batch 1 after
the same warm-up and number of calls, fetch the outputs; written here, not taken
from components/evaluator/latency.py, so that it is an independent reference).
It also prints what the component
recorded during the run (`metrics.json`). Target: (a) within 10% of (b).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def plain_loop(model_dir: str, images: list[bytes], warmup: int, calls: int) -> list[float]:
    import tensorflow as tf

    predict = tf.saved_model.load(model_dir).signatures["serving_default"]
    for _ in range(warmup):
        predict(tf.constant([images[0]]))
    seconds = []
    for i in range(max(len(images), calls)):
        encoded = images[i % len(images)]
        started = time.perf_counter()
        outputs = {k: v.numpy() for k, v in predict(tf.constant([encoded])).items()}
        seconds.append(time.perf_counter() - started)
        assert "num_detections" in outputs
    return seconds


def _figures(seconds: list[float]) -> dict:
    import numpy as np

    return {"median_ms": 1000 * statistics.median(seconds), "p95_ms": 1000 * float(np.percentile(seconds, 95))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline-root", default="outputs/pipeline")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of (a) and (b)")
    args = parser.parse_args()

    from tfx.utils import path_utils

    from components.evaluator import executor, latency
    from components.util.eval_split import load_eval_split
    from dataset import layout
    from pipeline import run_summary

    summary = run_summary.latest_run(args.pipeline_root)
    model_dir = path_utils.serving_model_dir(summary["model_uri"])
    split = load_eval_split(summary["examples_uri"])
    label_map = layout.read_label_map(summary["examples_uri"])
    print(f"model {model_dir}, {len(split.images)} eval images")

    evaluator, plain = [], []
    for round_ in range(args.rounds):
        metrics = executor.evaluate_model(model_dir, split, label_map, latency_batch=1)
        evaluator.append((metrics["latency"]["median_ms"], metrics["latency"]["p95_ms"]))
        figures = _figures(
            plain_loop(model_dir, [i.encoded for i in split.images], latency.WARMUP_CALLS, latency.LATENCY_CALLS)
        )
        plain.append((figures["median_ms"], figures["p95_ms"]))
        print(
            f"  round {round_ + 1}: evaluator median {evaluator[-1][0]:.1f} ms p95 {evaluator[-1][1]:.1f}; "
            f"plain loop median {plain[-1][0]:.1f} ms p95 {plain[-1][1]:.1f}",
            flush=True,
        )

    recorded = (summary.get("evaluation") or {}).get("latency")
    a = (statistics.median(m for m, _ in evaluator), statistics.median(p for _, p in evaluator))
    b = (statistics.median(m for m, _ in plain), statistics.median(p for _, p in plain))
    print()
    print("| measurement | median ms | p95 ms |")
    print("|---|---|---|")
    if recorded:
        print(
            f"| MaskEvaluator during the run (metrics.json) | {recorded['median_ms']:.1f} | {recorded['p95_ms']:.1f} |"
        )
    print(f"| evaluator's measurement, now (median of {args.rounds}) | {a[0]:.1f} | {a[1]:.1f} |")
    print(f"| plain SavedModel loop, now (median of {args.rounds}) | {b[0]:.1f} | {b[1]:.1f} |")
    print()
    print(f"evaluator vs plain loop: median {a[0] / b[0] - 1:+.1%}, p95 {a[1] / b[1] - 1:+.1%} (target within 10%)")
    print(json.dumps({"evaluator": a, "plain": b, "recorded": recorded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
