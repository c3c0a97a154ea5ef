"""The Trainer's export: Model Garden's own export module against export.DetectionModule (the model's
inference graph traced once for every signature, answering the serving contract), side by side, alternating, on
one config's random weights.

    scripts/container python benchmarks/export_benchmark.py [--config tiny] [--rounds 2]

Prints each export's wall seconds and the outputs of both signatures of the last one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    import cv2
    import numpy as np
    import tensorflow as tf
    from official.core import task_factory
    from official.vision.serving import export_saved_model_lib

    from components.trainer import experiment, export
    from components.util.serving_contract import SIGNATURES, ServingConfig
    from dataset.labelmap import LabelClass, LabelMap

    label_map = LabelMap(classes=(LabelClass(1, "a", 1), LabelClass(2, "b", 2)))
    params = experiment.build_experiment(args.config, ["a"], ["b"], label_map, 4)
    work = tempfile.mkdtemp()
    model = task_factory.get_task(params.task).build_model()
    checkpoint = tf.train.Checkpoint(model=model).save(os.path.join(work, "ckpt"))
    size = list(params.task.model.input_size[:2])
    exported = ""
    for round_ in range(args.rounds):
        for name in ("Model Garden's module", "traced once"):
            module = (
                None
                if name.startswith("Model")
                else export.DetectionModule(
                    ServingConfig(), params=params, batch_size=None, input_image_size=size, input_type="image_bytes"
                )
            )
            exported = os.path.join(work, f"{round_}-{len(name)}")
            started = time.monotonic()
            export_saved_model_lib.export_inference_graph(
                input_type="image_bytes",
                batch_size=None,
                input_image_size=size,
                params=params,
                checkpoint_path=checkpoint,
                export_dir=exported,
                function_keys=SIGNATURES,
                export_module=module,
            )
            print(f"{args.config}, round {round_ + 1}, {name}: {time.monotonic() - started:.1f} s", flush=True)
    served = tf.saved_model.load(exported)
    image = np.zeros((100, 120, 3), np.uint8)
    for signature, batch in (
        ("image_tensor", tf.constant(image[None])),
        ("serving_default", tf.constant([cv2.imencode(".jpg", image)[1].tobytes()])),
    ):
        outputs = served.signatures[signature](batch)
        print(signature, {key: tuple(value.shape) for key, value in sorted(outputs.items())})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
