"""The Kubeflow Pipelines releases a package is compiled for, as data read in each release's own source
(kubeflow/pipelines at the tag named; the Kubeflow platform release that pins each one: kubeflow/manifests
README.md at its tag).

What differs between them, for this package:
- How strictly the package is parsed. The API server parses the whole PipelineSpec with strict protojson at every
  release (`backend/src/apiserver/template/v2_template.go`, near line 176 at 2.2.0 and 226 at 2.17.0), with that
  release's `api` protos (2.2.0: go.mod's 58ce09e07d03; 2.5.0 and later: `api/` at the tag, go.mod's replace),
  and drops a platform spec that does not parse; the platform spec's executors are Structs there. The package has
  no field 2.2.0's or 2.5.0's pipeline_spec.proto lacks (tests/test_kfp_apiserver.py). The driver parses a step's
  `--container`, `--component`, `--task` and `--kubernetes_config` with `jsonpb.UnmarshalString` up to 2.4.0
  (`backend/src/v2/cmd/driver/main.go`), which refuses a field its protos lack; from 2.4.1 with
  `util.UnmarshalString` (`backend/src/common/util/json.go`, `AllowUnknownFields: true`). The protos of 2.2.0 and
  2.3.0 (go.mod: `api` at 58ce09e07d03, kubernetes_platform at 8b2a099e8c9f / d911c8b73b49) have no
  `ResourceSpec.resource_cpu_request` / `resource_memory_request` / `AcceleratorConfig.resource_type` /
  `resource_count`, and their `SecretAsEnv` has only `secret_name` and `key_to_env` (no `secret_name_parameter`,
  no `optional`); 2.2.0's KubernetesExecutorConfig has no `empty_dir_mounts` (d911c8b73b49, 2.3.0, adds it).
- Every release still reads those older fields: `cpu_request` / `memory_request` / `accelerator.type` + `count`
  when the string fields are empty (`backend/src/v2/driver/driver.go` initPodSpecPatch at 2.17.0) and
  `secretName` when `secretNameParameter` is absent (`backend/src/v2/driver/k8s.go` at 2.17.0). So the package
  writes only those, and one package runs on every release listed here.
- The built-in store endpoint of a `minio://` path with no `providers` entry: `minio-service.kubeflow:9000` up to
  2.15.0 (`backend/src/v2/objectstore/config.go`, `MinioDefaultEndpoint` / `DefaultMinioEndpointInMultiUserMode`),
  `seaweedfs.kubeflow:9000` from 2.16.0 (`DefaultEndpointInMultiUserMode`); the secret `mlpipeline-minio-artifact`
  with keys `accesskey` / `secretkey` and the root `minio://mlpipeline/v2/artifacts` at every tag
  (`backend/src/v2/config/env.go`).
- Multi-user namespaces: from 2.15.0 the profile controller gives each namespace its own store key and root
  (namespaces.py), which may list and delete from 2.17.0 only (`sync.py` at 2.15.0, 2.16.0: s3:Put*, Get*, List* on
  objects, no bucket listing policy; 2.17.0: s3:DeleteObject and ensure_bucket_list_policy); before, the
  namespace's secret is a copy of the shared MinIO keys and its `kfp-launcher` ConfigMap is written only when the
  admin sets KFP_DEFAULT_PIPELINE_ROOT
  (`manifests/kustomize/base/installs/multi-user/pipelines-profile-controller/sync.py` at 2.2.0).
"""

from __future__ import annotations

import dataclasses

DEFAULT_PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"  # backend/src/v2/config/env.go, every tag here
STORE_SECRET = "mlpipeline-minio-artifact:accesskey:secretkey"  # env.go minioArtifactSecretName, *KeyKey
ANY_RELEASE = "any"


@dataclasses.dataclass(frozen=True)
class Release:
    version: str
    kubeflow: str  # the Kubeflow platform releases whose manifests pin it ('' if none)
    strict_driver: bool  # the driver refuses fields its protos lack
    store_endpoint: str  # a minio:// path's endpoint with no providers entry
    namespace_keys: bool  # the profile controller gives each namespace its own key, root and prefixes
    path_style_option: bool = True  # providers' forcePathStyle is read (config/s3.go from 2.4.1; before: always)
    scratch_mounts: bool = True  # the driver applies the platform spec's emptyDirMounts (from 2.3.0)
    namespace_key_lists: bool = False  # the namespace key may list its prefixes and delete (sync.py from 2.17.0)


RELEASES = {
    r.version: r
    for r in (
        Release(
            "2.2.0", "1.9.0", True, "minio-service.kubeflow:9000", False, path_style_option=False, scratch_mounts=False
        ),
        Release("2.3.0", "1.9.1", True, "minio-service.kubeflow:9000", False, path_style_option=False),
        Release("2.4.1", "1.10.0", False, "minio-service.kubeflow:9000", False),
        Release("2.5.0", "1.10.1, 1.10.2", False, "minio-service.kubeflow:9000", False),
        Release("2.14.0", "", False, "minio-service.kubeflow:9000", False),
        Release("2.15.0", "1.11.0", False, "minio-service.kubeflow:9000", True),
        Release("2.16.0", "", False, "seaweedfs.kubeflow:9000", True),
        Release("2.17.0", "", False, "seaweedfs.kubeflow:9000", True, namespace_key_lists=True),
    )
}


def release(version: str) -> Release | None:
    """The release `--kfp-version` names; None for ANY_RELEASE (a package for every release listed)."""
    if version == ANY_RELEASE:
        return None
    if version not in RELEASES:
        raise ValueError(
            f"--kfp-version {version}: not a release this package was checked against; give one of "
            f"{', '.join(RELEASES)} (the one your install runs: `kubectl -n kubeflow get deployment "
            f"ml-pipeline -o jsonpath='{{.spec.template.spec.containers[0].image}}'`), or "
            f"{ANY_RELEASE} for a package every one of them runs"
        )
    return RELEASES[version]


def store_endpoints(target: Release | None) -> list[str]:
    """The built-in endpoints a minio:// path may get on the target (several for ANY_RELEASE)."""
    return [target.store_endpoint] if target else sorted({r.store_endpoint for r in RELEASES.values()})


def namespace_keys(target: Release | None) -> bool:
    """Whether a namespace's key may be limited to its prefixes: for ANY_RELEASE, as on the newest."""
    return target.namespace_keys if target else any(r.namespace_keys for r in RELEASES.values())


def scratch_mounts(target: Release | None) -> bool:
    """Whether the package may mount a scratch emptyDir: for ANY_RELEASE, as on the oldest."""
    return target.scratch_mounts if target else all(r.scratch_mounts for r in RELEASES.values())


def namespace_key_lists(target: Release | None) -> bool:
    """Whether a namespace's key may list (and delete): for ANY_RELEASE, only if every release with keys lets it."""
    keyed = [target] if target else [r for r in RELEASES.values() if r.namespace_keys]
    return all(r.namespace_key_lists for r in keyed)
