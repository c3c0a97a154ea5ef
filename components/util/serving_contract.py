"""What an exported model answers, and how a client reads it: the serving contract (docs/serving.md).

Defined once here, low in the stack: the export writes it (components/trainer/export.py), the evaluator and the
serving check read answers with it, and so do `predict` and any client. Numpy and OpenCV only, no TensorFlow.

Every signature answers, per image, at most `max_detections` detections scoring at least `min_score`, best
first, padded to the largest count of the batch (`num_detections` says how many are real):
- detection_boxes [B, N, 4] float32: ymin, xmin, ymax, xmax in the photo's own pixels;
- detection_classes [B, N] int32: the label map's class ids; detection_scores [B, N] float32;
- detection_masks_png_bytes [B, N] string: each a 28x28 grey PNG of the mask's probability over its box in
  MASK_LEVELS steps (grey 0, 17, ..., 255 for 0, 1/15, ..., 1), to be pasted into the box. TF Serving's REST
  answer carries a DT_STRING output whose name ends in `_bytes` as {"b64": ...}
  (tensorflow_serving/util/json_tensor.cc, IsNamedTensorBytes).
- num_detections [B] int32.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os

import numpy as np

SERVING_DEFAULT = "serving_default"  # encoded image bytes: what REST's {"b64": ...} carries
IMAGE_TENSOR = "image_tensor"  # uint8 [B, H, W, 3]
TF_EXAMPLE = "tf_example"  # serialized tf.Example with image/encoded: TFX's InfraValidator, BulkInferrer
# Model Garden's export input type -> the signature's name.
SIGNATURES = {"image_bytes": SERVING_DEFAULT, "image_tensor": IMAGE_TENSOR, "tf_example": TF_EXAMPLE}

BOXES, CLASSES, SCORES = "detection_boxes", "detection_classes", "detection_scores"
MASKS = "detection_masks_png_bytes"
COUNT = "num_detections"
OUTPUTS = (BOXES, CLASSES, SCORES, MASKS, COUNT)
MASK_SIZE = 28  # Model Garden's mask head
# A probability in 16 steps: the 0.5 threshold falls between two steps, so what is above it stays above; the PNG of
# a detection takes about half the bytes of 256 steps (about 600 bytes of base64 for an untrained model's masks).
MASK_LEVELS = 16

# COCO's AP counts at most 100 detections per image, and detections under 0.05 barely change it (the score
# threshold Detectron2 and torchvision evaluate with): with these, the evaluator's AP of the served answer is
# COCO's, and an answer stays under 100 KB of REST JSON (docs/serving.md).
DEFAULT_MAX_DETECTIONS = 100
DEFAULT_MIN_SCORE = 0.05

CONFIG_FILE = "serving.json"  # in the SavedModel's assets/: the contract's settings, for clients
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")  # TF Serving replays it at load
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit (servables/tensorflow/saved_model_warmup_util.cc)
# The evaluator keeps its answers for the first eval images; the serving check asks a server for the same.
ANSWERS_FILE = "served_answers.json"
CHECKED_IMAGES = 2
# How far a server's answer may differ from the evaluator's for the same photo (two processes, one graph).
SCORE_TOLERANCE, BOX_TOLERANCE_PX, MASK_TOLERANCE = 1e-3, 1.0, 2 / 255


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    max_detections: int = DEFAULT_MAX_DETECTIONS
    min_score: float = DEFAULT_MIN_SCORE

    def __post_init__(self):
        if self.max_detections < 1:
            raise ValueError(f"serving max detections must be at least 1, not {self.max_detections}")
        if not 0 <= self.min_score < 1:
            raise ValueError(f"serving min score must be in [0, 1), not {self.min_score}")

    def as_json(self) -> str:
        return json.dumps(
            {**dataclasses.asdict(self), "signatures": sorted(SIGNATURES.values()), "outputs": list(OUTPUTS)}, indent=2
        )

    @classmethod
    def read(cls, assets_dir: str) -> ServingConfig:
        with open(os.path.join(assets_dir, CONFIG_FILE)) as f:
            saved = json.load(f)
        return cls(int(saved["max_detections"]), float(saved["min_score"]))


@dataclasses.dataclass
class Answer:
    """One image's detections as the model answers them."""

    boxes: np.ndarray  # [N, 4] ymin, xmin, ymax, xmax, the photo's pixels
    classes: np.ndarray  # [N] int64
    scores: np.ndarray  # [N] float32
    masks: np.ndarray  # [N, 28, 28] float32 probabilities over each box

    def __len__(self) -> int:
        return len(self.scores)

    def as_json(self) -> list[dict]:
        import cv2

        return [
            {
                "class_id": int(c),
                "score": float(s),
                "box_yxyx": [float(v) for v in b],
                "mask_png": base64.b64encode(cv2.imencode(".png", np.round(m * 255).astype(np.uint8))[1]).decode(),
            }
            for b, c, s, m in zip(self.boxes, self.classes, self.scores, self.masks, strict=True)
        ]

    @classmethod
    def from_json(cls, detections: list[dict]) -> Answer:
        masks = [decode_mask(base64.b64decode(d["mask_png"])) for d in detections]
        return cls(
            np.array([d["box_yxyx"] for d in detections], np.float32).reshape(-1, 4),
            np.array([d["class_id"] for d in detections], np.int64),
            np.array([d["score"] for d in detections], np.float32),
            np.stack(masks) if masks else np.zeros((0, MASK_SIZE, MASK_SIZE), np.float32),
        )

    def differs_from(self, other: Answer) -> str | None:
        """How this answer differs from `other` beyond the tolerances, in words; None when it does not."""
        if len(self) != len(other):
            return f"{len(self)} detections where {len(other)} were expected"
        if not np.array_equal(self.classes, other.classes):
            return f"classes {self.classes.tolist()} where {other.classes.tolist()} were expected"
        for what, a, b, tolerance in (
            ("scores", self.scores, other.scores, SCORE_TOLERANCE),
            ("boxes", self.boxes, other.boxes, BOX_TOLERANCE_PX),
            ("masks", self.masks, other.masks, MASK_TOLERANCE),
        ):
            worst = float(np.abs(a - b).max()) if a.size else 0.0
            if worst > tolerance + 1e-6:
                return f"{what} differ by up to {worst:.4g} (tolerance {tolerance:.4g})"
        return None


