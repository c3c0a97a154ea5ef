"""MaskEvaluator's executor: COCO AP and latency of the served signature, then bless or refuse."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils

from components.evaluator import latency
from components.evaluator.constants import (
    BLESSING_CONFIG_KEY,
    LATENCY_BATCH_KEY,
    METRICS_FILE,
    SERVING_DIR_KEY,
    SUMMARY_FILE,
)
from components.util import coco_metrics, serving
from components.util import serving_contract as contract
from components.util.blessing import BlessingConfig, flat_metrics, interval_warnings, judge
from components.util.eval_split import EvalSplit, load_eval_split
from components.util.metrics import SUMMARY_KEYS
from components.util.uncertainty import with_interval
from dataset import layout
from dataset.labelmap import LabelMap
from dataset.progress import Progress
from storage import fileio

BASELINE_MODEL_URI_PROPERTY = "baseline_model_uri"


def model_label_map(model_uri: str) -> LabelMap:
    """The label map a Trainer Model artifact was trained with (its SavedModel's assets)."""
    return layout.read_label_map(os.path.join(path_utils.serving_model_dir(model_uri), "assets"))


def same_classes(a: LabelMap, b: LabelMap) -> bool:
    """Whether two models predict the same classes (ids and names; pixel values are the masks' business)."""
    return [(c.id, c.name) for c in a.classes] == [(c.id, c.name) for c in b.classes]


def evaluate_model(
    model_dir: str, split: EvalSplit, label_map: LabelMap, latency_batch: int = 0, answers: list | None = None
) -> dict:
    """COCO metrics of the model's answers; with latency_batch, also latency and throughput. `answers` gets the
    answers (serving_contract.Answer) for the first CHECKED_IMAGES eval images."""
    predict = tf.saved_model.load(model_dir).signatures[contract.SERVING_DEFAULT]
    for _ in range(latency.WARMUP_CALLS):
        latency.call(predict, [split.images[0].encoded])
    predictions, seconds = [], []
    progress = Progress("[evaluate] eval images scored", len(split.images))
    for image in split.images:
        answer = contract.answers(latency.timed_call(predict, image.encoded, seconds))[0]
        if answers is not None and len(answers) < contract.CHECKED_IMAGES:
            answers.append(answer)
        predictions.append(coco_metrics.Predictions.from_answer(answer, image.height, image.width))
        progress.add()
    metrics = coco_metrics.score(split.ground_truth, predictions, label_map)
    if latency_batch:
        for i in range(len(split.images), latency.LATENCY_CALLS):  # more timed calls where the split is small
            latency.timed_call(predict, split.images[i % len(split.images)].encoded, seconds)
        metrics["latency"] = latency.latency(seconds)
        metrics["throughput"] = latency.throughput(
            predict, [(i.encoded, (i.height, i.width)) for i in split.images], latency_batch
        )
    return metrics


def summary_markdown(metrics: dict) -> str:
    interval, blessing = metrics.get("interval"), metrics["blessing"]
    spread = f" [{interval['confidence']:.0%} interval]" if interval else ""
    lines = [f"| metric | box{spread} | mask{spread} |", "|---|---|---|"]
    lines += [
        f"| {key} | {with_interval(metrics, 'box_' + key)} | {with_interval(metrics, 'mask_' + key)} |"
        for key in SUMMARY_KEYS
    ]
    lines += [
        f"| AP {name} | {metrics['box']['per_class_AP'][name]:.3f} | {ap:.3f} |"
        for name, ap in metrics["mask"]["per_class_AP"].items()
    ]
    if "latency" in metrics:
        latency, throughput = metrics["latency"], metrics["throughput"]
        lines += [
            "",
            f"Latency at batch 1: median {latency['median_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms; "
            f"throughput at batch {throughput['batch_size']}: {throughput['images_per_s']:.2f} images/s",
        ]
    if interval:
        lines += ["", f"Intervals: {interval['method']}."]
    lines += ["", f"**{'BLESSED' if blessing['blessed'] else 'NOT BLESSED'}**", ""]
    lines += [f"- {r}" for r in blessing["reasons"]] + [f"- WARNING: {w}" for w in blessing["warnings"]]
    return "\n".join(lines) + "\n"


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        evaluation = artifact_utils.get_single_instance(output_dict[standard_component_specs.EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
        rules = BlessingConfig.from_json(exec_properties[BLESSING_CONFIG_KEY])

        label_map = model_label_map(model.uri)
        model_dir = path_utils.serving_model_dir(model.uri)
        split = load_eval_split(examples.uri)
        answers: list[contract.Answer] = []
        metrics = evaluate_model(
            model_dir, split, label_map, latency_batch=int(exec_properties[LATENCY_BATCH_KEY]), answers=answers
        )
        served = serving.newest_version(exec_properties.get(SERVING_DIR_KEY) or "")
        baseline, no_baseline_reason = None, "no blessed baseline yet (no model served)"
        if served:
            served_label_map = layout.read_label_map(fileio.join(served, "assets"))
            if serving.same_saved_model(model_dir, served):  # a rerun of the served model: scored once
                baseline = flat_metrics(metrics)
            elif same_classes(served_label_map, label_map):
                with serving.readable_copy(served) as local:
                    baseline = flat_metrics(evaluate_model(local, split, served_label_map))
            if baseline is not None:
                metrics["baseline"] = {"model_uri": served, **baseline}
            else:
                no_baseline_reason = (
                    f"the served model {served} was trained on other classes "
                    f"({', '.join(served_label_map.names)} vs {', '.join(label_map.names)}): not comparable"
                )
        blessed, reasons = judge(
            flat_metrics(metrics),
            rules.thresholds,
            baseline,
            rules.max_regression,
            no_baseline_reason,
            interval=metrics["interval"],
            bless_on=rules.bless_on,
        )
        metrics["blessing"] = {
            "blessed": blessed,
            "reasons": reasons,
            **dataclasses.asdict(rules),
            "warnings": interval_warnings(rules.thresholds, metrics["interval"], metrics["num_images"]),
        }

        fileio.makedirs(evaluation.uri)
        fileio.write_text(fileio.join(evaluation.uri, METRICS_FILE), json.dumps(metrics, indent=2))
        fileio.write_text(fileio.join(evaluation.uri, SUMMARY_FILE), summary_markdown(metrics))
        fileio.write_text(
            fileio.join(evaluation.uri, contract.ANSWERS_FILE), json.dumps([answer.as_json() for answer in answers])
        )

        # What TFX's Pusher reads.
        blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY, int(blessed))
        blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
        blessing.set_string_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
        if baseline is not None:
            blessing.set_string_custom_property(BASELINE_MODEL_URI_PROPERTY, served)
        blessing.set_string_custom_property("reason", "; ".join(reasons))
        fileio.makedirs(blessing.uri)
        name = evaluator_constants.BLESSED_FILE_NAME if blessed else evaluator_constants.NOT_BLESSED_FILE_NAME
        fileio.write_text(fileio.join(blessing.uri, name), "\n".join(reasons) + "\n")
