"""What a multi-user Kubeflow install gives a namespace, as the profile controller writes it (kubeflow/pipelines
2.15.0 to 2.17.0 manifests/kustomize/base/installs/multi-user/pipelines-profile-controller/sync.py): its IAM
user's policy (each release's) and key in the secret mlpipeline-minio-artifact, its kfp-launcher ConfigMap; and the
store that enforces them here, moto's S3 server with IAM on (moto/core/authorization.py: after /moto-api/reset-auth 0
every request needs a key IAM made, a good signature, and a user policy allowing the action on the resource,
moto/iam/access_control.py)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

SECRET = "mlpipeline-minio-artifact"  # sync.py's secret, keys accesskey / secretkey


def namespace_root(namespace: str) -> str:
    return f"minio://mlpipeline/private-artifacts/{namespace}/v2/artifacts"  # sync.py defaultPipelineRoot


def namespace_policy(namespace: str, release: str = "2.17.0") -> dict:
    """sync.py put_user_policy for the namespace's IAM user at the release: s3:Put*, Get*, List* on the objects of
    its prefixes (2.15.0 near L356-375, 2.16.0 near L388-405), nothing on the bucket: under IAM's rules (AWS, moto)
    a listing, checked against the bucket's ARN (moto's s3/responses.py), is refused, and so is a delete. 2.17.0
    (L465-491) adds s3:DeleteObject and a bucket policy for listings (ensure_bucket_list_policy, L176-248:
    ListBucket allowed under the user's own prefixes and at the top level, denied deeper in another namespace's,
    keyed on ${aws:username} and s3:prefix conditions); it stands here as ListBucket on the bucket in the user's
    policy: moto evaluates no StringLike / StringNotLike condition (moto/iam/policy_conditions.py: StringEquals
    only), so a 2.17.0 namespace may list another's names here; their objects stay refused. How SeaweedFS or MinIO
    read s3:List* on object ARNs at 2.15.0 and 2.16.0 is their own (not reproduced)."""
    objects = [
        f"arn:aws:s3:::mlpipeline/{p}"
        for p in ("artifacts/*", f"private-artifacts/{namespace}/*", f"private/{namespace}/*", "shared/*")
    ]
    if release in ("2.15.0", "2.16.0"):
        return {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:Put*", "s3:Get*", "s3:List*"], "Resource": objects}],
        }
    assert release == "2.17.0", release
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:Put*", "s3:Get*", "s3:List*", "s3:DeleteObject"], "Resource": objects},
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::mlpipeline"]},
        ],
    }


@contextlib.contextmanager
def store(namespace: str, buckets: tuple[str, ...], release: str = "2.17.0"):
    """moto's S3 server on a free loopback port with the buckets, an `admin` key (s3:* on everything) and the
    namespace's key with the release's namespace_policy, then IAM enforced; yields the endpoint, an admin s3fs, the keys
    ({user: (access key id, secret)}) and connect(endpoint_url, key, secret) -> s3fs."""
    import boto3
    import requests
    import s3fs

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # a process of its own: moto's state and its IAM enforcement are a process's, and a store may be open while
    # another one is made (the contract run's, for the session)
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        anyone = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        _wait_for(endpoint, server)
        iam = boto3.client("iam", **anyone)
        keys = {}
        for user, policy in (
            ("admin", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            (namespace, namespace_policy(namespace, release)),
        ):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName=f"KubeflowProject{user}", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        for bucket in buckets:
            boto3.client("s3", **anyone).create_bucket(Bucket=bucket)
        assert requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0").ok

        def connect(url, key, secret):
            return s3fs.S3FileSystem(
                key=key,
                secret=secret,
                client_kwargs={"endpoint_url": url, "region_name": "minio"},
                use_listings_cache=False,
            )

        yield {"endpoint": endpoint, "fs": connect(endpoint, *keys["admin"]), "keys": keys, "connect": connect}
    finally:
        server.terminate()
        server.wait()


def _wait_for(endpoint: str, server: subprocess.Popen, seconds: float = 60) -> None:
    import time

    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"moto's server exited with code {server.returncode}"
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"{endpoint}/moto-api/data.json", timeout=5).ok:
                return
        time.sleep(0.2)
    server.kill()
    raise TimeoutError(f"moto's server did not answer at {endpoint} within {seconds:.0f} s")


def launcher_configmap(endpoint: str, namespace: str) -> str:
    """The namespace's kfp-launcher ConfigMap as `kubectl get configmap kfp-launcher -o yaml` prints it: sync.py's
    defaultPipelineRoot, and a providers entry (config/s3.go) sending minio:// to the loopback server, where a
    cluster's built-in session would reach seaweedfs.kubeflow:9000 with the same secret."""
    host = endpoint.partition("://")[2]
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: kfp-launcher, namespace: {namespace}}}
data:
  defaultPipelineRoot: {namespace_root(namespace)}
  providers: |
    minio:
      default:
        endpoint: {host}
        disableSSL: true
        region: minio
        credentials:
          fromEnv: false
          secretRef: {{secretName: {SECRET}, accessKeyKey: accesskey, secretKeyKey: secretkey}}
"""


def kserve_download(serving_dir: str, configmap: dict, key: tuple[str, str], work: Path):
    """What KServe's storage initializer copies into /mnt/models for `kubeflow serving-manifest`'s
    InferenceService, its Secret holding `key`: kserve-storage's own download, in the environment kserve/kserve
    builds from the Secret (pkg/credentials/s3/s3_secret.go BuildSecretEnvs and BuildS3EnvVars: the keys, the
    endpoint with the scheme `s3-usehttps` gives, the region). Returns the finished process and the folder."""
    from kubeflow import launcher_config, serving_manifest

    made = serving_manifest.manifest(serving_dir, "model", "ns", launcher_config.session(configmap, serving_dir, None))
    annotations, keys = made.secret.annotations, dict(zip(("accesskey", "secretkey"), key, strict=True))
    endpoint, https = annotations["serving.kserve.io/s3-endpoint"], annotations["serving.kserve.io/s3-usehttps"]
    region = annotations["serving.kserve.io/s3-region"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": keys["accesskey"],
        "AWS_SECRET_ACCESS_KEY": keys["secretkey"],
        "S3_ENDPOINT": endpoint,
        "S3_USE_HTTPS": https,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": ("http://" if https == "0" else "https://") + endpoint,
    }
    mounted = work / f"mnt-models-{key[0]}"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kserve_storage import Storage; Storage.download(sys.argv[1], sys.argv[2])",
            made.documents[-1]["spec"]["predictor"]["model"]["storageUri"],
            str(mounted),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    return done, mounted
