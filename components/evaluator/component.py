"""MaskEvaluator: COCO box/mask AP and latency of the exported model, and the blessing.

In:  examples (Examples: Split-eval), model (Model), serving_dir (the baseline is the newest version served
     from it, scored with its own label map), blessing_config (BlessingConfig), latency_batch.
Out: evaluation (ModelEvaluation: metrics.json with each AP's bootstrap interval over the eval images,
     summary.md, served_answers.json: the answers to the first eval photos, which ServingCheck compares),
     blessing (ModelBlessing: BLESSED or NOT_BLESSED).

TFMA cannot score instance masks, so this evaluator runs the SavedModel's
`serving_default` signature (what TF Serving calls) over Split-eval, reads the
served answer (the serving contract: 28x28 PNG masks), pastes the per-box masks
into full-size masks and scores them with pycocotools. Its
`blessing` is a standard ModelBlessing (`blessed`, `current_model_id`), so TFX's
Pusher works with it unchanged. The baseline is what serving has now, read from
the serving folder rather than resolved from ML Metadata: the same rule locally
and on an open-source Kubeflow backend (which runs no resolver tasks).
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.evaluator import constants, executor
from components.util.blessing import BlessingConfig


class MaskEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        constants.BLESSING_CONFIG_KEY: ExecutionParameter(type=str),
        constants.LATENCY_BATCH_KEY: ExecutionParameter(type=int),
        constants.SERVING_DIR_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        standard_component_specs.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        standard_component_specs.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        standard_component_specs.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class MaskEvaluator(base_component.BaseComponent):
    """Args: serving_dir (where blessed models are pushed; its newest version is the baseline), blessing (what a
    model must meet: thresholds, max_regression, bless_on), latency_batch (the throughput batch size)."""

    SPEC_CLASS = MaskEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        serving_dir: str = "",
        blessing: BlessingConfig = BlessingConfig(),
        latency_batch: int = constants.DEFAULT_LATENCY_BATCH,
    ):
        super().__init__(
            spec=MaskEvaluatorSpec(
                examples=examples,
                model=model,
                serving_dir=serving_dir,
                blessing_config=blessing.to_json(),
                latency_batch=int(latency_batch),
                evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            )
        )
