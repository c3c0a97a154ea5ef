"""Accuracy over training time: the model being trained, scored on the eval split every `eval_interval` steps.

The model is called through the export's serving module
(`DetectionModule.inference_from_image_bytes`: decode, resize and pad, predict
and compact to the serving contract, exactly what the exported `serving_default`
signature runs) and scored by the evaluator's COCO scoring, so a point measures
what MaskEvaluator measures on the exported model. `stop_at` targets end training at the first point that
meets them all.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf

from components.trainer.constants import ACCURACY_METRICS
from components.trainer.export import DetectionModule
from components.util import coco_metrics, serving_contract
from components.util.blessing import flat_metrics, meets
from components.util.eval_split import EvalSplit
from dataset.labelmap import LabelMap

POINT_METRICS = ACCURACY_METRICS


@dataclasses.dataclass
class AccuracyPoint:
    step: int
    seconds: float  # since training began, evaluations included
    box_AP: float
    box_AP50: float
    mask_AP: float
    mask_AP50: float
    # [low, high] per metric: the bootstrap interval over the eval images (uncertainty.py); empty: none
    interval: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in dataclasses.asdict(self).items()}


class InTrainingEvaluator:
    """Scores the live model on the eval split, through the serving preprocessing."""

    def __init__(
        self,
        params,
        model: tf.keras.Model,
        split: EvalSplit,
        label_map: LabelMap,
        serving: serving_contract.ServingConfig,
    ):
        self._module = DetectionModule(
            serving,
            params=params,
            batch_size=None,
            input_image_size=list(params.task.model.input_size[:2]),
            input_type="image_bytes",
            model=model,
        )
        self._split, self._label_map = split, label_map

    def metrics(self) -> dict:
        """The evaluator's metrics (coco_metrics.score) of the live model."""
        predictions = []
        for image in self._split.images:
            outputs = self._module.inference_from_image_bytes(tf.constant([image.encoded]))
            (answer,) = serving_contract.answers({key: np.asarray(value) for key, value in outputs.items()})
            predictions.append(coco_metrics.Predictions.from_answer(answer, image.height, image.width))
        return coco_metrics.score(self._split.ground_truth, predictions, self._label_map)

    def point(self, step: int, started: float) -> AccuracyPoint:
        metrics = self.metrics()
        flat, interval = flat_metrics(metrics), metrics["interval"] or {}
        return AccuracyPoint(
            step,
            round(time.perf_counter() - started, 2),
            *(flat[k] for k in POINT_METRICS),
            interval={k: interval[k] for k in POINT_METRICS if k in interval},
        )


def targets_met(point: AccuracyPoint | dict, targets: dict[str, float]) -> bool:
    values = point if isinstance(point, dict) else point.as_dict()
    return meets(values, targets)


def schedule(start_step: int, train_steps: int, eval_interval: int | None) -> list[int]:
    """The global steps to train up to, one chunk after another: every eval_interval steps, and the end."""
    if not eval_interval:
        return [train_steps]
    stops = list(range((start_step // eval_interval + 1) * eval_interval, train_steps, eval_interval))
    return [*stops, train_steps]
