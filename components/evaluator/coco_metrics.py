"""COCO box and mask AP of a SavedModel's detections, with pycocotools."""
from __future__ import annotations

import contextlib
import dataclasses
import io

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dataset import records
from dataset.labelmap import LabelMap

SUMMARY_KEYS = ("AP", "AP50", "AP75")


@dataclasses.dataclass
class GroundTruth:
    image_id: int
    filename: str
    encoded: bytes
    height: int
    width: int
    boxes: np.ndarray       # [N, 4] ymin, xmin, ymax, xmax in pixels
    classes: np.ndarray     # [N]
    is_crowd: np.ndarray    # [N]
    masks: list[np.ndarray]  # N x [H, W] uint8 0/1

    @classmethod
    def from_example(cls, serialized: bytes, image_id: int) -> "GroundTruth":
        import tensorflow as tf

        feature = tf.train.Example.FromString(serialized).features.feature

        def values(key):
            kind = feature[key].WhichOneof("kind")
            return list(getattr(feature[key], kind).value) if kind else []

        height, width = values(records.IMAGE_HEIGHT)[0], values(records.IMAGE_WIDTH)[0]
        boxes = np.array([values(k) for k in (records.BBOX_YMIN, records.BBOX_XMIN, records.BBOX_YMAX,
                                                records.BBOX_XMAX)], np.float64).T.reshape(-1, 4)
        boxes *= [height, width, height, width]
        masks = [cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
                 for png in values(records.OBJECT_MASK)]
        return cls(image_id=image_id, filename=values(records.IMAGE_FILENAME)[0].decode(),
                   encoded=values(records.IMAGE_ENCODED)[0], height=height, width=width, boxes=boxes,
                   classes=np.array(values(records.CLASS_LABEL), np.int64),
                   is_crowd=np.array(values(records.OBJECT_IS_CROWD) or [0] * len(boxes), np.int64),
                   masks=masks)


def rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _xywh(box_yxyx) -> list[float]:
    ymin, xmin, ymax, xmax = (float(v) for v in box_yxyx)
    return [xmin, ymin, xmax - xmin, ymax - ymin]


def coco_ground_truth(images: list[GroundTruth], label_map: LabelMap) -> COCO:
    annotations = []
    for image in images:
        for box, cls, crowd, mask in zip(image.boxes, image.classes, image.is_crowd, image.masks):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image.image_id, "category_id": int(cls),
                "bbox": _xywh(box), "area": float(mask.sum()), "iscrowd": int(crowd), "segmentation": rle(mask)})
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i.image_id, "height": i.height, "width": i.width, "file_name": i.filename} for i in images],
        "annotations": annotations,
        "categories": [{"id": c.id, "name": c.name} for c in label_map.classes],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


@dataclasses.dataclass
class Predictions:
    """One image's detections at its full size: what COCO scoring and overlays need."""
    boxes: np.ndarray   # [N, 4] ymin, xmin, ymax, xmax in pixels
    classes: np.ndarray  # [N]
    scores: np.ndarray   # [N]
    masks: np.ndarray    # [N, H, W] uint8 0/1

    @classmethod
    def from_model_outputs(cls, outputs: dict, index: int, height: int, width: int) -> "Predictions":
        """One image of a batch of the exported model's outputs: boxes to the photo's pixels, masks pasted."""
        n = int(outputs["num_detections"][index])
        # image_info rows: original [h, w], resized [h, w], [y, x] scale, offset. Boxes may reach into the
        # padding of the model's input: clip them to the photo.
        original, scale = outputs["image_info"][index, 0], outputs["image_info"][index, 2]
        boxes = np.clip(outputs["detection_boxes"][index, :n] / np.tile(scale, 2), 0, np.tile(original, 2))
        return cls(boxes, outputs["detection_classes"][index, :n].astype(np.int64),
                   outputs["detection_scores"][index, :n],
                   paste_masks(outputs["detection_masks"][index, :n], boxes, height, width))


def paste_masks(masks: np.ndarray, boxes_yxyx: np.ndarray, height: int, width: int) -> np.ndarray:
    """Per-box mask probabilities -> full-size 0/1 instance masks (Model Garden's pasting)."""
    from official.vision.ops import mask_ops

    if not len(masks):
        return np.zeros((0, height, width), np.uint8)
    boxes_xywh = np.array([_xywh(b) for b in boxes_yxyx])
    return (mask_ops.paste_instance_masks(masks, boxes_xywh, height, width) > 0.5).astype(np.uint8)


def coco_results(image: GroundTruth, predictions: Predictions) -> tuple[list[dict], list[dict]]:
    box_results, mask_results = [], []
    for box, cls, score, mask in zip(predictions.boxes, predictions.classes, predictions.scores, predictions.masks):
        common = {"image_id": image.image_id, "category_id": int(cls), "score": float(score)}
        box_results.append({**common, "bbox": _xywh(box)})
        mask_results.append({**common, "segmentation": rle(mask)})
    return box_results, mask_results


def score(images: list[GroundTruth], predictions: list[Predictions], label_map: LabelMap) -> dict:
    """COCO box and mask metrics of one Predictions per ground-truth image."""
    box_results, mask_results = [], []
    for image, predicted in zip(images, predictions, strict=True):
        boxes, masks = coco_results(image, predicted)
        box_results += boxes
        mask_results += masks
    ground_truth = coco_ground_truth(images, label_map)
    return {"num_images": len(images), "num_detections": len(box_results),
            "box": evaluate(ground_truth, box_results, "bbox", label_map),
            "mask": evaluate(ground_truth, mask_results, "segm", label_map)}


def evaluate(ground_truth: COCO, results: list[dict], iou_type: str, label_map: LabelMap) -> dict:
    """AP, AP50, AP75 and per-class AP (COCO's definitions; 0 where nothing was detected)."""
    metrics = {key: 0.0 for key in SUMMARY_KEYS}
    metrics["per_class_AP"] = {c.name: 0.0 for c in label_map.classes}
    if not results:
        return metrics
    with contextlib.redirect_stdout(io.StringIO()):
        detections = ground_truth.loadRes(results)
        coco_eval = COCOeval(ground_truth, detections, iou_type)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    for key, value in zip(SUMMARY_KEYS, coco_eval.stats[:3]):
        metrics[key] = max(0.0, float(value))  # COCO writes -1 where there is no ground truth
    precision = coco_eval.eval["precision"]  # [IoU, recall, class, area, max dets]
    names = {c.id: c.name for c in label_map.classes}
    for k, category_id in enumerate(coco_eval.params.catIds):
        p = precision[:, :, k, 0, -1]
        metrics["per_class_AP"][names[category_id]] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
    return metrics
