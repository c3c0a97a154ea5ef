"""What an open-source Kubeflow Pipelines backend does with a package, reproduced from its source for the
contract tests: its compiler's rules, its driver's executor input and its launcher's staging of artifacts.

Followed: kubeflow/pipelines tag 2.17.0 (commit 4a3592cb2dd0a91a4652ab93893ec8beda1f3158), `backend/src/`:
- apiserver/template/v2_template.go NewV2SpecTemplate: schema 2.1.0; a second YAML document with
  `platforms.kubernetes` is the platform spec.
- v2/compiler/visitor.go (L134), argocompiler/dag.go (L341-356): only container and importer executors; no
  `triggerPolicy.condition` on an importer.
- v2/driver/driver.go initPodSpecPatch (L289-447): resources from resource_cpu_request / resource_memory_request
  (else cpu_request / memory_request), accelerator.resource_type + resource_count (else type + count); the
  container's env; k8s.go extendPodSpecPatch: the platform spec's secretAsEnv.
- v2/driver/root_dag.go: the run's pipeline root, else the kfp-launcher ConfigMap's, else
  minio://mlpipeline/v2/artifacts (the package's defaultPipelineRoot is not read).
- v2/driver/driver.go provisionOutputs (L741-810): an output's URI is
  <root>/<pipeline>/<run>/<task>/<uuid>/<key>, its type the component's outputDefinitions', metadata empty;
  outputFile = LocalPathForURI(<root>/<pipeline>/<run>/<task>/<uuid>)/output_metadata.json.
- v2/driver/resolve.go + v2/metadata/converter.go ToRuntimeArtifact, client.go GetOutputArtifactsByExecutionId:
  an upstream output arrives as name = its ML Metadata id, type `{instanceSchema: ""}`, metadata with every
  number a double and `display_name` / `store_session_info` added by RecordArtifact (client.go L1234-1250);
  an optional input nobody produces is absent; parameters are the constants as JSON values and the run's
  arguments or the pipeline's defaults.
- v2/component/launcher_v2.go: `{{$}}` is the executor input as compact JSON (compileCmdAndArgs); every input
  artifact under gs://, minio://, s3:// is downloaded by prefix to LocalPathForURI before the command
  (downloadArtifacts, objectstore DownloadBlob: a zero-byte `dir/` marker becomes an empty file); after it, an
  executor output's non-empty URI and metadata are merged into each provisioned output (mergeRuntimeArtifacts),
  the URI must lie under the run's prefix, and the local path is uploaded (file or folder; missing: a warning);
  a missing executor output is an empty one.
Not reproduced: Argo and Kubernetes themselves (a step is a container of the image with the launcher's
volumes mounted), ML Metadata's server (a list here), the cache (steps always run), retries, executor logs.
"""
from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path

import yaml

SCHEMA_VERSION = "2.1.0"
LOCAL_ROOTS = {"gs": "/gcs", "minio": "/minio", "s3": "/s3"}
OUTPUT_METADATA_FILE = "output_metadata.json"


def load_package(path: Path) -> tuple[dict, dict]:
    """The PipelineSpec and the Kubernetes platform spec ({} if none), as v2_template.go reads them."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    spec = next(d for d in docs if "pipelineInfo" in d)
    platform = next((d for d in docs if "kubernetes" in d.get("platforms", {})), {})
    return spec, platform.get("platforms", {}).get("kubernetes", {})


def compiler_violations(spec: dict) -> list[str]:
    """What the API server and the backend's compiler refuse, in their words."""
    problems = []
    if spec.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(f"KFP only supports schema version 2.1.0, but the pipeline spec has version "
                        f"{spec.get('schemaVersion')}")
    executors = spec["deploymentSpec"]["executors"]
    for name, component in spec["components"].items():
        executor = executors.get(component.get("executorLabel"), {})
        if not {"container", "importer"} & set(executor):
            problems.append(f"error processing component name={name!r}: executor(label="
                            f"{component.get('executorLabel')!r}): non-container and non-importer executor not "
                            f"implemented")
    for task_name, task in spec["root"]["dag"]["tasks"].items():
        executor = executors.get(spec["components"][task["componentRef"]["name"]].get("executorLabel"), {})
        if "importer" in executor and task.get("triggerPolicy", {}).get("condition"):
            problems.append(f"compiling task {task_name!r}: triggerPolicy.condition on importer task is not supported")
    return problems


