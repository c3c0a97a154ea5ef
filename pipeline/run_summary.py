"""What a pipeline run did, read back from ML Metadata and the components' outputs."""
from __future__ import annotations

import json
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.trainer.trainer_module import TIMING_FILE
from dataset import layout

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


def _store(pipeline_root: str) -> metadata_store.MetadataStore:
    from pipeline.local_runner import METADATA_FILE

    path = os.path.join(pipeline_root, METADATA_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no metadata store at {path}: is {pipeline_root} a pipeline root of `maskrcnn-tfx run`?")
    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(path))


def _read_json(path: str) -> dict | None:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def latest_run(pipeline_root: str, run_id: str | None = None) -> dict:
    """The components of one pipeline run (the newest by default), with their outputs."""
    store = _store(pipeline_root)
    runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    if not runs:
        raise LookupError(f"{pipeline_root}: the metadata store holds no pipeline run")
    run = next((c for c in runs if c.name == run_id), None) if run_id else runs[-1]
    if run is None:
        raise LookupError(f"no run {run_id!r}; known: {', '.join(c.name for c in runs)}")
    node_of = {}  # execution id -> the pipeline node's id ("Trainer", "latest_blessed_model", ...)
    for node in store.get_contexts_by_type("node"):
        for execution in store.get_executions_by_context(node.id):
            node_of[execution.id] = node.name.split(".", 1)[-1]
    components = []
    examples_uri = model_uri = evaluation_uri = report_uri = pushed = None
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.create_time_since_epoch):
        events = [e for e in store.get_events_by_execution_ids([execution.id])
                  if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
        artifacts = store.get_artifacts_by_id([e.artifact_id for e in events])
        outputs = {}
        for artifact in artifacts:
            type_name = store.get_artifact_types_by_id([artifact.type_id])[0].name
            outputs[type_name] = artifact.uri
            if type_name == "Examples":
                examples_uri = artifact.uri
            if type_name == "Model":
                model_uri = artifact.uri
            if type_name == "DataValidationReport":
                report_uri = artifact.uri
            if type_name == "ModelEvaluation":
                evaluation_uri = artifact.uri
            if type_name == "PushedModel":
                pushed = artifact
        components.append({
            "component": node_of.get(execution.id, str(execution.id)),
            "state": _STATES.get(execution.last_known_state, "UNKNOWN"),
            "seconds": round((execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000, 1),
            "outputs": outputs,
        })
    summary = {"pipeline_root": pipeline_root, "run_id": run.name, "components": components}
    if examples_uri:
        summary["examples"] = _read_json(os.path.join(examples_uri, layout.SUMMARY_FILE))
        summary["examples_uri"] = examples_uri
    if report_uri:
        from components.data_gate.executor import REPORT_FILE

        with open(os.path.join(report_uri, REPORT_FILE)) as f:
            summary["validation"] = f.read()
    if model_uri:
        summary["training"] = _read_json(os.path.join(model_uri, TIMING_FILE))
        summary["model_uri"] = model_uri
    if evaluation_uri:
        summary["evaluation"] = _read_json(os.path.join(evaluation_uri, "metrics.json"))
        summary["evaluation_uri"] = evaluation_uri
    if pushed is not None:
        props = pushed.custom_properties
        summary["pushed"] = {
            "pushed": bool(props["pushed"].int_value) if "pushed" in props else False,
            "destination": props["pushed_destination"].string_value if "pushed_destination" in props else None,
            "version": props["pushed_version"].string_value if "pushed_version" in props else None,
        }
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"Run {summary['run_id']} ({summary['pipeline_root']})"]
    for c in summary["components"]:
        lines.append(f"  {c['component']:<22} {c['state']:<9} {c['seconds']:>8.1f} s")
    examples = summary.get("examples")
    if examples:
        counts = ", ".join(f"{split} {n}" for split, n in examples["num_examples"].items())
        lines.append(f"Examples: {counts}; instances {examples.get('num_instances')}; "
                     f"rejected inputs {examples.get('num_rejected')}  ({summary['examples_uri']})")
    if summary.get("validation"):
        lines.append("Validation: " + summary["validation"].replace("\n", "; "))
    training = summary.get("training")
    if training:
        lines.append(
            f"Training: steps {training['start_step']}->{training['end_step']} in {training['wall_time_s']:.0f} s, "
            f"median step {training['median_step_s']:.3f} s, {training['images_per_s']} images/s on "
            f"{training['device_count']} {training['device_kind']} ({training['precision']})")
        lines.append(f"Model: {summary['model_uri']}")
    evaluation = summary.get("evaluation")
    if evaluation:
        box, mask = evaluation["box"], evaluation["mask"]
        lines.append(f"Evaluation on {evaluation['num_images']} images: box AP {box['AP']:.3f} AP50 {box['AP50']:.3f} "
                     f"AP75 {box['AP75']:.3f}; mask AP {mask['AP']:.3f} AP50 {mask['AP50']:.3f} AP75 {mask['AP75']:.3f}")
        if "latency" in evaluation:
            latency, throughput = evaluation["latency"], evaluation["throughput"]
            lines.append(f"Latency (batch 1): median {latency['median_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms; "
                         f"batch {throughput['batch_size']}: {throughput['images_per_s']:.2f} images/s")
        blessing = evaluation["blessing"]
        lines.append(f"{'BLESSED' if blessing['blessed'] else 'NOT BLESSED'}: " + "; ".join(blessing["reasons"]))
    pushed = summary.get("pushed")
    if pushed:
        lines.append(f"Pushed: {pushed['destination']}" if pushed["pushed"] else "Pushed: nothing (not blessed)")
    return "\n".join(lines)
