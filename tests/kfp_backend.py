"""What an open-source Kubeflow Pipelines backend does with a package, reproduced from its source for the
contract tests: its driver's executor input, pod env and cache, and its launcher's store, staging of artifacts
and logs. What it reads in a package before any step runs (its compiler's rules, a pod's resources):
kfp_compiler.py. The parts that differ between releases, the store and the cache: kfp_store.py.

Followed: kubeflow/pipelines tag 2.17.0 (commit 4a3592cb2dd0a91a4652ab93893ec8beda1f3158), `backend/src/`:
- v2/driver/driver.go initPodSpecPatch: the container's env; k8s.go extendPodSpecPatch: the platform spec's
  secretAsEnv as secretKeyRefs (a missing secret holds the pod in CreateContainerConfigError, the kubelet's).
- v2/driver/root_dag.go: the run's pipeline root, else the kfp-launcher ConfigMap's, else
  minio://mlpipeline/v2/artifacts (the package's defaultPipelineRoot is not read).
- v2/driver/driver.go provisionOutputs (L741-810): an output's URI is
  <root>/<pipeline>/<run>/<task>/<uuid>/<key>, its type the component's outputDefinitions', metadata empty;
  outputFile = LocalPathForURI(<root>/<pipeline>/<run>/<task>/<uuid>)/output_metadata.json.
- v2/driver/resolve.go + v2/metadata/converter.go ToRuntimeArtifact, client.go GetOutputArtifactsByExecutionId:
  an upstream output arrives as name = its ML Metadata id, type `{instanceSchema: ""}`, metadata as ML Metadata
  keeps it (kfp_metadata.py: numbers doubles, bools 1/0, lists and structs wrapped, a null an error at publish)
  and `display_name` / `store_session_info` added by RecordArtifact (client.go L1234-1250);
  parameters are the constants as JSON values and the run's arguments or the pipeline's defaults.
- v2/cacheutils/cache.go + driver.go: a task with cachingOptions.enableCache whose fingerprint an earlier run
  of the same install recorded runs no container and reuses that execution's outputs (kfp_store.py).
- v2/config/s3.go (env.go GetStoreSessionInfo): the launcher reaches the root's store with the ConfigMap's
  providers entry and the secret it names (kfp_store.py); the steps reach their own paths with the env the
  package gives them. The store checks both identities (tests/test_kfp_install.py: moto with IAM enforced).
- v2/component/launcher_v2.go: `{{$}}` is the executor input as compact JSON (compileCmdAndArgs); every input
  artifact under gs://, minio://, s3:// is downloaded by prefix to LocalPathForURI before the command
  (downloadArtifacts, objectstore DownloadBlob: a zero-byte `dir/` marker becomes an empty file); with
  PUBLISH_LOGS on (the API server's deployment manifest sets it) the executor input has one output more,
  `executor-logs` (system.Artifact, provisioned by driver.go provisionOutputs, so in the cache key; the launcher
  names the first attempt's executor-logs-0, writes the step's output there and uploads it as an output
  artifact: qualifyExecutorLogsForRetry, getLogWriter); the executor output is read with
  protojson (strict: unknown fields and NaN are errors); an executor output's non-empty URI and metadata are
  merged into each provisioned output (mergeRuntimeArtifacts), the URI must lie under the run's prefix, and
  the local path is uploaded (file or folder; missing: a warning); a missing executor output is an empty one.
Read at 2.2.0 where it differs (kfp_store.RULES): cmd/driver/main.go's strict jsonpb parsing of every step's
specs (with 2.2.0's protos, tests/kfp_driver.py), k8s.go's secretName alone, objectstore/config.go's
built-in endpoint minio-service.kubeflow:9000, driver.go's outputs (no executor-logs, no salt, no name, the
output file at /tmp/kfp_outputs), cacheutils/cache.go's key without PVC names, and a pod with no scratch volumes:
launcher_v2.go's execute (downloadArtifacts, prepareOutputFolders, getExecutorOutputFile: the same as 2.17.0's
but for the output file) writes /minio in the container's own file system as the image's user.
Not reproduced: Argo and Kubernetes (a step is a container of the image with the pod's volumes, at 2.2.0 the
launcher's in-container part a shell script: kfp_store.in_container_launcher), ML Metadata's and the API server's
stores, the AWS default session (an s3:// root without providers), retries, the log upload's object layout."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path

import kfp_metadata
import kfp_store
from kfp_compiler import compiler_violations, load_package, ordered_tasks

LOCAL_ROOTS = {"gs": "/gcs", "minio": "/minio", "s3": "/s3"}
OUTPUT_METADATA_FILE = "output_metadata.json"
LOGS_OUTPUT = "executor-logs"


def local_path(uri: str) -> str:
    """launcher_v2.go LocalPathForURI."""
    scheme, _, rest = uri.partition("://")
    return f"{LOCAL_ROOTS[scheme]}/{rest}"


@dataclasses.dataclass
class Recorded:
    """An output artifact as ML Metadata keeps it."""

    id: int
    uri: str
    metadata: dict


@dataclasses.dataclass
class StepRun:
    task: str
    executor_input: dict
    executor_output: dict
    outputs: dict[str, Recorded]
    log: str
    cached: bool = False
    logs_uri: str = ""


class Backend:
    """One install: runs a package's tasks in order as the driver and launcher would, each in a container of its
    image, with the install's cache kept across runs.

    `run_container(image, argv, env, mounts, image_user, security) -> (exit code, log)` starts the step's
    container with the pod's volumes (`mounts`: host folder -> /minio, /s3, /gcs, or the launcher's own at 2.2.0),
    as the image's user when `image_user` (the launcher writes in the container's own file system; else emptyDirs,
    writable by all), with the release's security context (kfp_store.Rules, or None);
    `connect(endpoint_url, key, secret)` is an S3 client (s3fs) on the store; `secrets` are the namespace's
    Kubernetes secrets ({name: {key: value}}) and `configmap` its kfp-launcher ConfigMap's data; `rules` the
    release's (kfp_store.RULES)."""

    def __init__(
        self,
        connect,
        run_container,
        secrets: dict[str, dict[str, str]],
        configmap: dict[str, str],
        work_dir: Path,
        rules: kfp_store.Rules,
    ):
        self.connect, self.run_container, self.secrets, self.work_dir = connect, run_container, secrets, work_dir
        self.configmap, self.rules = configmap, rules
        self.artifacts: list[Recorded] = []
        self.cache: dict[str, StepRun] = {}

    def launcher_store(self, root: str) -> kfp_store.ObjectStore:
        """The store and keys the launcher reaches the root with: the ConfigMap's providers, the secret's keys."""
        store = kfp_store.launcher_store(self.configmap, root, self.rules)
        name, access_key, secret_key = store.secret
        keys = self.secrets[name]
        return kfp_store.ObjectStore(self.connect(store.url(), keys[access_key], keys[secret_key]))

    def run(self, package: Path, runtime_root: str | None = None, arguments: dict | None = None) -> dict[str, StepRun]:
        spec, platform = load_package(package)
        assert not compiler_violations(spec), compiler_violations(spec)
        if self.rules.strict_driver:  # cmd/driver/main.go at 2.2.0: every step's specs, with 2.2.0's protos
            from kfp_driver import driver_2_2_0_parse

            driver_2_2_0_parse(spec, {"platforms": {"kubernetes": platform}} if platform else {})
        root = kfp_store.pipeline_root(runtime_root, self.configmap)
        store = self.launcher_store(root)
        run_id = uuid.uuid4().hex
        prefix = f"{root.rstrip('/')}/{spec['pipelineInfo']['name']}/{run_id}"
        parameters = {
            name: (arguments or {}).get(name, definition.get("defaultValue"))
            for name, definition in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items()
        }
        steps: dict[str, StepRun] = {}
        for task in ordered_tasks(spec):
            steps[task] = self.run_task(spec, platform, task, prefix, parameters, steps, store)
        return steps

    def executor_input(
        self, spec: dict, task: str, task_root: str, parameters: dict, steps: dict[str, StepRun]
    ) -> dict:
        task_spec = spec["root"]["dag"]["tasks"][task]
        component = spec["components"][task_spec["componentRef"]["name"]]
        values = {}
        for name, source in task_spec.get("inputs", {}).get("parameters", {}).items():
            values[name] = (
                parameters[source["componentInputParameter"]]
                if "componentInputParameter" in source
                else source["runtimeValue"]["constant"]
            )
        inputs = {}
        for name, source in task_spec.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            recorded = steps[producer["producerTask"]].outputs[producer["outputArtifactKey"]]
            inputs[name] = {
                "artifacts": [
                    {
                        "name": str(recorded.id),
                        "uri": recorded.uri,
                        "type": {"instanceSchema": ""},
                        "metadata": recorded.metadata,
                    }
                ]
            }
        declared = dict(component.get("outputDefinitions", {}).get("artifacts", {}))
        if self.rules.publish_logs:  # driver.go provisionOutputs: the log's placeholder, with PUBLISH_LOGS
            declared[LOGS_OUTPUT] = {"artifactType": {"schemaTitle": "system.Artifact"}}
        outputs = {}
        for name, definition in declared.items():
            artifact = {"uri": f"{task_root}/{name}", "type": definition["artifactType"], "metadata": {}}
            outputs[name] = {"artifacts": [{"name": name, **artifact} if self.rules.task_root_outputs else artifact]}
        output_file = (
            f"{local_path(task_root)}/{OUTPUT_METADATA_FILE}"
            if self.rules.task_root_outputs
            else kfp_store.OUTPUT_METADATA_FILEPATH
        )
        return {
            "inputs": {"parameterValues": values, "artifacts": inputs},
            "outputs": {"artifacts": outputs, "outputFile": output_file},
        }

    def pod_env(self, container: dict, platform_executor: dict) -> dict[str, str]:
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        return {**env, **kfp_store.secret_env(platform_executor, self.secrets, self.rules)}

    def run_task(
        self,
        spec: dict,
        platform: dict,
        task: str,
        prefix: str,
        parameters: dict,
        steps: dict[str, StepRun],
        store: kfp_store.ObjectStore,
    ) -> StepRun:
        task_spec = spec["root"]["dag"]["tasks"][task]
        label = spec["components"][task_spec["componentRef"]["name"]]["executorLabel"]
        container = spec["deploymentSpec"]["executors"][label]["container"]
        task_root = f"{prefix}/{task}/{uuid.uuid4()}" if self.rules.task_root_outputs else f"{prefix}/{task}"
        executor_input = self.executor_input(spec, task, task_root, parameters, steps)
        fingerprint = kfp_store.cache_fingerprint(executor_input, container)
        cacheable = task_spec.get("cachingOptions", {}).get("enableCache", False)
        if cacheable and fingerprint in self.cache:
            return dataclasses.replace(self.cache[fingerprint], executor_input=executor_input, cached=True)
        env = self.pod_env(container, platform.get("deploymentSpec", {}).get("executors", {}).get(label, {}))
        pod = self.work_dir / f"{task}-{uuid.uuid4().hex[:8]}"
        if self.rules.scratch_volumes:  # emptyDirs, 0777 as the kubelet makes them
            mounts = {str(pod / root.strip("/")): root for root in LOCAL_ROOTS.values()}
        else:
            mounts = {str(pod / "launcher"): kfp_store.LAUNCHER_VOLUME}
            for folder in ("in", "out"):
                os.makedirs(pod / "launcher" / folder)
                os.chmod(pod / "launcher" / folder, 0o777)
        for host in mounts:
            os.makedirs(host, exist_ok=True)
            os.chmod(host, 0o777)

        def on_host(path: str, direction: str = "in") -> Path:
            if not self.rules.scratch_volumes:
                return pod / "launcher" / direction / path.lstrip("/")
            root = "/" + path.lstrip("/").split("/", 1)[0]
            return pod / path.lstrip("/") if root in LOCAL_ROOTS.values() else Path(path)

        for artifact_list in executor_input["inputs"]["artifacts"].values():
            for artifact in artifact_list["artifacts"]:
                store.download(artifact["uri"], on_host(local_path(artifact["uri"])))
        # launcher_v2.go qualifyExecutorLogsForRetry: the first attempt's log is executor-logs-0.
        executor_input = json.loads(json.dumps(executor_input))
        logs = executor_input["outputs"]["artifacts"].get(LOGS_OUTPUT, {"artifacts": [{}]})["artifacts"][0]
        if logs:
            logs["uri"] += "-0"
        compact = json.dumps(executor_input, separators=(",", ":"))
        argv = [*container["command"], *(compact if a == "{{$}}" else a for a in container["args"])]
        if not self.rules.scratch_volumes:
            outputs = [local_path(a["artifacts"][0]["uri"]) for a in executor_input["outputs"]["artifacts"].values()]
            argv = kfp_store.in_container_launcher(argv, outputs, executor_input["outputs"]["outputFile"])
        code, log = self.run_container(
            container["image"], argv, env, mounts, not self.rules.scratch_volumes, self.rules.security_context
        )
        assert code == 0, f"step {task} failed with exit code {code}:\n{log[-4000:]}"
        if logs:  # getLogWriter: the command's output, also written to the log's local path, uploaded as outputs are
            on_host(local_path(logs["uri"]), "out").parent.mkdir(parents=True, exist_ok=True)
            on_host(local_path(logs["uri"]), "out").write_text(log)
        output_file = on_host(executor_input["outputs"]["outputFile"], "out")
        executor_output = (
            kfp_store.parse_executor_output(output_file.read_text(), str(output_file)) if output_file.exists() else {}
        )
        recorded = {}
        for name, artifact_list in executor_input["outputs"]["artifacts"].items():
            artifact = dict(artifact_list["artifacts"][0])
            written = executor_output.get("artifacts", {}).get(name, {}).get("artifacts", [])
            if written:
                artifact["uri"] = written[0].get("uri") or artifact["uri"]
                artifact["metadata"] = {**artifact["metadata"], **written[0].get("metadata", {})}
            assert artifact["uri"].startswith(prefix + "/"), (
                f"failed to upload output artifact {name!r}: URI {artifact['uri']!r} does not have expected "
                f"bucket prefix {prefix!r}"
            )
            local = on_host(local_path(artifact["uri"]), "out")
            if local.exists():
                store.upload(local, artifact["uri"])
            self.artifacts.append(
                Recorded(
                    len(self.artifacts) + 1,
                    artifact["uri"],
                    kfp_metadata.round_trip(
                        {**artifact["metadata"], "display_name": name, "store_session_info": "{}"}, self.rules.tag
                    ),
                )
            )
            recorded[name] = self.artifacts[-1]
        step = StepRun(task, executor_input, executor_output, recorded, log, logs_uri=logs.get("uri", ""))
        if cacheable:
            self.cache[fingerprint] = step
        return step
