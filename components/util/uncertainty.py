"""How far an AP can be trusted: a bootstrap confidence interval over the eval images.

COCO's AP is not a mean over images, so its spread is estimated by resampling
the eval images with replacement (scipy.stats.bootstrap, percentile method,
seeded: a report reproduces). COCOeval matches detections to ground truth per
image and class (`evaluate`); a resample only changes which images' matches are
accumulated, so each resample runs COCOeval's own `accumulate` on the
resampled images' per-image results (repeats included) rather than matching
again. Only the table the summary figures read is accumulated: all areas, the
most detections (100).
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
from scipy import stats

from components.util.metrics import SUMMARY_KEYS

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 0
ALL_AREAS = 0  # COCOeval's areaRng index of 'all'


def with_interval(metrics: dict, name: str) -> str:
    """'0.826 [0.610, 0.950]': a flat metric (mask_AP50) of the evaluator's metrics, and its interval if any."""
    kind, key = name.split("_", 1)
    interval = metrics.get("interval")
    return f"{metrics[kind][key]:.3f}" + (f" [{interval[name][0]:.3f}, {interval[name][1]:.3f}]" if interval else "")


def summary_figures(precision: np.ndarray, iou_thresholds: np.ndarray) -> list[float]:
    """AP, AP50 and AP75 from COCOeval's accumulated precision [IoU, recall, class, area, max detections], read as
    COCOeval.summarize reads them (first area, last max detections); 0 where nothing is left to average."""
    table = precision[:, :, :, 0, -1]
    figures = []
    for rows in (table, table[np.isclose(iou_thresholds, 0.5)], table[np.isclose(iou_thresholds, 0.75)]):
        valid = rows[rows > -1]
        figures.append(float(valid.mean()) if valid.size else 0.0)
    return figures


def resampled_figures(coco_eval, images: np.ndarray) -> list[float]:
    """AP, AP50, AP75 of an evaluated COCOeval over the eval images at the positions `images` (repeats allowed)."""
    n_images, n_areas = len(coco_eval.params.imgIds), len(coco_eval.params.areaRng)
    params = copy.copy(coco_eval.params)
    params.imgIds = list(range(len(images)))
    params.areaRng, params.areaRngLbl = params.areaRng[ALL_AREAS : ALL_AREAS + 1], ["all"]
    params.maxDets = params.maxDets[-1:]
    resampled = copy.copy(coco_eval)
    resampled.params = resampled._paramsEval = params
    # evalImgs is laid out [class][area][image] (COCOeval.evaluate)
    resampled.evalImgs = [
        coco_eval.evalImgs[(k * n_areas + ALL_AREAS) * n_images + i] for k in range(len(params.catIds)) for i in images
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        resampled.accumulate()
    return summary_figures(resampled.eval["precision"], params.iouThrs)


def intervals(
    coco_evals: dict[str, object | None],
    num_images: int,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict | None:
    """{'box_AP': [low, high], ..., 'mask_AP75': [...], 'method': ...} for evaluated COCOevals by kind ('box',
    'mask'; None: nothing was detected, every figure 0); None with fewer than 2 eval images."""
    if num_images < 2:
        return None
    kinds = list(coco_evals)

    def statistic(images: np.ndarray) -> np.ndarray:
        return np.array(
            [
                figure
                for kind in kinds
                for figure in (
                    resampled_figures(coco_evals[kind], images)
                    if coco_evals[kind] is not None
                    else [0.0] * len(SUMMARY_KEYS)
                )
            ]
        )

    result = stats.bootstrap(
        (np.arange(num_images),),
        statistic,
        vectorized=False,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    names = [f"{kind}_{key}" for kind in kinds for key in SUMMARY_KEYS]
    low, high = result.confidence_interval
    return {
        "method": f"bootstrap percentile interval: {resamples} resamples of the {num_images} eval images "
        f"with replacement, seed {seed}",
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        **{name: [round(float(lo), 4), round(float(hi), 4)] for name, lo, hi in zip(names, low, high, strict=True)},
    }
