"""Model Garden's stock Mask R-CNN heads against lean ones, side by side in one run.

    scripts/container python benchmarks/heads_benchmark.py [--config gpu-r50fpn] [--rounds 2] [--timed-steps 8]
                                                           [--ap-steps 0] [--ap-runs 2] [--ap-variants NAME ...]

Step time and memory: every variant trains on the CPU in its own process (for its peak memory), batch 2,
float32, from random weights, one step per loop: the first step (tracing) is left out and the median of the
others is the step time. Rounds alternate the variants so that all see the same machine.
`gpu-r50fpn` (at 384x512): its lean heads (box head 2 FC of 1024 and no convolutions, as Detectron2 and
torchvision; 12 sampled masks per image), the same with 32 masks, and Model Garden's stock heads (the config
`gpu-r50fpn-stock-heads`: box head 4 convolutions of 256 + 1 FC of 1024 over 512 sampled RoIs per image, mask
head trained on 128 RoIs per image); the lean ones also with XLA (TensorFlow's auto-clustering: Model Garden's
`enable_xla` applies to GPUs only).
`cpu-demo` (at its 192x256): its own small heads against smaller and larger RoI and mask samples and Model
Garden's default heads.
Accuracy (`--ap-steps N`; hours on a CPU for gpu-r50fpn, minutes for cpu-demo at 800): the scored variants
(or `--ap-variants`) each trained N steps `--ap-runs` times on the sample (the runs show the run-to-run noise),
scored on its eval split at every quarter of N. `--rounds 0 --ap-variants stock --ap-runs 1` runs one training,
so that the hours of the R50 comparison can be spread over several sittings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.accuracy_benchmark import ingested_sample, params_for  # noqa: E402

# Model Garden compiles the train step with XLA only when runtime.num_gpus > 0 (core/base_trainer.py), so
# `enable_xla` changes nothing on the CPU; TensorFlow's auto-clustering compiles what it can there instead.
XLA_ON_CPU = {"TF_XLA_FLAGS": "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"}


def sampled_masks(count: int) -> dict:
    return {"task": {"model": {"mask_sampler": {"num_sampled_masks": count}}}}


def samplers(rois: int, masks: int) -> dict:
    return {
        "task": {"model": {"roi_sampler": {"num_sampled_rois": rois}, "mask_sampler": {"num_sampled_masks": masks}}}
    }


# Model Garden's own defaults (configs/maskrcnn.py): heads, samplers and the proposals they sample from.
STOCK_HEADS = {
    "task": {
        "model": {
            "detection_head": {
                "num_convs": 4,
                "num_filters": 256,
                "use_separable_conv": False,
                "num_fcs": 1,
                "fc_dims": 1024,
            },
            "mask_head": {"num_convs": 4, "num_filters": 256, "use_separable_conv": False},
            "roi_generator": {
                "pre_nms_top_k": 2000,
                "num_proposals": 1000,
                "test_pre_nms_top_k": 1000,
                "test_num_proposals": 1000,
            },
            "roi_sampler": {"num_sampled_rois": 512},
            "mask_sampler": {"num_sampled_masks": 128},
        }
    }
}
SMALLER_HEADS = {"task": {"model": {"detection_head": {"fc_dims": 32}, "mask_head": {"num_filters": 16}}}}


@dataclasses.dataclass(frozen=True)
class Variant:
    description: str
    overrides: dict
    environment: dict = dataclasses.field(default_factory=dict)
    config: str = ""  # the config it trains, when not the setup's


@dataclasses.dataclass(frozen=True)
class Setup:
    """A config's comparison: CPU overrides and its variants by name, the first the reference, and which are scored."""

    cpu: dict
    shape: str
    variants: dict[str, Variant]
    scored: tuple[str, ...]
    schedule_of: str = ""  # the config whose optimizer and learning rate the runs take instead of their own


SETUPS = {
    "gpu-r50fpn": Setup(
        cpu={
            "runtime": {
                "distribution_strategy": "one_device",
                "num_gpus": 0,
                "mixed_precision_dtype": "float32",
                "enable_xla": False,
            },
            "task": {
                "model": {"input_size": [384, 512, 3]},
                "init_checkpoint": "",
                "train_data": {"global_batch_size": 2, "dtype": "float32"},
                "validation_data": {"global_batch_size": 2, "dtype": "float32"},
            },
        },
        shape="384x512",
        variants={
            "stock": Variant(
                "stock heads (box 4 conv + 1 FC, 128 masks per image)", {}, config="gpu-r50fpn-stock-heads"
            ),
            "lean-32": Variant("lean: box 2 FC x 1024, 32 masks per image", sampled_masks(32)),
            "lean-12": Variant("lean: box 2 FC x 1024, 12 masks per image (gpu-r50fpn)", {}),
            "lean-32-xla": Variant("lean, 32 masks, XLA auto-clustering", sampled_masks(32), XLA_ON_CPU),
        },
        scored=("stock", "lean-32", "lean-12"),
        schedule_of="cpu-demo",
    ),  # gpu-r50fpn's is for 20,000 steps, 500 of them warm-up
    "cpu-demo": Setup(
        cpu={},
        shape="192x256",
        variants={
            "cpu-demo": Variant("cpu-demo (box 1 FC of 64, 32 RoIs, 8 masks)", {}),
            "smaller-samples": Variant("smaller samples (16 RoIs, 4 masks)", samplers(16, 4)),
            "smaller-heads": Variant("smaller heads (box 1 FC of 32, mask head 16 filters)", SMALLER_HEADS),
            "larger-samples": Variant("larger samples (64 RoIs, 16 masks)", samplers(64, 16)),
            "stock": Variant("Model Garden's default heads and samples", STOCK_HEADS),
        },
        scored=("cpu-demo", "smaller-samples", "smaller-heads", "larger-samples"),
    ),
}


