"""The parts of a Kubeflow Pipelines backend that differ between the releases the contract run follows, and its
cache, reproduced from kubeflow/pipelines' source for tests/kfp_backend.py (written from the Go source, not from
the project's kubeflow/ modules, which the contract checks).

- driver/root_dag.go at 2.17.0 (L97-113; driver.go L133-152 at 2.2.0): a run's pipeline root is its runtime
  config's, else the namespace's kfp-launcher ConfigMap's `defaultPipelineRoot`, else
  minio://mlpipeline/v2/artifacts (config/env.go defaultPipelineRoot, both tags).
- config/s3.go (2.17.0; config/env.go getBucketProviders at 2.2.0): the launcher's store for a path is the
  ConfigMap's `providers` entry of its scheme: `default`, replaced field by field by the first of `overrides`
  whose bucketName equals the path's bucket and whose keyPrefix begins its key (strings.HasPrefix). With no entry
  a minio:// path gets the release's built-in endpoint (objectstore/config.go: at 2.2.0 MinioDefaultEndpoint,
  minio-service.kubeflow:9000 in a namespace without its own minio-service, as a profile's; at 2.17.0
  DefaultEndpointInMultiUserMode, seaweedfs.kubeflow:9000) and the secret mlpipeline-minio-artifact, keys
  accesskey / secretkey.
- driver/k8s.go (2.17.0, L366): secretAsEnv's secret is `secretNameParameter`'s value, else `secretName`; at
  2.2.0 the driver (driver.go L554-564) knows `secretName` alone (kubernetes_platform proto at 8b2a099e8c9f), and
  cmd/driver/main.go parses --kubernetes_config with jsonpb (unknown fields are errors; the protos of 2.2.0 in
  tests/kfp_driver.py).
- cacheutils/cache.go GenerateCacheKey / GenerateFingerPrint, driver/cache.go getFingerPrint (2.17.0): the key
  is the input artifacts' names (their ML Metadata ids), the input parameter values, the outputs' name, type and
  metadata (URI wiped; the driver's executor-logs among them), the output parameters' types, and the container's
  image, command + args (as compiled, before placeholders are filled) and sorted PVC names (none here); the
  fingerprint is the SHA-256 of that key as protojson, re-marshalled by encoding/json (sorted keys, compact).
  driver/container.go: the cache serves a task only with the cache on at the server and the task's
  cachingOptions.enableCache true; a hit reuses the cached execution's outputs (reuseCachedOutputs) and runs
  no container. At 2.2.0 the same (GenerateCacheKey has no PVC names, driver.go L321 the same condition).
- driver.go provisionOutputs (2.17.0; absent at 2.2.0): with PUBLISH_LOGS on, an `executor-logs` output. At
  2.17.0 an output's URI is <root>/<pipeline>/<run>/<task>/<salt>/<key> and the executor output file lies in the
  task root's local path; at 2.2.0 (driver.go L1206-1232, metadata/client.go GenerateOutputURI) the URI is
  <root>/<pipeline>/<run>/<task>/<key>, with no `name`, and the file is launcher_v2.go's OutputMetadataFilepath,
  /tmp/kfp_outputs/output_metadata.json, in the container.
- argocompiler/container.go: from 2.3.0 (kubeflow/pipelines#10538) the step's pod has emptyDir volumes at /gcs,
  /minio and /s3, writable by any user; at 2.2.0 only the launcher's own volume, so the launcher, as the image's
  user, makes those folders in the container's own file system (launcher_v2.go downloadArtifacts,
  prepareOutputFolders: os.MkdirAll) and fails on an image whose user may not write there.
- argocompiler/security_context.go at 2.17.0 (applySecurityContextToExecutorTemplate; none at 2.2.0): the step's
  container drops ALL capabilities, allows no privilege escalation, uses the RuntimeDefault seccomp profile, and
  with the admin's DEFAULT_SECURITY_CONTEXT_RUN_AS_NON_ROOT (apiserver/common/config.go; driver k8s.go near 715)
  runs with runAsNonRoot, which the kubelet checks against the image's user (kfp_kubelet.py).
Not reproduced: encoding/json's HTML escaping (<, >, & as \\u003c...; no such characters in this package's keys
matter for equality), the cache's scoping by pipeline name and namespace (one pipeline, one namespace here).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
from pathlib import Path

DEFAULT_ROOT = "minio://mlpipeline/v2/artifacts"
DEFAULT_SECRET = ("mlpipeline-minio-artifact", "accesskey", "secretkey")


@dataclasses.dataclass(frozen=True)
class Rules:
    tag: str
    strict_driver: bool  # cmd/driver/main.go: jsonpb.UnmarshalString (2.2.0) or util.UnmarshalString
    minio_endpoint: str  # objectstore/config.go, a minio:// path with no providers entry
    secret_name_parameter: bool  # driver/k8s.go reads secretNameParameter
    publish_logs: bool  # driver.go provisionOutputs adds executor-logs (PUBLISH_LOGS, default true)
    task_root_outputs: bool  # driver.go provisionOutputs: <task>/<salt>/<key>, the output file in the task's root
    scratch_volumes: bool  # argocompiler/container.go: emptyDirs at /gcs, /minio, /s3 (from 2.3.0)
    security_context: dict | None = None  # the step container's, as the compiler and the driver write it


RULES = {
    r.tag: r
    for r in (
        Rules(
            "2.2.0",
            strict_driver=True,
            minio_endpoint="minio-service.kubeflow:9000",
            secret_name_parameter=False,
            publish_logs=False,
            task_root_outputs=False,
            scratch_volumes=False,
        ),
        Rules(
            "2.17.0",
            strict_driver=False,
            minio_endpoint="seaweedfs.kubeflow:9000",
            secret_name_parameter=True,
            publish_logs=True,
            task_root_outputs=True,
            scratch_volumes=True,
            security_context={
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
                "runAsNonRoot": True,
            },
        ),
    )
}


OUTPUT_METADATA_FILEPATH = "/tmp/kfp_outputs/output_metadata.json"  # launcher_v2.go at 2.2.0
LAUNCHER_VOLUME = "/kfp-launcher"  # argocompiler/container.go volumePathKFPLauncher, every tag
# launcher_v2.go execute at 2.2.0, the part that runs in the step's container as the image's user when the pod
# has no scratch volumes (kfp_store.Rules.scratch_volumes): the inputs to their local paths (downloadArtifacts,
# DownloadBlob: os.MkdirAll), each output's folder (prepareOutputFolders), the command, then what the launcher
# reads back: the outputs' local paths and the executor output file (uploadOutputArtifacts,
# getExecutorOutputFile). Here the launcher's volume carries them in and out of the container.
IN_CONTAINER_LAUNCHER = """umask 000
cp -R {volume}/in/. / || exit 1
for folder in {folders}; do mkdir -p "$folder" || exit 1; done
"$@"; code=$?
for path in {outputs}; do
  if [ -e "$path" ]; then mkdir -p "{volume}/out$(dirname "$path")" && cp -R "$path" "{volume}/out$path" || exit 1; fi
