"""`maskrcnn-tfx kubeflow serving-manifest`: a KServe InferenceService serving what the pipeline pushes.

Read in kserve/kserve: an InferenceService with `modelFormat: tensorflow` runs KServe's TF Serving runtime
(`config/runtimes/kserve-tensorflow-serving.yaml`: `tensorflow_model_server --model_base_path=/mnt/models`,
which serves the highest numbered version and replays its warm-up file); its storage initializer copies
everything under `storageUri` to /mnt/models first (`kserve-storage`, `Storage._download_s3`: every object whose
key starts with the URI's path, so the URI ends with '/': `s3://b/serving/model` would also take
`serving/model-old/`). S3 credentials come from the Secrets of the predictor's ServiceAccount, each annotated
with `serving.kserve.io/s3-endpoint`, `-usehttps`, `-region` and holding AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (`pkg/credentials/s3/s3_secret.go`, the inferenceservice-config defaults). The manifest
reaches the store as the pipeline's steps do: the kfp-launcher ConfigMap's identity for the path.
"""

from __future__ import annotations

import argparse
import dataclasses
import re

from kubeflow import launcher_config, releases, stores

ANNOTATION_GROUP = "serving.kserve.io"
ACCESS_KEY_NAME, SECRET_KEY_NAME = "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"
MODEL_FORMAT = "tensorflow"
GPU_RESOURCE = "nvidia.com/gpu"
NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")  # a DNS-1123 label: an InferenceService's name


@dataclasses.dataclass(frozen=True)
class StoreSecret:
    """KServe's S3 Secret, made from the Secret the pipeline's steps use: another Secret's keys cannot be named
    in it, so it is made with kubectl (`command`) rather than written out with the keys in clear."""

    name: str
    namespace: str
    source: str  # the pipeline's secret: NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY
    annotations: dict[str, str]

    def command(self) -> str:
        source, access_key, secret_key = self.source.split(":")
        read = f"kubectl -n {self.namespace} get secret {source} -o jsonpath="
        annotate = " ".join(f"{k}={v}" for k, v in self.annotations.items())
        return (
            f"kubectl -n {self.namespace} create secret generic {self.name} "
            f"--from-literal={ACCESS_KEY_NAME}=\"$({read}'{{.data.{access_key}}}' | base64 -d)\" "
            f"--from-literal={SECRET_KEY_NAME}=\"$({read}'{{.data.{secret_key}}}' | base64 -d)\"\n"
            + (f"kubectl -n {self.namespace} annotate secret {self.name} {annotate}\n" if annotate else "")
        )


@dataclasses.dataclass(frozen=True)
class Manifest:
    documents: list[dict]  # the ServiceAccount and the InferenceService, as `kubectl apply` takes them
    secret: StoreSecret | None  # None: the pods' own credentials (IRSA, a node role) reach the store


def storage_uri(serving_dir: str) -> str:
    """The serving folder as KServe's storage initializer reads it: s3:// for s3:// and minio:// (KServe has no
    minio://), gs:// as it is; always ending with '/'."""
    scheme, separator, rest = serving_dir.partition("://")
    if not separator or scheme not in ("s3", "minio", "gs"):
        raise launcher_config.LauncherConfigError(
            f"--serving-dir {serving_dir}: KServe copies a model from s3://, minio:// (as s3://) or gs://, not here"
        )
    return f"{'gs' if scheme == 'gs' else 's3'}://{rest.rstrip('/')}/"


def _secret_annotations(session: launcher_config.Session) -> dict[str, str]:
    endpoint = session.endpoint_url()
    annotations = {}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        annotations.update(
            {
                f"{ANNOTATION_GROUP}/s3-endpoint": host.rstrip("/"),
                f"{ANNOTATION_GROUP}/s3-usehttps": "1" if scheme == "https" else "0",
            }
        )
    if session.region:
        annotations[f"{ANNOTATION_GROUP}/s3-region"] = session.region
    return annotations


