"""The container entrypoint of every step of a compiled package: TFX's own
(`tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`), with the executor input that an
open-source Kubeflow Pipelines backend hands a step made what TFX's entrypoint can read.

What the backend gives, read in kubeflow/pipelines 2.17.0, `backend/src/v2/`:
- Types. An input produced upstream arrives as `type: {instanceSchema: ""}`: the driver does not read the type
  back from ML Metadata (`metadata/client.go` GetOutputArtifactsByExecutionId, `Schema: "" // TODO(Bobgy)`;
  `converter.go` ToRuntimeArtifact). TFX's entrypoint fails on it (`kubeflow_v2_entrypoint_utils.py`
  `_retrieve_class_path`: an empty schema is None), as on titles it does not map (`system.Dataset`). The
  component's declared types are the authority here: the inputs spec TFX compiles into the arguments, and the
  outputs spec `kubeflow compile` adds (OUTPUTS_SPEC_FLAG).
- Storage. The launcher downloads every input artifact under gs://, s3:// or minio:// to a local path before
  the command and uploads every output from its local path after it (`component/launcher_v2.go`
  downloadArtifacts, uploadOutputArtifacts, LocalPathForURI: `gs://b/k` -> `/gcs/b/k`, `s3://` -> `/s3/`,
  `minio://` -> `/minio/`, emptyDir volumes the compiler mounts). TFX's executors read and write `artifact.uri`
  with tf.io.gfile, which knows no S3: they are given those local paths, so they never touch the store. The
  executor output names the remote URIs again, because the launcher takes an output's URI from it when it is
  set (mergeRuntimeArtifacts: `if len(src.Uri) > 0 { dst.Uri = src.Uri }`). Where no such folder exists
  (Vertex mounts /gcs itself; kfp.local has local URIs) the URIs are left as they are. The image makes the three
  folders, writable by all: KFP 2.2.0's pods mount no volume there and its launcher, as the image's user, makes
  them (argocompiler/container.go; emptyDirs from 2.3.0).
"""

from __future__ import annotations

import argparse
import json
import os

OUTPUTS_SPEC_FLAG = "--json_serialized_outputs_spec_args"
LOCAL_ROOTS = {"gs": "/gcs", "s3": "/s3", "minio": "/minio"}  # launcher_v2.go LocalPathForURI
ArtifactKey = tuple[str, int]  # output key, index in its list


def local_path(uri: str) -> str | None:
    """Where KFP's launcher stages `uri`, if its volume is mounted here."""
    scheme, separator, rest = uri.partition("://")
    root = LOCAL_ROOTS.get(scheme) if separator else None
    return f"{root}/{rest}" if root and os.path.isdir(root) else None


def with_declared_types(artifacts: dict, spec: dict, drop_undeclared: bool = False) -> None:
    """Each artifact typed as the component declares it (in place). With drop_undeclared, artifacts the
    component does not declare are left out (the launcher's own `executor-logs` output, `system.Artifact`)."""
    declared = spec.get("artifacts", {})
    for key in list(artifacts):
        if key not in declared:
            if drop_undeclared:
                del artifacts[key]
            continue
        for artifact in artifacts[key].get("artifacts", []):
            artifact["type"] = declared[key]["artifactType"]


def with_local_paths(artifacts: dict) -> dict[ArtifactKey, str]:
    """Artifact URIs replaced by the launcher's local copies (in place); returns the remote URI of each."""
    remote = {}
    for key, artifact_list in artifacts.items():
        for index, artifact in enumerate(artifact_list.get("artifacts", [])):
            local = local_path(artifact.get("uri", ""))
            if local:
                remote[key, index], artifact["uri"] = artifact["uri"], local
    return remote


def prepare(executor_input: dict, inputs_spec: dict, outputs_spec: dict) -> dict[ArtifactKey, str]:
    """The executor input as TFX's entrypoint reads it (in place); returns the outputs' remote URIs."""
    inputs = executor_input.setdefault("inputs", {}).setdefault("artifacts", {})
    outputs = executor_input.setdefault("outputs", {}).setdefault("artifacts", {})
    with_declared_types(inputs, inputs_spec)
    with_declared_types(outputs, outputs_spec, drop_undeclared=bool(outputs_spec))
    with_local_paths(inputs)
    return with_local_paths(outputs)