done
exit $code
"""


def in_container_launcher(argv: list[str], outputs: list[str], output_file: str) -> list[str]:
    """The step's command wrapped in IN_CONTAINER_LAUNCHER, for a pod with no scratch volumes."""
    script = IN_CONTAINER_LAUNCHER.format(
        volume=LAUNCHER_VOLUME,
        folders=" ".join(shlex.quote(os.path.dirname(p)) for p in outputs),
        outputs=" ".join(shlex.quote(p) for p in [*outputs, output_file]),
    )
    return ["sh", "-c", script, "launcher", *argv]


def pipeline_root(runtime_root: str | None, configmap: dict[str, str]) -> str:
    """root_dag.go: the run's root, else the ConfigMap's, else the built-in one."""
    return runtime_root or configmap.get("defaultPipelineRoot") or DEFAULT_ROOT


@dataclasses.dataclass(frozen=True)
class Store:
    endpoint: str
    secret: tuple[str, str, str]  # secret name, access key's key, secret key's key
    disable_ssl: bool

    def url(self) -> str:
        scheme = "http" if self.disable_ssl else "https"
        return self.endpoint if "://" in self.endpoint else f"{scheme}://{self.endpoint}"


def launcher_store(configmap: dict[str, str], path: str, rules: Rules) -> Store:
    """The store and secret the launcher opens `path` with (s3.go; only secretRef credentials, as here)."""
    import yaml

    scheme, _, rest = path.partition("://")
    bucket, _, key = rest.partition("/")
    entry = (yaml.safe_load(configmap.get("providers") or "{}") or {}).get(scheme)
    if not entry:
        assert scheme == "minio", f"{path}: no providers entry: the AWS default session (not reproduced)"
        return Store(rules.minio_endpoint, DEFAULT_SECRET, True)
    chosen = dict(entry["default"])
    override = next(
        (
            o
            for o in entry.get("overrides") or []
            if o["bucketName"] == bucket and key.startswith(o.get("keyPrefix", ""))
        ),
        None,
    )
    chosen.update({k: v for k, v in (override or {}).items() if v not in (None, "")})
    ref = chosen["credentials"]["secretRef"]
    return Store(
        chosen["endpoint"],
        (ref["secretName"], ref["accessKeyKey"], ref["secretKeyKey"]),
        bool(chosen.get("disableSSL")),
    )