def train(config: str, examples: str, model_dir: str, variant: str, steps: int, score: bool) -> dict:
    """One variant's training in this process; its training record (with the final accuracy when `score`)."""
    from components.trainer import experiment, training
    from components.util.eval_split import load_eval_split
    from dataset import layout

    setup = SETUPS[config]
    overrides = [json.dumps(setup.cpu), json.dumps(setup.variants[variant].overrides)]
    if setup.schedule_of:
        schedule = experiment.load_config(setup.schedule_of)["trainer"]["optimizer_config"]
        overrides.append(json.dumps({"trainer": {"optimizer_config": schedule}}))
    if not score:
        overrides.append(json.dumps({"trainer": {"steps_per_loop": 1, "summary_interval": 1}}))
    params = params_for(examples, setup.variants[variant].config or config, steps, params_override=overrides)
    evaluation = (
        training.Evaluation(load_eval_split(examples), layout.read_label_map(examples), max(1, steps // 4))
        if score
        else None
    )
    return training.train(params, model_dir, evaluation)


def _child(config: str, examples: str, work: str, variant: str, steps: int, score: bool) -> tuple[dict, float]:
    """A variant trained in a child process: its record and the child's peak RSS in GB."""
    model_dir = tempfile.mkdtemp(dir=work)
    command = [sys.executable, __file__, "--child", config, examples, model_dir, variant, str(steps)] + (
        ["--score"] if score else []
    )
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=REPO, **SETUPS[config].variants[variant].environment),
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{variant}: training failed ({status})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(SETUPS), default="gpu-r50fpn")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds (0: none)")
    parser.add_argument("--timed-steps", type=int, default=8)
    parser.add_argument("--ap-steps", type=int, default=0, help="steps of each accuracy run (0: none)")
    parser.add_argument("--ap-runs", type=int, default=2)
    parser.add_argument("--ap-variants", nargs="+", metavar="NAME", help="default: the config's scored variants")
    parser.add_argument(
        "--child", nargs=5, metavar=("CONFIG", "EXAMPLES", "MODEL_DIR", "VARIANT", "STEPS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, examples, model_dir, variant, steps = args.child
        print(json.dumps(train(config, examples, model_dir, variant, int(steps), args.score)))
        return 0

    setup = SETUPS[args.config]
    scored = args.ap_variants or setup.scored
    unknown = sorted(set(scored) - set(setup.variants))
    if unknown:
        parser.error(f"{args.config} has no variant {', '.join(unknown)}; its variants: {', '.join(setup.variants)}")
    work = tempfile.mkdtemp(prefix="heads-bench-")
    examples = ingested_sample(work)
    if args.rounds:
        timing(args, setup, examples, work)
    if args.ap_steps:
        print(
            f"\naccuracy on the sample's eval split after {args.ap_steps} steps (and at each quarter), "
            f"each variant trained {args.ap_runs} times\n"
        )
        print("| heads | run | mask AP50 | mask AP | box AP50 | box AP | mask AP50 / mask AP by step | s/step |")
        print("|---|---|---|---|---|---|---|---|")
        for run in range(1, args.ap_runs + 1):
            for variant in scored:
                record, _ = _child(args.config, examples, work, variant, args.ap_steps, score=True)
                points = record["accuracy_over_time"]
                curve = ", ".join(f"{p['step']}: {p['mask_AP50']:.3f} / {p['mask_AP']:.3f}" for p in points)
                print(
                    f"| {setup.variants[variant].description} | {run} | {points[-1]['mask_AP50']:.3f} | "
                    f"{points[-1]['mask_AP']:.3f} | {points[-1]['box_AP50']:.3f} | {points[-1]['box_AP']:.3f} | "
                    f"{curve} | "
                    f"{record['median_step_s']:.3f} |",
                    flush=True,
                )
    return 0


def timing(args: argparse.Namespace, setup: Setup, examples: str, work: str) -> None:
    steps: dict = {v: [] for v in setup.variants}
    memory: dict = {v: [] for v in setup.variants}
    for round_ in range(args.rounds):
        for variant in setup.variants:
            record, rss = _child(args.config, examples, work, variant, 1 + args.timed_steps, score=False)
            steps[variant].append(record["median_step_s"])
            memory[variant].append(rss)
            print(f"round {round_ + 1}: {variant}: {record['median_step_s']:.3f} s/step, peak {rss:.2f} GB", flush=True)

    print(
        f"\n{args.config} on the CPU ({os.cpu_count()} cores), {setup.shape}, batch 2, float32, random weights, "
        f"median of {args.timed_steps} steps after tracing, {args.rounds} alternating rounds\n"
    )
    print("| heads | s/step (per round) | images/s | peak RSS GB |")
    print("|---|---|---|---|")
    for variant in setup.variants:
        median = statistics.median(steps[variant])
        print(
            f"| {setup.variants[variant].description} | {median:.3f} "
            f"({', '.join(f'{s:.3f}' for s in steps[variant])}) | {2 / median:.2f} | {max(memory[variant]):.2f} |"
        )
    first = next(iter(setup.variants))
    for variant in list(setup.variants)[1:]:
        ratio = statistics.median(steps[variant]) / statistics.median(steps[first])
        print(f"{variant}: {ratio:.2f}x the step time of {first}")


if __name__ == "__main__":
    sys.exit(main())
