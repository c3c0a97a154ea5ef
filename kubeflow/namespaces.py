"""Multi-user Kubeflow's namespaces as the profile controller makes them: each one's pipeline root and the store
prefixes its key may use.

kubeflow/pipelines `manifests/kustomize/base/installs/multi-user/pipelines-profile-controller/sync.py` from 2.15.0:
the namespace's `kfp-launcher` ConfigMap has `defaultPipelineRoot:
minio://mlpipeline/private-artifacts/<namespace>/v2/artifacts`, and its `mlpipeline-minio-artifact` secret holds a
key of its own whose policy allows objects under `mlpipeline/artifacts/*`,
`mlpipeline/private-artifacts/<namespace>/*`, `mlpipeline/private/<namespace>/*` and `mlpipeline/shared/*`, nothing
else. The policy differs by release: at 2.15.0 and 2.16.0 s3:Put*, Get*, List* and no bucket listing policy; 2.17.0
adds s3:DeleteObject and a bucket policy allowing listings under the namespace's own prefixes
(ensure_bucket_list_policy). The Pusher and MaskEvaluator list the serving folder (components/util/serving.py), so a
serving folder reached with the key is refused before 2.17.0. Before 2.15.0 the secret is a copy of the install's
MinIO keys (sync.py at 2.2.0), which reach the whole store.
"""

from __future__ import annotations

from kubeflow import releases

BUCKET = "mlpipeline"  # sync.py S3_BUCKET_NAME


class NamespaceError(ValueError):
    """A path the namespace's key may not use; the message names the allowed prefixes and the fix."""


def namespace_root(namespace: str) -> str:
    return f"minio://{BUCKET}/private-artifacts/{namespace}/v2/artifacts"


def allowed_prefixes(namespace: str) -> list[str]:
    return [
        f"{BUCKET}/artifacts/",
        f"{BUCKET}/private-artifacts/{namespace}/",
        f"{BUCKET}/private/{namespace}/",
        f"{BUCKET}/shared/",
    ]


def launcher_root(namespace: str | None, target: releases.Release | None) -> str:
    """The root a run in the namespace gets from the profile controller's ConfigMap, else the release's."""
    return (
        namespace_root(namespace) if namespace and releases.namespace_keys(target) else releases.DEFAULT_PIPELINE_ROOT
    )


def check(paths: dict[str, str], namespace: str) -> None:
    """Refuses a path (option -> s3:// or minio:// URI, reached with the namespace's own key) outside its key's
    prefixes."""
    allowed = allowed_prefixes(namespace)
    outside = {
        option: path
        for option, path in paths.items()
        if not any(f"{path.split('://', 1)[1].rstrip('/')}/".startswith(p) for p in allowed)
    }
    if not outside:
        return
    given = "; ".join(f"{option} {path}" for option, path in outside.items())
    raise NamespaceError(
        f"{given}: outside what the key of namespace {namespace} may use. On multi-user Kubeflow (KFP 2.15 and "
        f"later) the profile controller gives each namespace a key limited to "
        f"{', '.join(p + '*' for p in allowed)}; put the data under your namespace's folder, e.g. "
        f"--dataset minio://{BUCKET}/private/{namespace}/datasets/NAME --serving-dir "
        f"minio://{BUCKET}/private/{namespace}/serving/NAME (and leave --pipeline-root out: the namespace's is "
        f"{namespace_root(namespace)}), or reach the path with another identity through a `providers` entry of "
        f"the namespace's kfp-launcher ConfigMap (--launcher-config)"
    )


def check_listing(serving_dir: str, namespace: str, target: releases.Release | None) -> None:
    """Refuses a serving folder reached with the namespace's key where that key may not list it."""
    if releases.namespace_key_lists(target):
        return
    which = (
        f"KFP {target.version}" if target else f"--kfp-version {releases.ANY_RELEASE}, which includes 2.15.0 and 2.16.0"
    )
    raise NamespaceError(
        f"--serving-dir {serving_dir}: on {which} the key of namespace {namespace} may not list it (sync.py gives it "
        f"s3:Put*, Get*, List* on objects and no bucket listing policy, and no s3:DeleteObject; 2.17.0 adds both), "
        f"and the Pusher and MaskEvaluator list the folder's versions (the next version, a model already served, "
        f"the baseline): the push would fail after training. Give --kfp-version 2.17.0 if the cluster runs it; "
        f"else have the admin allow s3:ListBucket on arn:aws:s3:::{BUCKET} for the prefix "
        f"private/{namespace}/ in the user policy KubeflowProject{namespace}, or reach the pipeline's paths "
        f"through a `providers` entry of the namespace's kfp-launcher ConfigMap (--launcher-config) whose secret "
        f"holds a key that may list them"
    )