def decode_mask(png: bytes) -> np.ndarray:
    import cv2

    mask = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError("a detection mask is not a PNG")
    return mask.astype(np.float32) / 255.0


def answers(outputs: dict) -> list[Answer]:
    """Each image's detections from a batch of outputs (columnar: output name -> array over the batch), as the
    SavedModel's signature returns them or `from_rest` reads them."""
    counts = np.asarray(outputs[COUNT]).astype(int).reshape(-1)
    result = []
    for i, n in enumerate(counts):
        masks = [decode_mask(png) for png in np.asarray(outputs[MASKS], dtype=object)[i, :n]]
        result.append(
            Answer(
                np.asarray(outputs[BOXES], np.float32)[i, :n].reshape(-1, 4),
                np.asarray(outputs[CLASSES])[i, :n].astype(np.int64),
                np.asarray(outputs[SCORES], np.float32)[i, :n],
                np.stack(masks) if masks else np.zeros((0, MASK_SIZE, MASK_SIZE), np.float32),
            )
        )
    return result


def unb64(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [unb64(v) for v in value]
    return value


def from_rest(body: dict) -> dict:
    """TF Serving's REST predict answer (row format `predictions` or columnar `outputs`) as columnar outputs."""
    if "outputs" in body:
        columns = body["outputs"]
        return {key: unb64(value) for key, value in columns.items()}
    rows = body["predictions"]
    columns = {key: [] for key in OUTPUTS}
    for row in rows:
        for key in OUTPUTS:
            columns[key].append(unb64(row[key]))
    return {key: np.array(value, dtype=object if key == MASKS else None) for key, value in columns.items()}


def rest_body(encoded_images: list[bytes], signature: str = SERVING_DEFAULT) -> dict:
    """The REST predict body for `serving_default`: {"signature_name": ..., "instances": [{"b64": ...}, ...]}."""
    return {
        "signature_name": signature,
        "instances": [{"b64": base64.b64encode(data).decode("ascii")} for data in encoded_images],
    }
