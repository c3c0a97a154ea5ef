"""The SavedModel the Trainer exports: Model Garden's detection export, answering the serving contract
(components/util/serving_contract.py), with its label map, its serving settings and TF Serving's warm-up file."""

from __future__ import annotations

import os
import time

import tensorflow as tf
from official.core import config_definitions as cfg
from official.modeling import performance
from official.vision.serving import detection, export_saved_model_lib

from components.util import serving_contract as contract
from dataset import layout
from dataset.labelmap import LabelMap

INPUT_NAME = "inputs"  # Model Garden's signatures take one input of this name (export_base.py)
WARMUP_IMAGES = 1  # eval images in the warm-up file, each sent once to every signature


def compact(outputs: dict[str, tf.Tensor], config: contract.ServingConfig) -> dict[str, tf.Tensor]:
    """Model Garden's padded outputs -> the contract's: detections above min_score, at most max_detections,
    boxes in the photo's pixels, masks as PNGs. Model Garden's detections come best first."""
    scores = outputs["detection_scores"]
    real = tf.sequence_mask(tf.cast(outputs["num_detections"], tf.int32), tf.shape(scores)[1]) & (
        scores >= config.min_score
    )
    kept = tf.math.cumprod(tf.cast(real, tf.int32), axis=1)  # the best-first run above min_score
    counts = tf.minimum(tf.reduce_sum(kept, axis=1), config.max_detections)
    n = tf.reduce_max(tf.concat([counts, [0]], axis=0))
    info = outputs["image_info"]  # rows: original [h, w], resized [h, w], [y, x] scale, offset
    boxes = outputs["detection_boxes"][:, :n] / tf.tile(info[:, 2:3, :], [1, 1, 2])
    boxes = tf.clip_by_value(boxes, 0.0, tf.tile(info[:, 0:1, :], [1, 1, 2]))  # not into the input's padding
    masks = outputs["detection_masks"][:, :n]
    steps = contract.MASK_LEVELS - 1  # 255 / steps is a whole number: a level decodes to exactly level / steps
    grey = tf.cast(tf.round(tf.clip_by_value(masks, 0.0, 1.0) * steps) * (255 // steps), tf.uint8)
    pngs = tf.map_fn(
        lambda mask: tf.io.encode_png(mask, compression=9),
        tf.reshape(grey, tf.concat([[-1], tf.shape(masks)[2:4], [1]], axis=0)),
        fn_output_signature=tf.string,
    )
    return {
        contract.BOXES: boxes,
        contract.CLASSES: tf.cast(outputs["detection_classes"][:, :n], tf.int32),
        contract.SCORES: scores[:, :n],
        contract.MASKS: tf.reshape(pngs, tf.shape(masks)[:2]),
        contract.COUNT: counts,
    }


class DetectionModule(detection.DetectionModule):
    """Model Garden's export module answering the contract, with the model's inference graph traced once for
    every signature: each signature's tf.function calls `serve`, a plain method, so Mask R-CNN was traced once
    per signature (seconds each on a CPU, more for larger backbones)."""

    def __init__(self, serving: contract.ServingConfig, **kwargs):
        super().__init__(**kwargs)
        self._serving = serving

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def _serve(self, images: tf.Tensor):
        return compact(super().serve(images), self._serving)

    def serve(self, images: tf.Tensor):
        return self._serve(images)


def eval_images(examples_uri: str, count: int) -> list[bytes]:
    """The first `count` encoded photos of the eval split."""
    from dataset import records

    dataset = tf.data.TFRecordDataset(
        tf.io.gfile.glob(layout.record_pattern(examples_uri, layout.EVAL)), compression_type="GZIP"
    )
    images = []
    for serialized in dataset.take(count):
        example = tf.train.Example.FromString(serialized.numpy())
        images.append(example.features.feature[records.IMAGE_ENCODED].bytes_list.value[0])
    return images


def warmup_requests(images: list[bytes]) -> list:
    """TF Serving's warm-up records (PredictionLog): each image once to every signature."""
    import cv2
    import numpy as np
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    from dataset import records

    def log(signature: str, value) -> prediction_log_pb2.PredictionLog:
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature
        request.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(value))
        return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))

    logs = []
    for data in images:
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        example = tf.train.Example(
            features=tf.train.Features(
                feature={records.IMAGE_ENCODED: tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))}
            )
        )
        logs += [
            log(contract.SERVING_DEFAULT, [data]),
            log(contract.IMAGE_TENSOR, rgb[None]),
            log(contract.TF_EXAMPLE, [example.SerializeToString()]),
        ]
    return logs[: contract.MAX_WARMUP_RECORDS]


def export(
    params: cfg.ExperimentConfig,
    model_dir: str,
    serving_model_dir: str,
    label_map: LabelMap,
    serving: contract.ServingConfig,
    warmup_images: list[bytes],
) -> None:
    """Model Garden's export: one SavedModel with the contract's signatures. Built in float32 whatever the
    training precision (the variables are float32 under a mixed policy too): a client reads the same answer
    from a model trained on GPUs in float16 as from one trained on the CPU."""
    started = time.monotonic()
    performance.set_mixed_precision_policy(tf.float32)
    print(f"[train] exporting the SavedModel of {tf.train.latest_checkpoint(model_dir)} ...", flush=True)
    input_image_size = list(params.task.model.input_size[:2])
    export_saved_model_lib.export_inference_graph(
        input_type="image_bytes",
        batch_size=None,
        input_image_size=input_image_size,
        params=params,
        export_module=DetectionModule(
            serving, params=params, batch_size=None, input_image_size=input_image_size, input_type="image_bytes"
        ),
        checkpoint_path=tf.train.latest_checkpoint(model_dir),
        export_dir=serving_model_dir,
        function_keys=contract.SIGNATURES,
    )
    assets = os.path.join(serving_model_dir, "assets")
    tf.io.gfile.makedirs(assets)
    label_map.write(os.path.join(assets, layout.LABEL_MAP_FILE))
    with tf.io.gfile.GFile(os.path.join(assets, contract.CONFIG_FILE), "w") as f:
        f.write(serving.as_json())
    warmup = os.path.join(serving_model_dir, contract.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(warmup))
    with tf.io.TFRecordWriter(warmup) as writer:
        for record in warmup_requests(warmup_images):
            writer.write(record.SerializeToString())
    print(f"[train] exported in {time.monotonic() - started:.0f} s: {serving_model_dir}", flush=True)
