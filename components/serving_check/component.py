"""ServingCheck: the candidate model behind a real model server, asked for the evaluator's answers, before the
push (TFX InfraValidator's job, on every orchestrator, with the contract's signatures).

In:  model (Model), examples (Examples: Split-eval photos), evaluation (ModelEvaluation: the evaluator's answers
     for the same photos), blessing (ModelBlessing: a model the evaluator did not bless is not started),
     serving_dir (a model already served there, as on a cached rerun, was checked before its push),
     load_deadline_s.
Out: infra_blessing (InfraBlessing: INFRA_BLESSED or INFRA_NOT_BLESSED, as InfraValidator writes it, which TFX's
     Pusher requires; serving_check.json: load time, warm-up, first and steady request latency, answer bytes,
     and why; server.log).

The server runs in a fresh process on loopback: components/serving_check/server.py (KServe's model server
speaking TF Serving's REST protocol, the warm-up file replayed at load as TF Serving does); docs/serving.md says
what it covers and what only TF Serving itself would.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.serving_check import constants, executor


class ServingCheckSpec(ComponentSpec):
    PARAMETERS = {
        constants.LOAD_DEADLINE_KEY: ExecutionParameter(type=int),
        constants.SERVING_DIR_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        standard_component_specs.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        standard_component_specs.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        standard_component_specs.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    OUTPUTS = {standard_component_specs.INFRA_BLESSING_KEY: ChannelParameter(type=standard_artifacts.InfraBlessing)}


class ServingCheck(base_component.BaseComponent):
    """Args: model, examples, evaluation and blessing (MaskEvaluator's), serving_dir (the Pusher's),
    load_deadline_s (how long the server may take to load the model and replay its warm-up)."""

    SPEC_CLASS = ServingCheckSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        evaluation: types.BaseChannel,
        blessing: types.BaseChannel,
        serving_dir: str = "",
        load_deadline_s: int = constants.DEFAULT_LOAD_DEADLINE_S,
    ):
        super().__init__(
            spec=ServingCheckSpec(
                model=model,
                examples=examples,
                evaluation=evaluation,
                blessing=blessing,
                serving_dir=serving_dir,
                load_deadline_s=int(load_deadline_s),
                infra_blessing=types.Channel(type=standard_artifacts.InfraBlessing),
            )
        )
