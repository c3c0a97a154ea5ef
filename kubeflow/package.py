"""The PipelineSpec TFX's KubeflowV2DagRunner compiles, made what an open-source Kubeflow Pipelines backend runs.

- Every step runs the project's entrypoint (kubeflow/entrypoint.py, around TFX's) and is given its component's
  declared output types, which the backend's driver does not pass on.
- `defaultPipelineRoot` holds the pipeline root. The backend does not read it (the run's runtime config, else
  the `kfp-launcher` ConfigMap's `defaultPipelineRoot`, else `minio://mlpipeline/v2/artifacts`:
  kubeflow/pipelines 2.17.0 `backend/src/v2/driver/root_dag.go`), so `kubeflow submit` sends it with the run
  when it was given; a package compiled for a namespace's own root sends none (submission.py).
- Steps of UNCACHED_STEPS are never served from the cache.
- With S3 storage, every step's pod gets the store settings the launcher uses for the steps' paths (stores.py) and,
  from a Kubernetes secret, its credentials as botocore's variables (storage/fileio.py): the platform spec's
  `secretAsEnv`, a second YAML document, which the kfp client and the API server read with the PipelineSpec. It
  names the secret with `secretName` alone, the one field every supported release's driver parses (releases.py).
  The same document places the pods and gives them scratch (pods.py). A secret the namespace lacks does not fail
  the driver, which only writes a `secretKeyRef` (k8s.go near 365-381 at 2.17.0, driver.go near 554-564 at 2.2.0):
  the kubelet holds the pod in CreateContainerConfigError (`kubectl describe pod` names the secret).
"""

from __future__ import annotations

import json

from kubeflow.entrypoint import OUTPUTS_SPEC_FLAG
from kubeflow.launcher_config import Session
from kubeflow.pods import PodSettings
from kubeflow.stores import env

ENTRYPOINT = ["python", "-m", "kubeflow.entrypoint"]
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def secret_as_env(store: Session) -> list[dict]:
    """kubernetes_platform's SecretAsEnv as KFP 2.2.0's proto has it (secret_name, key_to_env; 2.17.0's driver
    still reads secret_name when secret_name_parameter is absent: backend/src/v2/driver/k8s.go)."""
    if not store.secret:
        return []
    name, access_key, secret_key = store.secret.split(":")
    return [
        {
            "secretName": name,
            "keyToEnv": [
                {"secretKey": access_key, "envVar": CREDENTIAL_VARIABLES[0]},
                {"secretKey": secret_key, "envVar": CREDENTIAL_VARIABLES[1]},
            ],
        }
    ]


def for_backend(
    spec: dict,
    pipeline_root: str,
    uncached: tuple[str, ...],
    store: Session | None = None,
    pods: PodSettings | None = None,
) -> tuple[dict, dict | None]:
    """The PipelineSpec for an open-source KFP backend, and its platform spec (None when no step needs one)."""
    spec = json.loads(json.dumps(spec))
    executors = spec["deploymentSpec"]["executors"]
    outputs = {
        component["executorLabel"]: component.get("outputDefinitions", {}) for component in spec["components"].values()
    }
    steps = {
        spec["components"][task["componentRef"]["name"]]["executorLabel"]: name
        for name, task in spec["root"]["dag"]["tasks"].items()
    }
    platform = {}
    for label, executor in executors.items():
        container = executor.get("container")
        if container is None:
            continue
        container["command"] = list(ENTRYPOINT)
        args = container["args"]
        at = args.index(INPUTS_SPEC_FLAG) + 2 if INPUTS_SPEC_FLAG in args else len(args)
        container["args"] = [
            *args[:at],
            OUTPUTS_SPEC_FLAG,
            json.dumps(outputs.get(label, {}), sort_keys=True),
            *args[at:],
        ]
        config = {}
        if store is not None:
            if env(store):
                container["env"] = env(store)
            if secret_as_env(store):
                config["secretAsEnv"] = secret_as_env(store)
        if pods is not None:
            component = next(c for c in spec["components"].values() if c["executorLabel"] == label)
            config.update(
                pods.executor_config(
                    steps[label],
                    {
                        **component.get("inputDefinitions", {}).get("artifacts", {}),
                        **{
                            f"out:{k}": v
                            for k, v in component.get("outputDefinitions", {}).get("artifacts", {}).items()
                        },
                    },
                )
            )
        if config:
            platform[label] = config
    spec["defaultPipelineRoot"] = pipeline_root
    for name in uncached:
        spec["root"]["dag"]["tasks"][name]["cachingOptions"] = {"enableCache": False}
    platform_spec = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": platform}}}} if platform else None
    return spec, platform_spec