def output_file(executor_input: dict) -> str:
    outputs = executor_input["outputs"]
    return outputs.get("outputFile") or outputs.get("output_file", "")


class ExecutorOutputError(ValueError):
    """An executor output KFP's launcher would refuse; the message names the file and what is wrong."""


def check_executor_output(text: str, output_file: str) -> dict:
    """The executor output parsed as KFP's launcher parses it (`protojson.Unmarshal` into ExecutorOutput,
    kubeflow/pipelines 2.2.0 and 2.17.0 `backend/src/v2/component/launcher_v2.go` getExecutorOutputFile): strict
    JSON (no NaN or Infinity, which Python's json writes) and no field ExecutorOutput lacks."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    def refuse(constant):
        raise ExecutorOutputError(f"{output_file}: {constant} is not JSON; KFP's launcher refuses the executor output")

    try:
        output = json.loads(text, parse_constant=refuse)
        json_format.ParseDict(output, pipeline_spec_pb2.ExecutorOutput(), ignore_unknown_fields=False)
    except (json.JSONDecodeError, json_format.ParseError) as error:
        raise ExecutorOutputError(
            f"{output_file}: KFP's launcher would refuse this executor output ({error})"
        ) from None
    return output


def restore_remote_uris(output_file: str, remote: dict[ArtifactKey, str]) -> None:
    """The executor output written by TFX's entrypoint, checked as the launcher reads it, its artifacts named by
    their remote URIs again and their metadata's null values left out: the launcher stores the metadata in ML
    Metadata and refuses a null ("unknown/unsupported value type", `metadata/converter.go`
    StructValueToMLMDValue at 2.2.0 and 2.17.0), which would fail the step after its work."""
    if not os.path.exists(output_file):
        return
    with open(output_file) as f:
        output = check_executor_output(f.read(), output_file)
    nulls = []
    for key, artifact_list in output.get("artifacts", {}).items():
        for index, artifact in enumerate(artifact_list.get("artifacts", [])):
            if (key, index) in remote:
                artifact["uri"] = remote[key, index]
            metadata = artifact.get("metadata", {})
            for name in [n for n, v in metadata.items() if v is None]:
                del metadata[name]
                nulls.append(f"{key}.{name}")
    if nulls:
        print(f"left out of the output metadata (ML Metadata keeps no null): {', '.join(nulls)}")
    if not remote and not nulls:
        return
    with open(output_file, "w") as f:
        json.dump(output, f, allow_nan=False)


def parse_flags(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """TFX's entrypoint flags (absl's argparse, as TFX parses them), plus the outputs spec; the rest are
    Beam's arguments."""
    from absl.flags import argparse_flags

    parser = argparse_flags.ArgumentParser()
    parser.add_argument("--executor_class_path", required=True)
    parser.add_argument("--json_serialized_invocation_args", required=True)
    parser.add_argument("--json_serialized_inputs_spec_args", default="{}")
    parser.add_argument(OUTPUTS_SPEC_FLAG, dest="json_serialized_outputs_spec_args", default="{}")
    return parser.parse_known_args(argv[1:])


def main(parsed: tuple[argparse.Namespace, list[str]]) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils, kubeflow_v2_run_executor
    from tfx.orchestration.portable import outputs_utils

    args, beam_args = parsed
    executor_input = json.loads(args.json_serialized_invocation_args)
    remote = prepare(
        executor_input,
        json.loads(args.json_serialized_inputs_spec_args),
        json.loads(args.json_serialized_outputs_spec_args),
    )
    args.json_serialized_invocation_args = json.dumps(executor_input)
    outputs = json_format.ParseDict(
        executor_input["outputs"], pipeline_spec_pb2.ExecutorInput.Outputs(), ignore_unknown_fields=True
    )
    # KFP's launcher makes no folder for an output; TFX's own launchers do before an executor runs.
    outputs_utils.make_output_dirs(kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(outputs.artifacts))
    kubeflow_v2_run_executor._run_executor(args, beam_args)  # noqa: SLF001 - TFX's entrypoint, past its flags
    restore_remote_uris(output_file(executor_input), remote)


if __name__ == "__main__":
    from absl import app

    app.run(main, flags_parser=parse_flags)
