"""COCO box and mask AP, with Model Garden's COCO tools and pycocotools' COCOeval.

The ground truth is what Model Garden's own evaluation reads: its
`COCOGroundtruthGenerator` decodes the eval TFRecords with `TfExampleDecoder`,
and `convert_groundtruths_to_coco_dataset` / `COCOWrapper` make the COCO
dataset. Detections come as full-size masks (the evaluator pastes the model's
28x28 masks itself, as `predict` does for its overlays) and are scored by
COCOeval on every eval image, with per-class AP read from its precision table.
(Model Garden's `COCOEvaluator` restricts COCOeval to the images that have
detections and needs a patched COCOeval for per-class figures, so it is not
used.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import io

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

from components.util import uncertainty
from components.util.metrics import SUMMARY_KEYS
from dataset import layout
from dataset.labelmap import LabelMap

IOU_TYPES = {"box": "bbox", "mask": "segm"}  # COCOeval's iouType per kind of metric


@dataclasses.dataclass
class GroundTruth:
    """One eval image as Model Garden's COCOGroundtruthGenerator reads it."""

    source_id: int
    height: int
    width: int
    boxes: np.ndarray  # [N, 4] ymin, xmin, ymax, xmax in pixels
    classes: np.ndarray  # [N]
    is_crowd: np.ndarray  # [N]
    areas: np.ndarray  # [N] pixels
    masks_png: list[bytes]  # N PNGs holding 0/1


def read_ground_truth(examples_uri: str) -> list[GroundTruth]:
    """The eval split's ground truth, decoded by Model Garden (TfExampleDecoder with masks)."""
    from official.vision.evaluation import coco_utils

    generator = coco_utils.COCOGroundtruthGenerator(
        layout.record_pattern(examples_uri, layout.EVAL), layout.TFRECORD_FILE_TYPE, num_examples=-1, include_mask=True
    )
    images = []
    for batch in generator():
        gt = {key: value.numpy()[0] for key, value in batch.items()}
        images.append(
            GroundTruth(
                int(gt["source_id"]),
                int(gt["height"]),
                int(gt["width"]),
                gt["boxes"],
                gt["classes"],
                gt["is_crowds"].astype(np.int64),
                gt["areas"],
                list(gt["masks"]),
            )
        )
    return sorted(images, key=lambda image: image.source_id)


def coco_ground_truth(images: list[GroundTruth], label_map: LabelMap):
    """Model Garden's COCO dataset of the ground truth, wrapped for mask (and box) evaluation."""
    from official.vision.evaluation import coco_utils

    groundtruths = {
        "source_id": [np.array([i.source_id]) for i in images],
        "height": [np.array([i.height]) for i in images],
        "width": [np.array([i.width]) for i in images],
        "num_detections": [np.array([len(i.classes)]) for i in images],
        "boxes": [i.boxes[None] for i in images],
        "classes": [i.classes[None] for i in images],
        "is_crowds": [i.is_crowd[None] for i in images],
        "areas": [i.areas[None] for i in images],
        "masks": [np.array([i.masks_png], dtype=object) for i in images],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = coco_utils.convert_groundtruths_to_coco_dataset(
            groundtruths, label_map={c.id: c.name for c in label_map.classes}
        )
        return coco_utils.COCOWrapper(eval_type="mask", gt_dataset=dataset)


def rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _xywh(box_yxyx) -> list[float]:
    ymin, xmin, ymax, xmax = (float(v) for v in box_yxyx)
    return [xmin, ymin, xmax - xmin, ymax - ymin]


@dataclasses.dataclass
class Predictions:
    """One image's detections at its full size: what COCO scoring and overlays need."""

    boxes: np.ndarray  # [N, 4] ymin, xmin, ymax, xmax in pixels
    classes: np.ndarray  # [N]
    scores: np.ndarray  # [N]
    masks: np.ndarray  # [N, H, W] uint8 0/1

    @classmethod
    def from_answer(cls, answer, height: int, width: int) -> Predictions:
        """One image's detections as the served model answers them (serving_contract.Answer), masks pasted."""
        return cls(answer.boxes, answer.classes, answer.scores, paste_masks(answer.masks, answer.boxes, height, width))


def paste_masks(masks: np.ndarray, boxes_yxyx: np.ndarray, height: int, width: int) -> np.ndarray:
    """Per-box mask probabilities -> full-size 0/1 instance masks (Model Garden's pasting)."""
    from official.vision.ops import mask_ops

    if not len(masks):
        return np.zeros((0, height, width), np.uint8)
    boxes_xywh = np.array([_xywh(b) for b in boxes_yxyx])
    return (mask_ops.paste_instance_masks(masks, boxes_xywh, height, width) > 0.5).astype(np.uint8)


def coco_results(image_id: int, predictions: Predictions) -> list[dict]:
    """COCO result entries, each with its box and its mask (one list serves both evaluations)."""
    return [
        {
            "image_id": image_id,
            "category_id": int(cls),
            "score": float(score),
            "bbox": _xywh(box),
            "segmentation": rle(mask),
        }
        for box, cls, score, mask in zip(
            predictions.boxes, predictions.classes, predictions.scores, predictions.masks, strict=True
        )
    ]


def score(
    images: list[GroundTruth],
    predictions: list[Predictions],
    label_map: LabelMap,
    resamples: int = uncertainty.RESAMPLES,
) -> dict:
    """COCO box and mask metrics of one Predictions per ground-truth image, with their bootstrap intervals over
    the images (`interval`; none with resamples 0 or a single image)."""
    results = [
        r
        for image, predicted in zip(images, predictions, strict=True)
        for r in coco_results(image.source_id, predicted)
    ]
    ground_truth = coco_ground_truth(images, label_map)
    metrics = {"num_images": len(images), "num_detections": len(results)}
    coco_evals = {}
    for kind, iou_type in IOU_TYPES.items():
        metrics[kind], coco_evals[kind] = evaluate(ground_truth, results, iou_type, label_map)
    metrics["interval"] = uncertainty.intervals(coco_evals, len(images), resamples=resamples) if resamples else None
    return metrics


def evaluate(ground_truth, results: list[dict], iou_type: str, label_map: LabelMap) -> tuple[dict, COCOeval | None]:
    """AP, AP50, AP75 and per-class AP (COCO's definitions; 0 where nothing was detected), and the evaluated
    COCOeval (None when nothing was detected)."""
    metrics = dict.fromkeys(SUMMARY_KEYS, 0.0)
    metrics["per_class_AP"] = {c.name: 0.0 for c in label_map.classes}
    if not results:
        return metrics, None
    with contextlib.redirect_stdout(io.StringIO()):
        detections = ground_truth.loadRes([dict(r, id=i) for i, r in enumerate(results, start=1)])
        coco_eval = COCOeval(ground_truth, detections, iou_type)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    for key, value in zip(SUMMARY_KEYS, coco_eval.stats[:3], strict=True):
        metrics[key] = max(0.0, float(value))  # COCO writes -1 where there is no ground truth
    precision = coco_eval.eval["precision"]  # [IoU, recall, class, area, max dets]
    names = {c.id: c.name for c in label_map.classes}
    for k, category_id in enumerate(coco_eval.params.catIds):
        p = precision[:, :, k, 0, -1]
        metrics["per_class_AP"][names[category_id]] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
    return metrics, coco_eval