def manifest(
    serving_dir: str, name: str, namespace: str, session: launcher_config.Session | None, gpus: int = 0
) -> Manifest:
    """The InferenceService (and its ServiceAccount, for a store reached with a key) for `serving_dir`, built and
    checked with the kserve SDK's models."""
    from kubernetes import client

    from components.serving_check.server import import_kserve

    kserve = import_kserve()
    uri = storage_uri(serving_dir)
    service_account, secret, documents = None, None, []
    if session is not None and not session.from_env:
        secret, service_account = (
            StoreSecret(f"{name}-s3", namespace, session.secret, _secret_annotations(session)),
            f"{name}-storage",
        )
        documents.append(
            client.V1ServiceAccount(
                api_version="v1",
                kind="ServiceAccount",
                metadata=client.V1ObjectMeta(name=service_account, namespace=namespace),
                secrets=[client.V1ObjectReference(name=secret.name)],
            )
        )
    resources = client.V1ResourceRequirements(limits={GPU_RESOURCE: str(gpus)}) if gpus else None
    documents.append(
        kserve.V1beta1InferenceService(
            api_version=kserve.constants.KSERVE_V1BETA1,
            kind=kserve.constants.KSERVE_KIND_INFERENCESERVICE,
            metadata=client.V1ObjectMeta(name=name, namespace=namespace),
            spec=kserve.V1beta1InferenceServiceSpec(
                predictor=kserve.V1beta1PredictorSpec(
                    service_account_name=service_account,
                    model=kserve.V1beta1ModelSpec(
                        model_format=kserve.V1beta1ModelFormat(name=MODEL_FORMAT), storage_uri=uri, resources=resources
                    ),
                )
            ),
        )
    )
    serialize = client.ApiClient().sanitize_for_serialization
    return Manifest([serialize(d) for d in documents], secret)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--serving-dir", required=True, help="the --serving-dir the pipeline pushes to (s3://, minio:// or gs://)"
    )
    parser.add_argument("--name", required=True, help="the InferenceService's name (its URL's model name)")
    parser.add_argument("--namespace", required=True, help="the namespace it is served in (the profile's)")
    parser.add_argument(
        "--launcher-config",
        metavar="FILE",
        help="the namespace's kfp-launcher ConfigMap: the store identity the pipeline used",
    )
    parser.add_argument(
        "--kfp-version",
        default=releases.ANY_RELEASE,
        metavar="VERSION",
        help="the KFP release (a minio:// path's built-in store differs by release)",
    )
    parser.add_argument(
        "--s3-secret",
        metavar="NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY",
        help="the Secret whose key KServe reads the store with (default: the pipeline's). KServe's "
        "storage initializer asks HeadBucket, which a KFP namespace's own key may not",
    )
    parser.add_argument("--gpus", type=int, default=0, help="GPUs for the model server (default: %(default)s)")
    parser.add_argument("--output", default="inferenceservice.yaml", help="the manifest (default: %(default)s)")


def main(args: argparse.Namespace) -> None:
    import yaml

    if not NAME.fullmatch(args.name):
        raise launcher_config.LauncherConfigError(
            f"--name {args.name}: an InferenceService's name is lower-case letters, digits and '-', starting with a "
            f"letter, 63 characters at most"
        )
    session = None
    if args.serving_dir.startswith(("s3://", "minio://")):
        session = launcher_config.session(
            stores.read_launcher_config(args.launcher_config), args.serving_dir, releases.release(args.kfp_version)
        )
        if session.provider == "minio" and not session.endpoint:
            raise launcher_config.LauncherConfigError(
                f"--serving-dir {args.serving_dir}: with no providers entry, minio:// is the release's built-in "
                f"store, {' or '.join(releases.store_endpoints(None))}: give --kfp-version"
            )
        if args.s3_secret:
            session = dataclasses.replace(session, secret=stores.parse_s3_secret(args.s3_secret), from_env=False)
    made = manifest(args.serving_dir, args.name, args.namespace, session, args.gpus)
    with open(args.output, "w") as f:
        yaml.safe_dump_all(made.documents, f, sort_keys=False)
    if made.secret:
        print(
            f"KServe reads the store with a Secret of its own: make it from the pipeline's "
            f"({made.secret.source.split(':')[0]}) once:\n{made.secret.command()}"
        )
    else:
        print(
            "No Secret: the storage initializer uses the pod's own AWS credentials (IRSA or the node's role) "
            "or, on gs://, its workload identity."
        )
    print(
        f"wrote {args.output}: kubectl apply -f {args.output}, then POST to "
        f"http://<the InferenceService's URL>/v1/models/{args.name}:predict (docs/serving.md)"
    )
