"""Serving, side by side in one run, each model behind the same model server (components/serving_check/server.py)
in a fresh process:

1. the answer: Model Garden's stock export (padded 28x28 float masks, max_num_detections each) against the
   contract's (serving_contract.py: detections above min_score, PNG masks): REST JSON bytes and client seconds
   (request, answer, decoding) per photo;
2. warm-up: the contract's model with and without its warm-up file: seconds until ready, the first request and
   the steady one.

    scripts/container python benchmarks/serving_benchmark.py [--config cpu-demo] [--checkpoint MODEL_RUN_DIR]

Without --checkpoint the config's random weights are exported (a trained model answers fewer detections above
min_score). Photos: the sample's eval split at 512x384.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _served(model_dir: str, images: list[bytes], decode, work: str, requests: int) -> dict:
    from components.serving_check import client
    from components.serving_check.executor import model_server
    from components.util import serving_contract as contract

    started = time.monotonic()
    with model_server(model_dir, os.path.join(work, "server.log"), os.path.join(work, "timings")) as (url, process):
        ready = client.wait_ready(url, 600, alive=lambda: process.poll() is None)
        seconds, sizes = [], []
        for i in range(requests):
            sent = time.perf_counter()
            body, size = client.post(url, contract.rest_body([images[i % len(images)]]))
            decode(body)
            seconds.append(time.perf_counter() - sent)
            sizes.append(size)
    return {
        "ready_s": round(ready, 1),
        "first_ms": round(1000 * seconds[0]),
        "steady_ms": round(1000 * statistics.median(seconds[1:])),
        "bytes_per_photo": round(statistics.median(sizes)),
        "wall_s": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="cpu-demo")
    parser.add_argument("--checkpoint", help="a Trainer's model_run folder (its latest checkpoint)")
    parser.add_argument("--requests", type=int, default=12)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from official.core import task_factory
    from official.vision.serving import export_saved_model_lib

    from benchmarks.accuracy_benchmark import ingested_sample, params_for
    from components.trainer import export
    from components.util import serving_contract as contract
    from components.util.eval_split import load_eval_split
    from dataset import layout

    work = tempfile.mkdtemp(prefix="serving-bench-")
    examples = ingested_sample(work, num_train=4, num_test=6)
    params = params_for(examples, args.config, 1)
    checkpoints = args.checkpoint
    if not checkpoints:
        checkpoints = os.path.join(work, "random")
        tf.train.Checkpoint(model=task_factory.get_task(params.task).build_model()).save(
            os.path.join(checkpoints, "ckpt")
        )
    images = [image.encoded for image in load_eval_split(examples).images]
    stock, compact = os.path.join(work, "stock"), os.path.join(work, "compact")
    size = list(params.task.model.input_size[:2])
    export_saved_model_lib.export_inference_graph(
        input_type="image_bytes",
        batch_size=None,
        input_image_size=size,
        params=params,
        checkpoint_path=tf.train.latest_checkpoint(checkpoints),
        export_dir=stock,
        function_keys={"image_bytes": contract.SERVING_DEFAULT},
    )
    export.export(
        params,
        checkpoints,
        compact,
        layout.read_label_map(examples),
        contract.ServingConfig(),
        export.eval_images(examples, export.WARMUP_IMAGES),
    )
    cold = os.path.join(work, "compact-without-warmup")
    shutil.copytree(compact, cold, ignore=shutil.ignore_patterns("assets.extra"))

    def stock_decode(body):
        return [np.array(row["detection_masks"], np.float32) for row in body["predictions"]]

    def compact_decode(body):
        return contract.answers(contract.from_rest(body))

    rows = {}
    for name, model_dir, decode in (
        ("stock export", stock, stock_decode),
        ("contract, with warm-up", compact, compact_decode),
        ("contract, without warm-up", cold, compact_decode),
    ):
        rows[name] = _served(model_dir, images, decode, tempfile.mkdtemp(dir=work), args.requests)
        print(f"{name}: {json.dumps(rows[name])}", flush=True)
    print(
        f"\n{args.config}, {'checkpoint ' + args.checkpoint if args.checkpoint else 'random weights'}, "
        f"{len(images)} photos of 512x384, {args.requests} requests each:"
    )
    print("| model | REST bytes per photo | client ms per photo (steady) | ready s | first request ms |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['bytes_per_photo']} | {row['steady_ms']} | {row['ready_s']} | {row['first_ms']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
