"""What a pipeline run did, read back from ML Metadata and the components' outputs."""

from __future__ import annotations

import json
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.data_gate.constants import REPORT_FILE, REPORT_TYPE_NAME
from components.evaluator.constants import METRICS_FILE
from components.serving_check.constants import REPORT_FILE as SERVING_CHECK_FILE
from components.trainer.constants import TIMING_FILE
from dataset import layout

METADATA_FILE = "metadata.sqlite"  # the local runner's ML Metadata store, in the pipeline root

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


def _store(pipeline_root: str) -> metadata_store.MetadataStore:
    path = os.path.join(pipeline_root, METADATA_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"no metadata store at {path}: is {pipeline_root} a pipeline root of `maskrcnn-tfx run`?"
        )
    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(path))


def _read_json(path: str) -> dict | None:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _runs(store: metadata_store.MetadataStore) -> list:
    return sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)


def run_ids(pipeline_root: str) -> list[str]:
    """The pipeline runs in the metadata store, oldest first."""
    return [run.name for run in _runs(_store(pipeline_root))]


def latest_run(pipeline_root: str, run_id: str | None = None) -> dict:
    """The components of one pipeline run (the newest by default), with their outputs."""
    store = _store(pipeline_root)
    runs = _runs(store)
    if not runs:
        raise LookupError(f"{pipeline_root}: the metadata store holds no pipeline run")
    run = next((c for c in runs if c.name == run_id), None) if run_id else runs[-1]
    if run is None:
        raise LookupError(f"no run {run_id!r}; known: {', '.join(c.name for c in runs)}")
    node_of = {}  # execution id -> the pipeline node's id ("Trainer", "Pusher", ...)
    for node in store.get_contexts_by_type("node"):
        for execution in store.get_executions_by_context(node.id):
            node_of[execution.id] = node.name.split(".", 1)[-1]
    components = []
    examples_uri = model_uri = evaluation_uri = report_uri = pushed = serving_check_uri = None
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.create_time_since_epoch):
        events = [
            e
            for e in store.get_events_by_execution_ids([execution.id])
            if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        ]
        artifacts = store.get_artifacts_by_id([e.artifact_id for e in events])
        outputs = {}
        for artifact in artifacts:
            type_name = store.get_artifact_types_by_id([artifact.type_id])[0].name
            outputs[type_name] = artifact.uri
            if type_name == "Examples":
                examples_uri = artifact.uri
            if type_name == "Model":
                model_uri = artifact.uri
            if type_name == REPORT_TYPE_NAME:
                report_uri = artifact.uri
            if type_name == "ModelEvaluation":
                evaluation_uri = artifact.uri
            if type_name == "InfraBlessing":
                serving_check_uri = artifact.uri
            if type_name == "PushedModel":
                pushed = artifact
        components.append(
            {
                "component": node_of.get(execution.id, str(execution.id)),
                "state": _STATES.get(execution.last_known_state, "UNKNOWN"),
                "seconds": round(
                    (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000, 1
                ),
                "started_ms": execution.create_time_since_epoch,
                "ended_ms": execution.last_update_time_since_epoch,
                "outputs": outputs,
            }
        )
    summary = {"pipeline_root": pipeline_root, "run_id": run.name, "components": components}
    if examples_uri:
        summary["examples"] = _read_json(os.path.join(examples_uri, layout.SUMMARY_FILE))
        summary["examples_uri"] = examples_uri
    if report_uri:
        import tensorflow as tf

        with tf.io.gfile.GFile(os.path.join(report_uri, REPORT_FILE)) as f:
            summary["validation"] = f.read()
    if model_uri:
        summary["training"] = _read_json(os.path.join(model_uri, TIMING_FILE))
        summary["model_uri"] = model_uri
    if evaluation_uri:
        summary["evaluation"] = _read_json(os.path.join(evaluation_uri, METRICS_FILE))
        summary["evaluation_uri"] = evaluation_uri
    if serving_check_uri:
        summary["serving_check"] = _read_json(os.path.join(serving_check_uri, SERVING_CHECK_FILE))
    if pushed is not None:
        props = pushed.custom_properties
        summary["pushed"] = {
            "pushed": bool(props["pushed"].int_value) if "pushed" in props else False,
            "destination": props["pushed_destination"].string_value if "pushed_destination" in props else None,
            "version": props["pushed_version"].string_value if "pushed_version" in props else None,
        }
    return summary
