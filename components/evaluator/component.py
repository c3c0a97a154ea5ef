"""MaskEvaluator: COCO box/mask AP and latency of the exported model, and the blessing.

In:  examples (Examples: Split-eval), model (Model), serving_dir (the baseline is the newest version served
     from it, scored with its own label map), thresholds, max_regression, latency_batch, bless_on.
Out: evaluation (ModelEvaluation: metrics.json with each AP's bootstrap interval over the eval images,
     summary.md), blessing (ModelBlessing: BLESSED or NOT_BLESSED).

TFMA cannot score instance masks, so this evaluator runs the SavedModel's
`serving_default` signature (what TF Serving calls) over Split-eval, pastes the
per-box masks into full-size masks and scores them with pycocotools. Its
`blessing` is a standard ModelBlessing (`blessed`, `current_model_id`), so TFX's
Pusher works with it unchanged. The baseline is what serving has now, read from
the serving folder rather than resolved from ML Metadata: the same rule locally
and on an open-source Kubeflow backend (which runs no resolver tasks).
"""
from __future__ import annotations

import json

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.evaluator import constants, executor
from components.util.blessing import check_thresholds
from components.util.metrics import BLESS_ON_POINT, BLESS_ON_RULES, DEFAULT_MAX_REGRESSION


class MaskEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        constants.THRESHOLDS_KEY: ExecutionParameter(type=str),
        constants.MAX_REGRESSION_KEY: ExecutionParameter(type=float),
        constants.LATENCY_BATCH_KEY: ExecutionParameter(type=int),
        constants.SERVING_DIR_KEY: ExecutionParameter(type=str),
        constants.BLESS_ON_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class MaskEvaluator(base_component.BaseComponent):
    """Args: serving_dir (where blessed models are pushed; its newest version is the baseline), thresholds
    ({'mask_AP50': 0.5, ...}: all must be met), max_regression (how much a thresholded metric may fall below the
    baseline's), latency_batch (the throughput batch size), bless_on ('point': thresholds judge the metrics;
    'lower-bound': the low ends of their bootstrap intervals over the eval images)."""

    SPEC_CLASS = MaskEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel, serving_dir: str = "",
                 thresholds: dict[str, float] | None = None,
                 max_regression: float = DEFAULT_MAX_REGRESSION, latency_batch: int = constants.DEFAULT_LATENCY_BATCH,
                 bless_on: str = BLESS_ON_POINT):
        check_thresholds(thresholds or {}, "MaskEvaluator")
        if bless_on not in BLESS_ON_RULES:
            raise ValueError(f"MaskEvaluator: bless_on {bless_on!r} is not one of {', '.join(BLESS_ON_RULES)}")
        super().__init__(spec=MaskEvaluatorSpec(
            examples=examples, model=model, serving_dir=serving_dir,
            thresholds=json.dumps(thresholds or {}, sort_keys=True), max_regression=float(max_regression),
            latency_batch=int(latency_batch), bless_on=bless_on,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
