"""Model Garden's stock Mask R-CNN heads against lean ones in the ResNet-50 FPN config, side by side in one run.

    scripts/container python benchmarks/heads_benchmark.py [--rounds 2] [--timed-steps 8] [--ap-steps 0]

Step time and memory: every variant of `gpu-r50fpn` trains on the CPU in its own process (for its peak
memory) at 384x512, batch 2, float32, from random weights, one step per loop: the first step (tracing) is
left out and the median of the others is the step time. Rounds alternate the variants so that all see the
same machine. Variants: the stock heads (box head 4 convolutions of 256 + 1 FC of 1024 over 512 sampled RoIs
per image, mask head trained on 128 RoIs per image), and lean heads (box head 2 FC of 1024 and no
convolutions, as Detectron2 and torchvision; fewer sampled masks), the lean ones also with XLA
(TensorFlow's auto-clustering: Model Garden's `enable_xla` applies to GPUs only).
Accuracy (`--ap-steps N`, hours on a CPU): stock and lean each trained N steps twice on the sample (the two
runs show the run-to-run noise), then scored on its eval split.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.accuracy_benchmark import ingested_sample, params_for  # noqa: E402

CONFIG = "gpu-r50fpn"
CPU = {"runtime": {"distribution_strategy": "one_device", "num_gpus": 0, "mixed_precision_dtype": "float32",
                   "enable_xla": False},
       "task": {"model": {"input_size": [384, 512, 3]}, "init_checkpoint": "",
                "train_data": {"global_batch_size": 2, "dtype": "float32"},
                "validation_data": {"global_batch_size": 2, "dtype": "float32"}}}
STOCK: dict = {}


# Model Garden compiles the train step with XLA only when runtime.num_gpus > 0 (core/base_trainer.py), so
# `enable_xla` changes nothing on the CPU; TensorFlow's auto-clustering compiles what it can there instead.
XLA_ON_CPU = {"TF_XLA_FLAGS": "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"}


def lean(masks: int) -> dict:
    return {"task": {"model": {"detection_head": {"num_convs": 0, "num_fcs": 2, "fc_dims": 1024},
                               "mask_sampler": {"num_sampled_masks": masks}}}}


VARIANTS = {  # name: (overrides of gpu-r50fpn, environment)
    "stock heads": (STOCK, {}),
    "lean, 32 masks per image": (lean(32), {}),
    "lean, 12 masks per image": (lean(12), {}),
    "lean, 32 masks per image, XLA auto-clustering": (lean(32), XLA_ON_CPU),
}
ACCURACY_VARIANTS = ("stock heads", "lean, 32 masks per image")


def train(examples: str, model_dir: str, variant: str, steps: int, score: bool) -> dict:
    """One variant's training in this process; its training record (with the final accuracy when `score`)."""
    from components.evaluator.eval_split import load_eval_split
    from components.trainer import training
    from dataset import layout

    overrides = [json.dumps(CPU), json.dumps(VARIANTS[variant][0])]
    if not score:
        overrides.append(json.dumps({"trainer": {"steps_per_loop": 1, "summary_interval": 1}}))
    params = params_for(examples, CONFIG, steps, params_override=overrides)
    evaluation = training.Evaluation(load_eval_split(examples), layout.read_label_map(examples), steps) \
        if score else None
    return training.train(params, model_dir, evaluation)


def _child(examples: str, work: str, variant: str, steps: int, score: bool) -> tuple[dict, float]:
    """A variant trained in a child process: its record and the child's peak RSS in GB."""
    model_dir = tempfile.mkdtemp(dir=work)
    command = [sys.executable, __file__, "--child", examples, model_dir, variant, str(steps)] + \
        (["--score"] if score else [])
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, PYTHONPATH=REPO, **VARIANTS[variant][1]), text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{variant}: training failed ({status})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timed-steps", type=int, default=8)
    parser.add_argument("--ap-steps", type=int, default=0)
    parser.add_argument("--child", nargs=4, metavar=("EXAMPLES", "MODEL_DIR", "VARIANT", "STEPS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        examples, model_dir, variant, steps = args.child
        print(json.dumps(train(examples, model_dir, variant, int(steps), args.score)))
        return 0

    work = tempfile.mkdtemp(prefix="heads-bench-")
    examples = ingested_sample(work)
    steps: dict = {v: [] for v in VARIANTS}
    memory: dict = {v: [] for v in VARIANTS}
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            record, rss = _child(examples, work, variant, 1 + args.timed_steps, score=False)
            steps[variant].append(record["median_step_s"])
            memory[variant].append(rss)
            print(f"round {round_ + 1}: {variant}: {record['median_step_s']:.2f} s/step, peak {rss:.2f} GB",
                  flush=True)

    print(f"\n{CONFIG} on the CPU ({os.cpu_count()} cores), 384x512, batch 2, float32, random weights, "
          f"median of {args.timed_steps} steps after tracing, {args.rounds} alternating rounds\n")
    print("| heads | s/step (per round) | images/s | peak RSS GB |")
    print("|---|---|---|---|")
    for variant in VARIANTS:
        median = statistics.median(steps[variant])
        print(f"| {variant} | {median:.2f} ({', '.join(f'{s:.2f}' for s in steps[variant])}) | "
              f"{2 / median:.2f} | {max(memory[variant]):.2f} |")
    stock = statistics.median(steps["stock heads"])
    for variant in list(VARIANTS)[1:]:
        print(f"stock / {variant}: {stock / statistics.median(steps[variant]):.2f}x the step time")

    if args.ap_steps:
        print(f"\naccuracy after {args.ap_steps} steps on the sample, each trained twice\n")
        print("| heads | run | mask AP50 | mask AP | box AP50 |")
        print("|---|---|---|---|---|")
        for run in (1, 2):
            for variant in ACCURACY_VARIANTS:
                record, _ = _child(examples, work, variant, args.ap_steps, score=True)
                point = record["accuracy_over_time"][-1]
                print(f"| {variant} | {run} | {point['mask_AP50']:.3f} | {point['mask_AP']:.3f} | "
                      f"{point['box_AP50']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
