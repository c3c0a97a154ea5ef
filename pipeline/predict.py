"""`maskrcnn-tfx predict`: a pushed or exported model on images -> overlay PNGs and COCO-RLE JSON."""

from __future__ import annotations

import argparse
import colorsys
import dataclasses
import json
import os
import sys

import numpy as np

DEFAULT_MIN_SCORE = 0.5  # detections below this score are not drawn nor written


class PredictError(RuntimeError):
    """A model or image that cannot be used; the message names the file and the reason."""


@dataclasses.dataclass
class Detection:
    class_id: int
    class_name: str
    score: float
    box_xyxy: list[float]  # original image pixels
    mask: np.ndarray  # [H, W] uint8 0/1

    def as_json(self) -> dict:
        from components.util.coco_metrics import rle

        return {
            "class_id": self.class_id,
            "class": self.class_name,
            "score": round(self.score, 4),
            "box_xyxy": [round(v, 1) for v in self.box_xyxy],
            "segmentation": rle(self.mask),
        }


def find_saved_model(path: str) -> str:
    """A SavedModel folder from what users have at hand: a pushed version, the serving folder (its newest
    version), a Trainer `Model` artifact (its Format-Serving/) or an exported SavedModel."""
    import tensorflow as tf
    from tfx.utils import path_utils

    from components.util.serving import SAVED_MODEL_FILE, newest_version

    for candidate in (path, path_utils.serving_model_dir(path), newest_version(path)):
        if candidate and tf.io.gfile.exists(os.path.join(candidate, SAVED_MODEL_FILE)):
            return candidate
    raise PredictError(
        f"{path}: no SavedModel here (expected saved_model.pb, Format-Serving/ or "
        f"numbered versions of a serving folder)"
    )


class Predictor:
    """A model's `serving_default` answer (encoded image bytes), from the SavedModel itself (`model`, as the
    evaluator calls it) or from a server speaking TF Serving's REST protocol (`url`)."""

    def __init__(self, model: str | None = None, url: str | None = None, label_map: str | None = None):
        from dataset import layout

        self.model_dir, self.url, self._signature = None, url, None
        if model:
            import tensorflow as tf

            from components.util.serving_contract import SERVING_DEFAULT

            self.model_dir = find_saved_model(model)
            assets = os.path.join(self.model_dir, "assets")
            if not tf.io.gfile.exists(layout.label_map_path(assets)):
                raise PredictError(
                    f"{self.model_dir}: no assets/{layout.LABEL_MAP_FILE} (not exported by this project?)"
                )
            label_map = label_map or assets
            self._signature = tf.saved_model.load(self.model_dir).signatures[SERVING_DEFAULT]
        self.class_names = {}
        if label_map:
            try:
                labels = layout.read_label_map(label_map if os.path.isdir(label_map) else os.path.dirname(label_map))
            except (OSError, ValueError) as error:
                raise PredictError(f"{label_map}: not a label map: {error}") from None
            self.class_names = {c.id: c.name for c in labels.classes}

    @property
    def source(self) -> str:
        return self.model_dir or self.url

    def answer(self, encoded: bytes):
        from components.util import serving_contract as contract

        if self._signature is None:
            from components.serving_check.client import ServingError, predict

            try:
                return predict(self.url, [encoded])[0][0]
            except ServingError as error:
                raise PredictError(str(error)) from None
        import tensorflow as tf

        return contract.answers({k: v.numpy() for k, v in self._signature(tf.constant([encoded])).items()})[0]

    def __call__(self, encoded: bytes, height: int, width: int, min_score: float) -> list[Detection]:
        from components.util.coco_metrics import Predictions

        found = Predictions.from_answer(self.answer(encoded), height, width)
        keep = found.scores >= min_score
        boxes, classes, scores, pasted = found.boxes[keep], found.classes[keep], found.scores[keep], found.masks[keep]
        return [
            Detection(
                int(c),
                self.class_names.get(int(c), f"class {c}"),
                float(s),
                [float(b[1]), float(b[0]), float(b[3]), float(b[2])],
                m,
            )
            for b, c, s, m in zip(boxes, classes, scores, pasted, strict=True)
        ]