def pod_resources(container: dict) -> dict:
    """The requests and limits driver.go initPodSpecPatch gives the step's pod: the string fields first, the
    deprecated floats else; an accelerator only with both its type and its count (a limit)."""
    resources = container.get("resources", {})
    accelerator = resources.get("accelerator", {})
    requests = {"cpu": resources.get("resourceCpuRequest") or resources.get("cpuRequest"),
                "memory": resources.get("resourceMemoryRequest") or resources.get("memoryRequest")}
    kind = accelerator.get("resourceType") or accelerator.get("type")
    count = accelerator.get("resourceCount") or accelerator.get("count")
    return {"requests": {k: v for k, v in requests.items() if v}, "limits": {kind: str(count)} if kind and count else {}}


def local_path(uri: str) -> str:
    """launcher_v2.go LocalPathForURI."""
    scheme, _, rest = uri.partition("://")
    return f"{LOCAL_ROOTS[scheme]}/{rest}"


def ordered_tasks(spec: dict) -> list[str]:
    tasks, ordered = spec["root"]["dag"]["tasks"], []

    def visit(name):
        if name not in ordered:
            for upstream in sorted(tasks[name].get("dependentTasks", [])):
                visit(upstream)
            ordered.append(name)

    for name in sorted(tasks):
        visit(name)
    return ordered


