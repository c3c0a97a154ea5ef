"""How many images a second the Trainer's own input pipeline delivers per CPU core: what a GPU pod must request.

    scripts/container python benchmarks/input_benchmark.py [--configs gpu-r50fpn ...] [--sizes 640x480 ...]
                                                           [--cores 1 2] [--seconds 20]

For each photo size, the sample is generated at that size and ingested into the project's TFRecords; for each
config, Model Garden's own training input (its decoder with masks, its parser: flips, scale jitter, resize and
padding to the config's input size, anchors and per-instance mask crops; batched as the config batches) is read
in a process pinned to 1, then 2, cores (sched_setaffinity before TensorFlow starts, so its thread pools are
that size). After a warm-up of a few batches, images/s over `--seconds`. The last lines: the cores a pod needs
per GPU to feed the NVIDIA reference rate (REFERENCE_IMAGES_PER_S) at the slowest size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# NVIDIA's TF2 Mask R-CNN (DeepLearningExamples, TensorFlow2/Segmentation/MaskRCNN, README "Training performance
# results"): 28.6 images/s on one A100 40GB with AMP, batch 4, 1024x1024.
REFERENCE_IMAGES_PER_S = 28.6
CONFIGS = ("gpu-r50fpn", "finetune-r50fpn", "finetune-retinanet-r50fpn", "finetune-mobilenet")
SIZES = ("640x480", "1280x720", "1920x1080")
WARMUP_BATCHES = 3


def _child(config: str, examples: str, seconds: float) -> dict:
    from official.core import task_factory

    from benchmarks.accuracy_benchmark import params_for

    params = params_for(examples, config, 1)
    data = params.task.train_data
    dataset = task_factory.get_task(params.task).build_inputs(data)
    batches = iter(dataset)
    for _ in range(WARMUP_BATCHES):
        next(batches)
    images, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        next(batches)
        images += data.global_batch_size
    return {
        "images_per_s": images / (time.perf_counter() - started),
        "batch": data.global_batch_size,
        "input_size": list(params.task.model.input_size),
    }


def measure(config: str, examples: str, cores: int, seconds: float) -> dict:
    """One reading in its own process on `cores` cores."""
    code = (
        f"import os, sys, json; os.sched_setaffinity(0, set(range({cores}))); sys.path.insert(0, {REPO!r}); "
        f"from benchmarks.input_benchmark import _child; "
        f"print('RESULT ' + json.dumps(_child({config!r}, {examples!r}, {seconds})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    line = next((out for out in done.stdout.splitlines() if out.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{config} on {cores} cores failed:\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def cores_per_gpu(images_per_s_per_core: float) -> int:
    """Cores that feed the reference rate, and one for the training loop's own host work."""
    return math.ceil(REFERENCE_IMAGES_PER_S / images_per_s_per_core) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--cores", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--photos", type=int, default=24, help="photos per size (read again and again)")
    args = parser.parse_args()

    from benchmarks.accuracy_benchmark import ingested_sample

    work = tempfile.mkdtemp(prefix="input-bench-")
    print(f"{os.cpu_count()} cores here; {args.seconds:g} s a reading after {WARMUP_BATCHES} batches")
    print("| config | input | photos | cores | images/s | per core |")
    print("|---|---|---|---|---|---|")
    slowest: dict[str, float] = {}
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        examples = ingested_sample(os.path.join(work, size), args.photos, 2, (width, height))
        for config in args.configs:
            for cores in args.cores:
                result = measure(config, examples, cores, args.seconds)
                rate = result["images_per_s"]
                print(
                    f"| {config} | {result['input_size'][0]}x{result['input_size'][1]} | {size} | {cores} | "
                    f"{rate:.1f} | {rate / cores:.1f} |",
                    flush=True,
                )
                if cores == min(args.cores):
                    slowest[config] = min(slowest.get(config, math.inf), rate / cores)
    print(
        f"\nCores per GPU to feed {REFERENCE_IMAGES_PER_S} images/s (NVIDIA's A100 AMP rate) at the slowest "
        f"photo size, plus one for the training loop:"
    )
    for config, rate in slowest.items():
        print(f"  {config}: {rate:.1f} images/s per core -> {cores_per_gpu(rate)} cores per GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
