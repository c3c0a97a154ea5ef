"""The PipelineSpec TFX's KubeflowV2DagRunner compiles, made what an open-source Kubeflow Pipelines backend runs.

- Every step runs the project's entrypoint (kubeflow/entrypoint.py, around TFX's) and is given its component's
  declared output types, which the backend's driver does not pass on.
- `defaultPipelineRoot` holds the pipeline root. The backend does not read it (the run's runtime config, else
  the `kfp-launcher` ConfigMap's `defaultPipelineRoot`, else `minio://mlpipeline/v2/artifacts`:
  kubeflow/pipelines 2.17.0 `backend/src/v2/driver/root_dag.go`), so `kubeflow submit` sends it with the run.
- Steps of UNCACHED_STEPS are never served from the cache.
- With S3 storage, every step's pod gets the store's endpoint and, from a Kubernetes secret, its credentials
  as botocore's variables (dataset/fileio.py): the platform spec's `secretAsEnv`, a second YAML document, which
  the kfp client and the API server read with the PipelineSpec.
"""
from __future__ import annotations

import dataclasses
import json

from dataset import fileio
from kubeflow.entrypoint import OUTPUTS_SPEC_FLAG

ENTRYPOINT = ["python", "-m", "kubeflow.entrypoint"]
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
# Kubeflow's bundled object store: its secret (created in every profile namespace too) and the keys in it.
DEFAULT_S3_SECRET = "mlpipeline-minio-artifact:accesskey:secretkey"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclasses.dataclass(frozen=True)
class S3Access:
    """How the steps reach an S3-API store: its endpoint (None: AWS's own) and the secret with its keys
    ('' : the pod's own credentials, e.g. IAM roles for service accounts)."""
    endpoint: str | None
    secret: str = DEFAULT_S3_SECRET

    def secret_as_env(self) -> list[dict]:
        if not self.secret:
            return []
        name, access_key, secret_key = self.secret.split(":")
        # As kfp-kubernetes writes it (use_secret_as_env): 2.17's driver reads secretNameParameter, older ones
        # secretName (kubeflow/pipelines backend/src/v2/driver/k8s.go extendPodSpecPatch).
        return [{"secretName": name, "secretNameParameter": {"runtimeValue": {"constant": name}}, "optional": False,
                 "keyToEnv": [{"secretKey": access_key, "envVar": CREDENTIAL_VARIABLES[0]},
                              {"secretKey": secret_key, "envVar": CREDENTIAL_VARIABLES[1]}]}]

    def env(self) -> list[dict]:
        # The S3-only variable: IAM roles for service accounts still reach AWS's own STS.
        return [{"name": fileio.ENDPOINT_VARIABLES[0], "value": self.endpoint}] if self.endpoint else []


def parse_s3_secret(value: str) -> str:
    """NAME (Kubeflow's keys accesskey/secretkey), NAME:ACCESS_KEY:SECRET_KEY, or '' for none."""
    parts = value.split(":") if value else []
    if len(parts) == 1:
        parts += DEFAULT_S3_SECRET.split(":")[1:]
    if value and (len(parts) != 3 or not all(parts)):
        raise ValueError(f"--s3-secret {value}: expected NAME or NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY")
    return ":".join(parts)


def for_backend(spec: dict, pipeline_root: str, uncached: tuple[str, ...],
                s3: S3Access | None = None) -> tuple[dict, dict | None]:
    """The PipelineSpec for an open-source KFP backend, and its platform spec (None without S3 access)."""
    spec = json.loads(json.dumps(spec))
    executors = spec["deploymentSpec"]["executors"]
    outputs = {component["executorLabel"]: component.get("outputDefinitions", {})
               for component in spec["components"].values()}
    platform = {}
    for label, executor in executors.items():
        container = executor.get("container")
        if container is None:
            continue
        container["command"] = list(ENTRYPOINT)
        args = container["args"]
        at = args.index(INPUTS_SPEC_FLAG) + 2 if INPUTS_SPEC_FLAG in args else len(args)
        container["args"] = [*args[:at], OUTPUTS_SPEC_FLAG, json.dumps(outputs.get(label, {}), sort_keys=True),
                             *args[at:]]
        if s3 is not None:
            if s3.env():
                container["env"] = s3.env()
            if s3.secret_as_env():
                platform[label] = {"secretAsEnv": s3.secret_as_env()}
    spec["defaultPipelineRoot"] = pipeline_root
    for name in uncached:
        spec["root"]["dag"]["tasks"][name]["cachingOptions"] = {"enableCache": False}
    platform_spec = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": platform}}}} if platform else None
    return spec, platform_spec
