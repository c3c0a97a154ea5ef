"""A training config as the GPUs run it: trains, exports and scores, and prints what the GPU figures of
benchmarks/RESULTS.md come from (images/s, step time, peak memory, the replicas, whether float16 and XLA were on).

    scripts/gpu-check [--config gpu-r50fpn] [--steps 300]      # a machine with GPUs, in the GPU image
    scripts/gpu-check --dry-run [--config NAME]                # here, on the CPU

On GPUs: the config as it is (all visible GPUs, its precision and XLA), at its full input size, on the
generated sample. `--dry-run`: the same code on the CPU, with two logical CPU devices as two replicas
(MirroredStrategy: per-replica batches, the gradient all-reduce, batch and learning rates scaled by the replica
count), the config's precision and loss scaling, its heads and init modules, at 128x128, 2 steps of one image
and 128 sampled RoIs per replica; XLA off (DRY_RUN_NO_XLA says why), oneDNN off (components/trainer/onednn.py says why).
One-device configs keep their strategy. Several `--config` names run one after another in one process (one
TensorFlow start-up). Both train from random weights unless --init-checkpoint is given (a path, or NAME=PATH
per config): the check measures speed, and a GPU node may not reach the config's checkpoint. `--json PATH`
writes the records, a list (the test of every config reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from components.trainer import onednn  # noqa: E402 - after the path; imports no TensorFlow

DRY_RUN_REPLICAS = 2
DRY_RUN_INPUT = 128  # divisible by 2**7: the largest max_level of the configs
DRY_RUN_STEPS = 2  # the first traces; the second is a step
DRY_RUN_BATCH_PER_REPLICA = 1
DRY_RUN_SAMPLED_ROIS = 128  # of 512 (and no fewer than the 128 masks of the stock heads): a number, not the graph
DRY_RUN_NO_XLA = (
    "XLA off in the dry run: Model Garden compiles the replica's train step with jit_compile "
    "(official/core/base_trainer.py, train_step), and MirroredStrategy all-reduces inside a compiled function "
    "only when every device is a GPU (tensorflow/python/distribute/mirrored_strategy.py, _use_merge_call, "
    "TF 2.21); on "
    "logical CPU devices the batch norm's and the optimizer's merge_call fails"
)


def _logical_cpus(count: int) -> list[str]:
    """Splits the CPU into `count` logical devices; must run before TensorFlow initialises its devices."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def mirrored(config: str) -> bool:
    from components.trainer.experiment import load_config

    return (load_config(config).get("runtime") or {}).get("distribution_strategy") == "mirrored"