def _colour(class_id: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((class_id * 0.618034) % 1.0, 0.85, 1.0)
    return int(255 * b), int(255 * g), int(255 * r)  # BGR


def overlay(image_bgr: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """Masks tinted by class, boxes, and `class score` labels over the photo."""
    import cv2

    out = image_bgr.copy()
    for d in detections:
        colour = np.array(_colour(d.class_id), np.float32)
        region = d.mask.astype(bool)
        out[region] = (0.5 * out[region] + 0.5 * colour).astype(np.uint8)
        contours, _ = cv2.findContours(d.mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), 1)
    for d in detections:
        colour = _colour(d.class_id)
        x0, y0, x1, y1 = (round(v) for v in d.box_xyxy)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
        label = f"{d.class_name} {d.score:.2f}"
        (w, h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        top = max(y0 - h - baseline - 2, 0)
        cv2.rectangle(out, (x0, top), (x0 + w + 4, top + h + baseline + 2), colour, -1)
        cv2.putText(out, label, (x0 + 2, top + h + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def predict_file(predictor: Predictor, path: str, output_dir: str, min_score: float) -> dict:
    """Writes <stem>.png (overlay) and <stem>.json (detections) into output_dir; returns the JSON."""
    import cv2
    import tensorflow as tf

    from dataset.images import ImageDecodeError, prepare_image

    if not tf.io.gfile.exists(path):
        raise PredictError(f"{path}: no such file")
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        image = prepare_image(data)  # EXIF-rotated photos upright, as they were annotated
    except ImageDecodeError as error:
        raise PredictError(f"{path}: not an image this model can read: {error}") from None
    detections = predictor(image.data, image.height, image.width, min_score)
    bgr = cv2.imdecode(np.frombuffer(image.data, np.uint8), cv2.IMREAD_COLOR)
    stem = os.path.splitext(os.path.basename(path))[0]
    result = {
        "image": path,
        "height": image.height,
        "width": image.width,
        "model": predictor.source,
        "min_score": min_score,
        "detections": [d.as_json() for d in detections],
    }
    tf.io.gfile.makedirs(output_dir)
    _ok, png = cv2.imencode(".png", overlay(bgr, detections))
    with tf.io.gfile.GFile(os.path.join(output_dir, stem + ".png"), "wb") as f:
        f.write(png.tobytes())
    with tf.io.gfile.GFile(os.path.join(output_dir, stem + ".json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def predict_unlabelled(summary: dict, reports_dir: str, max_images: int = 20) -> None:
    """Overlays of what a run's model finds in its dataset's unlabelled images (test images without masks)."""
    unlabelled = (summary.get("examples") or {}).get("unlabelled_images") or []
    if not unlabelled or not summary.get("model_uri"):
        return
    output = os.path.join(reports_dir, f"predictions-{summary['run_id']}")
    predictor = Predictor(model=summary["model_uri"])
    failed = 0
    for path in unlabelled[:max_images]:
        try:  # ingestion lists unlabelled images without reading them: one may not be an image at all
            predict_file(predictor, path, output, DEFAULT_MIN_SCORE)
        except PredictError as error:
            print(f"[run] no prediction: {error}")
            failed += 1
    tried = min(len(unlabelled), max_images)
    print(
        f"[run] predictions on {tried - failed} of {len(unlabelled)} unlabelled images: {output}"
        + (f" ({failed} could not be read)" if failed else "")
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--model",
        help="a pushed version (SERVING_DIR/<version>), the serving folder (its newest version), "
        "a Trainer model artifact or an exported SavedModel",
    )
    source.add_argument(
        "--url",
        help="a model server speaking TF Serving's REST protocol (TF Serving, KServe, "
        "`maskrcnn-tfx serve`): http://HOST:PORT/v1/models/NAME",
    )
    parser.add_argument(
        "--label-map", help="with --url: the model's assets/label_map.json, for class names (default: class ids)"
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG or PNG files")
    parser.add_argument("--output", required=True, help="folder for <image>.png overlays and <image>.json")
    parser.add_argument(
        "--min-score",
        type=float,
        default=DEFAULT_MIN_SCORE,
        help="drop detections below this score (default %(default)s)",
    )


def main(args: argparse.Namespace) -> int:
    stems = [os.path.splitext(os.path.basename(p))[0] for p in args.images]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    try:
        if clashes:
            raise PredictError(f"several images would write {', '.join(clashes)}.png: predict them separately")
        predictor = Predictor(model=args.model, url=args.url, label_map=args.label_map)
    except PredictError as error:
        print(f"predict: {error}", file=sys.stderr)
        return 1
    failed = 0
    for path in args.images:
        try:
            result = predict_file(predictor, path, args.output, args.min_score)
        except PredictError as error:
            print(f"predict: {error}", file=sys.stderr)
            failed += 1
            continue
        found = ", ".join(f"{d['class']} {d['score']:.2f}" for d in result["detections"]) or "nothing"
        print(f"{path}: {found}")
    print(
        f"wrote {len(args.images) - failed} overlays and JSON files to {args.output}"
        + (f"; {failed} of {len(args.images)} images failed" if failed else "")
    )
    return 1 if failed else 0