def _as_doubles(value):
    """ML Metadata round trip as the driver returns it: ints and bools become JSON numbers (doubles)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    return value


@dataclasses.dataclass
class Recorded:
    """An output artifact as ML Metadata keeps it."""
    id: int
    uri: str
    metadata: dict


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
            relative = key[len(prefix):].strip("/")
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


@dataclasses.dataclass
class StepRun:
    task: str
    executor_input: dict
    executor_output: dict
    outputs: dict[str, Recorded]
    log: str


class Backend:
    """Runs a package's tasks in order as the driver and launcher would, each in a container of its image.

    `run_container(image, argv, env, mounts) -> (exit code, log)` starts the step's container with the
    launcher's volumes (`mounts`: host folder -> /minio, /s3, /gcs); `secrets` are the namespace's Kubernetes
    secrets ({name: {key: value}})."""

    def __init__(self, store: ObjectStore, run_container, secrets: dict[str, dict[str, str]], work_dir: Path):
        self.store, self.run_container, self.secrets, self.work_dir = store, run_container, secrets, work_dir
        self.artifacts: list[Recorded] = []

    def run(self, package: Path, pipeline_root: str, arguments: dict | None = None) -> dict[str, StepRun]:
        spec, platform = load_package(package)
        assert not compiler_violations(spec), compiler_violations(spec)
        run_id = uuid.uuid4().hex
        prefix = f"{pipeline_root.rstrip('/')}/{spec['pipelineInfo']['name']}/{run_id}"
        parameters = {name: (arguments or {}).get(name, definition.get("defaultValue"))
                      for name, definition in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items()}
        steps: dict[str, StepRun] = {}
        for task in ordered_tasks(spec):
            steps[task] = self.run_task(spec, platform, task, prefix, parameters, steps)
        return steps

    def executor_input(self, spec: dict, task: str, prefix: str, parameters: dict,
                       steps: dict[str, StepRun]) -> dict:
        task_spec = spec["root"]["dag"]["tasks"][task]
        component = spec["components"][task_spec["componentRef"]["name"]]
        values = {}
        for name, source in task_spec.get("inputs", {}).get("parameters", {}).items():
            values[name] = parameters[source["componentInputParameter"]] if "componentInputParameter" in source \
                else source["runtimeValue"]["constant"]
        inputs = {}
        for name, source in task_spec.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            recorded = steps[producer["producerTask"]].outputs[producer["outputArtifactKey"]]
            inputs[name] = {"artifacts": [{"name": str(recorded.id), "uri": recorded.uri,
                                           "type": {"instanceSchema": ""}, "metadata": recorded.metadata}]}
        task_root = f"{prefix}/{task}/{uuid.uuid4()}"
        outputs = {name: {"artifacts": [{"name": name, "uri": f"{task_root}/{name}",
                                         "type": definition["artifactType"], "metadata": {}}]}
                   for name, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items()}
        return {"inputs": {"parameterValues": values, "artifacts": inputs},
                "outputs": {"artifacts": outputs, "outputFile": f"{local_path(task_root)}/{OUTPUT_METADATA_FILE}"}}

    def pod_env(self, container: dict, platform_executor: dict) -> dict[str, str]:
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        for secret in platform_executor.get("secretAsEnv", []):
            name = secret.get("secretNameParameter", {}).get("runtimeValue", {}).get("constant") or secret["secretName"]
            for item in secret["keyToEnv"]:
                env[item["envVar"]] = self.secrets[name][item["secretKey"]]
        return env

    def run_task(self, spec: dict, platform: dict, task: str, prefix: str, parameters: dict,
                 steps: dict[str, StepRun]) -> StepRun:
        label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
        container = spec["deploymentSpec"]["executors"][label]["container"]
        executor_input = self.executor_input(spec, task, prefix, parameters, steps)
        pod = self.work_dir / f"{task}-{uuid.uuid4().hex[:8]}"
        mounts = {str(pod / root.strip("/")): root for root in LOCAL_ROOTS.values()}
        for host in mounts:
            os.makedirs(host)

        def on_host(path: str) -> Path:
            root = "/" + path.lstrip("/").split("/", 1)[0]
            return pod / path.lstrip("/") if root in LOCAL_ROOTS.values() else Path(path)

        for artifact_list in executor_input["inputs"]["artifacts"].values():
            for artifact in artifact_list["artifacts"]:
                self.store.download(artifact["uri"], on_host(local_path(artifact["uri"])))
        compact = json.dumps(executor_input, separators=(",", ":"))
        argv = [*container["command"], *(compact if a == "{{$}}" else a for a in container["args"])]
        env = self.pod_env(container, platform.get("deploymentSpec", {}).get("executors", {}).get(label, {}))
        code, log = self.run_container(container["image"], argv, env, mounts)
        assert code == 0, f"step {task} failed with exit code {code}:\n{log[-4000:]}"
        output_file = on_host(executor_input["outputs"]["outputFile"])
        executor_output = json.loads(output_file.read_text()) if output_file.exists() else {}
        recorded = {}
        for name, artifact_list in executor_input["outputs"]["artifacts"].items():
            artifact = dict(artifact_list["artifacts"][0])
            written = executor_output.get("artifacts", {}).get(name, {}).get("artifacts", [])
            if written:
                artifact["uri"] = written[0].get("uri") or artifact["uri"]
                artifact["metadata"] = {**artifact["metadata"], **written[0].get("metadata", {})}
            assert artifact["uri"].startswith(prefix + "/"), \
                f"failed to upload output artifact {name!r}: URI {artifact['uri']!r} does not have expected " \
                f"bucket prefix {prefix!r}"
            local = on_host(local_path(artifact["uri"]))
            if local.exists():
                self.store.upload(local, artifact["uri"])
            self.artifacts.append(Recorded(len(self.artifacts) + 1, artifact["uri"], _as_doubles(
                {**artifact["metadata"], "display_name": name, "store_session_info": "{}"})))
            recorded[name] = self.artifacts[-1]
        return StepRun(task, executor_input, executor_output, recorded, log)