def secret_env(platform_executor: dict, secrets: dict[str, dict[str, str]], rules: Rules) -> dict[str, str]:
    """The env a step's pod gets from secretAsEnv (k8s.go): the named secret's keys. The driver only writes
    secretKeyRefs; a secret the namespace lacks holds the pod in CreateContainerConfigError (the kubelet's)."""
    env = {}
    for item in platform_executor.get("secretAsEnv", []):
        name = item.get("secretName")
        if rules.secret_name_parameter and "secretNameParameter" in item:
            name = item["secretNameParameter"]["runtimeValue"]["constant"]
        assert name in secrets, f'CreateContainerConfigError: secret "{name}" not found'
        for key in item["keyToEnv"]:
            env[key["envVar"]] = secrets[name][key["secretKey"]]
    return env


def _drop_empty(value):
    """protojson leaves unset and empty fields out."""
    if isinstance(value, dict):
        value = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in value.items() if v not in ({}, [], "", None)}
    return [_drop_empty(v) for v in value] if isinstance(value, list) else value


def cache_fingerprint(executor_input: dict, container: dict) -> str:
    """cacheutils/cache.go: the SHA-256 of the cache key as encoding/json writes it."""
    outputs = executor_input["outputs"]
    key = {
        "inputArtifactNames": {
            name: {"artifactNames": [a["name"] for a in artifacts["artifacts"]]}
            for name, artifacts in executor_input["inputs"].get("artifacts", {}).items()
        },
        "inputParameterValues": executor_input["inputs"].get("parameterValues", {}),
        "outputArtifactsSpec": {
            name: {k: artifacts["artifacts"][0].get(k) for k in ("name", "type", "metadata")}
            for name, artifacts in outputs.get("artifacts", {}).items()
            if artifacts["artifacts"]
        },
        "outputParametersSpec": dict.fromkeys(outputs.get("parameters", {}), ""),
        "containerSpec": {
            "image": container["image"],
            "cmdArgs": [*container["command"], *container["args"]],
            "pvcNames": [],
        },
    }
    text = json.dumps(_drop_empty(key), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_executor_output(text: str, where: str) -> dict:
    """launcher_v2.go getExecutorOutputFile: protojson.Unmarshal into ExecutorOutput (strict JSON, unknown fields
    are errors), here with protobuf's json_format, its Python equal."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    def refuse(constant):
        raise ValueError(f"{where}: {constant} is not JSON")

    output = json.loads(text, parse_constant=refuse)
    try:
        json_format.ParseDict(output, pipeline_spec_pb2.ExecutorOutput(), ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise ValueError(f"{where}: the launcher refuses the executor output: {error}") from None
    return output


class ObjectStore:
    """The bucket side of the launcher: an S3-compatible store through s3fs (gocloud's blob in the launcher)."""

    def __init__(self, fs):
        self.fs = fs

    @staticmethod
    def key(uri: str) -> str:
        return uri.partition("://")[2]

    def download(self, uri: str, local: Path) -> None:
        """objectstore DownloadBlob: every key equal to the prefix or under it; a key ending in '/' (a folder
        marker) becomes an empty file."""
        prefix = self.key(uri)
        for key in self.fs.find(prefix):
            if key != prefix and not key.startswith(prefix + "/"):
                continue
            relative = key[len(prefix) :].strip("/")
            target = local / relative if relative else local
            target.parent.mkdir(parents=True, exist_ok=True)
            if key.endswith("/"):
                target.touch()
            else:
                self.fs.get_file(key, str(target))

    def upload(self, local: Path, uri: str) -> None:
        """objectstore UploadBlob: a file to the key, a folder's files under it; no folder markers."""
        key = self.key(uri)
        if local.is_file():
            self.fs.put_file(str(local), key)
            return
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.fs.put_file(str(path), f"{key}/{path.relative_to(local).as_posix()}")