def _config_file(work: str, config: str, dry_run: bool) -> str:
    """The config, and in a dry run its input size and (for a mirrored config) its replica count changed: a
    file on top of it (`base:`)."""
    import yaml

    if not dry_run:
        return config
    changes = {
        "base": config,
        "task": {"model": {"input_size": [DRY_RUN_INPUT, DRY_RUN_INPUT, 3]}},
        "trainer": {"steps_per_loop": 1},
    }
    if mirrored(config):
        changes["runtime"] = {"num_gpus": DRY_RUN_REPLICAS, "enable_xla": False}
        changes["task"]["train_data"] = {"global_batch_size": DRY_RUN_BATCH_PER_REPLICA}
        changes["task"]["model"]["roi_sampler"] = {"num_sampled_rois": DRY_RUN_SAMPLED_ROIS}
    path = os.path.join(work, f"{config}-dry-run.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(changes, f)
    return path


def _outputs(serving_dir: str) -> tuple[dict[str, str], int]:
    """The served signature's output types, and the REST JSON size of its answer for a 512x384 photo."""
    import json

    import cv2
    import numpy as np
    import tensorflow as tf

    from components.serving_check.server import answer
    from components.util.serving_contract import SERVING_DEFAULT

    signature = tf.saved_model.load(serving_dir).signatures[SERVING_DEFAULT]
    photo = np.random.default_rng(0).integers(0, 255, (384, 512, 3), dtype=np.uint8)
    outputs = signature(tf.constant([cv2.imencode(".jpg", photo)[1].tobytes()]))
    size = len(json.dumps(answer({k: v.numpy() for k, v in outputs.items()}, row_format=True)))
    return {name: spec.dtype.name for name, spec in sorted(signature.structured_outputs.items())}, size


def check(
    config: str, examples: str, work: str, steps: int, dry_run: bool, init_checkpoint: str | None, strategy=None
) -> dict:
    import tensorflow as tf

    from benchmarks.accuracy_benchmark import params_for
    from components.evaluator.executor import evaluate_model
    from components.trainer import export, training
    from components.trainer.init_checkpoint import NO_CHECKPOINT
    from components.util.eval_split import load_eval_split
    from components.util.serving_contract import ServingConfig
    from dataset import layout

    params = params_for(
        examples, _config_file(work, config, dry_run), steps, init_checkpoint=init_checkpoint or NO_CHECKPOINT
    )
    model_dir, serving = os.path.join(work, "model"), os.path.join(work, "serving")
    record = training.train(params, model_dir, strategy=strategy if mirrored(config) else None)
    label_map = layout.read_label_map(examples)
    export.export(params, model_dir, serving, label_map, ServingConfig(), export.eval_images(examples, 1))
    metrics = evaluate_model(serving, load_eval_split(examples), label_map)
    gpus = tf.config.list_physical_devices("GPU")
    peak = (
        tf.config.experimental.get_memory_info("GPU:0")["peak"]
        if gpus
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "config": config,
        "dry_run": dry_run,
        "model_dir": model_dir,
        "input_size": list(params.task.model.input_size),
        "mixed_precision_dtype": params.runtime.mixed_precision_dtype,
        "training": record,
        "learning_rate": params.trainer.optimizer_config.learning_rate.as_dict(),
        "init_checkpoint": params.task.init_checkpoint,
        "init_modules": params.task.init_checkpoint_modules,
        "peak_memory_gb": round(peak / 1e9, 2),
        "memory_of": "GPU:0" if gpus else "process RSS",
        **dict(zip(("outputs", "answer_bytes"), _outputs(serving), strict=True)),
        "metrics": metrics,
    }


def _print(result: dict) -> None:
    t = result["training"]
    print(
        f"{result['config']}{' (dry run on the CPU)' if result['dry_run'] else ''}: "
        f"{t['replicas']} replicas ({t['strategy']}, {t['device_count']} x {t['device_kind']} {t['device_name']}), "
        f"input {result['input_size'][0]}x{result['input_size'][1]}, global batch {t['global_batch_size']}"
    )
    print(
        f"  precision {t['precision']} (compute {t['compute_dtype']}, loss scale {t['loss_scale']}"
        f"{' dynamic' if t['dynamic_loss_scale'] else ''}), XLA {'on' if t['xla'] else 'off'}"
    )
    print(
        f"  {t['steps']} steps in {t['wall_time_s']:.1f} s (first loop {t['first_loop_s']} s): median step "
        f"{t['median_step_s']} s, {t['images_per_s']} images/s, peak memory {result['peak_memory_gb']} GB "
        f"({result['memory_of']})"
    )
    if result["dry_run"]:
        print(f"  {DRY_RUN_NO_XLA}")
        print(f"  oneDNN off in the dry run ({onednn.VARIABLE}=0): {onednn.REASON}")
    print(f"  init: {t['init'] or 'random weights'}")
    print(
        f"  exported outputs: {', '.join(f'{k} {v}' for k, v in result['outputs'].items())}; REST answer for a "
        f"512x384 photo: {result['answer_bytes']} bytes"
    )
    box, mask = result["metrics"]["box"], result["metrics"]["mask"]
    print(f"  scored: box AP {box['AP']:.3f}, mask AP {mask['AP']:.3f} (a check of the path, not of accuracy)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", nargs="+", default=["gpu-r50fpn"], help="one or more configs, run in turn")
    parser.add_argument("--steps", type=int, help=f"default: 300, or {DRY_RUN_STEPS} in a dry run")
    parser.add_argument("--dry-run", action="store_true", help="on the CPU: two logical devices, 128x128")
    parser.add_argument("--examples", help="an ingested folder (default: the sample, generated and ingested)")
    parser.add_argument(
        "--init-checkpoint",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="start from this checkpoint (NAME=PATH: for that config only; default: random weights)",
    )
    parser.add_argument("--work", help="where the model goes (default: a new temporary folder)")
    parser.add_argument("--json", help="also write the record here")
    args = parser.parse_args(argv)

    if args.dry_run:
        os.environ.setdefault(onednn.VARIABLE, "0")  # read when TensorFlow loads: before _logical_cpus
    devices = _logical_cpus(DRY_RUN_REPLICAS) if args.dry_run else None
    from benchmarks.accuracy_benchmark import ingested_sample

    work = args.work or tempfile.mkdtemp(prefix="gpu-check-")
    examples = args.examples or (ingested_sample(work, 8, 4, (320, 240)) if args.dry_run else ingested_sample(work))
    # One MirroredStrategy for every config of the process: a second one's collective ops would reuse the
    # first's instance keys ("Shape mismatch in the collective instance").
    strategy = _mirrored_strategy(devices) if devices else None
    results = []
    for config in args.config:
        config_work = os.path.join(work, config) if len(args.config) > 1 else work
        os.makedirs(config_work, exist_ok=True)
        results.append(
            check(
                config,
                examples,
                config_work,
                args.steps or (DRY_RUN_STEPS if args.dry_run else 300),
                args.dry_run,
                _init_checkpoint(args.init_checkpoint, config),
                strategy,
            )
        )
        _print(results[-1])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def _mirrored_strategy(devices: list[str]):
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices)


def _init_checkpoint(given: list[str], config: str) -> str | None:
    """The checkpoint `--init-checkpoint` gives `config`: its NAME=PATH, else a plain PATH, else none."""
    own = [value.partition("=")[2] for value in given if value.partition("=")[0] == config and "=" in value]
    return (own or [value for value in given if "=" not in value] or [None])[0]


if __name__ == "__main__":
    sys.exit(main())
