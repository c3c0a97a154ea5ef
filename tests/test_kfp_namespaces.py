"""Multi-user namespaces and the namespace's kfp-launcher ConfigMap at compile: the root a run uses, the store
identity of each path, and the refusals of what the launcher or the namespace's key would refuse."""

from __future__ import annotations

import json

import pytest

from kfp_driver import IMAGE, NS, compile_package, driver_parse
from pipeline import cli

# ---- Multi-user namespaces as the profile controller makes them (manifests/kustomize/base/installs/multi-user/
# pipelines-profile-controller/sync.py at 2.17.0: the root about line 285, the key's policy about lines 466-491).
NAMESPACE_ROOT = f"minio://mlpipeline/private-artifacts/{NS}/v2/artifacts"
NAMESPACE_PATHS = [
    "--dataset",
    f"minio://mlpipeline/private/{NS}/datasets/kettles",
    "--serving-dir",
    f"minio://mlpipeline/private/{NS}/serving/kettles",
]


def _target(text: str) -> dict:
    line = next(line for line in text.splitlines() if line.startswith("# maskrcnn-tfx target: "))
    return json.loads(line.split(": ", 1)[1])


def test_a_package_for_a_namespace_uses_its_root_and_its_key(tmp_path, capsys):
    spec, platform, text = compile_package(tmp_path, "--namespace", NS, "--kfp-version", "2.17.0", *NAMESPACE_PATHS)
    assert spec["defaultPipelineRoot"] == NAMESPACE_ROOT
    assert _target(text) == {
        "kfp_version": "2.17.0",
        "namespace": NS,
        "pipeline_root": NAMESPACE_ROOT,
        "root_given": False,
    }
    assert f"pipeline root: {NAMESPACE_ROOT} (namespace {NS}'s own" in capsys.readouterr().out
    for executor in spec["deploymentSpec"]["executors"].values():
        # minio.go getDefaultMinioSessionInfo at 2.17.0: seaweedfs.kubeflow:9000, disableSSL true
        assert executor["container"]["env"] == [
            {"name": "AWS_ENDPOINT_URL_S3", "value": "http://seaweedfs.kubeflow:9000"}
        ]
    secrets = [
        s for e in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values() for s in e["secretAsEnv"]
    ]
    assert {s["secretName"] for s in secrets} == {"mlpipeline-minio-artifact"}
    assert {(k["secretKey"], k["envVar"]) for s in secrets for k in s["keyToEnv"]} == {
        ("accesskey", "AWS_ACCESS_KEY_ID"),
        ("secretkey", "AWS_SECRET_ACCESS_KEY"),
    }  # env.go; botocore's names
    driver_parse(spec, platform, "2.17.0")


@pytest.mark.parametrize(
    "change, named",
    [
        (["--serving-dir", "minio://mlpipeline/serving/kettles"], "--serving-dir minio://mlpipeline/serving/kettles"),
        (["--pipeline-root", "minio://mlpipeline/v2/artifacts"], "--pipeline-root minio://mlpipeline/v2/artifacts"),
        (
            ["--dataset", "minio://mlpipeline/private/team-b/datasets/kettles"],
            "--dataset minio://mlpipeline/private/team-b/datasets/kettles",
        ),
    ],
)
def test_a_path_outside_the_namespaces_key_is_refused_naming_the_allowed_prefixes(tmp_path, capsys, change, named):
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--namespace",
        NS,
        "--kfp-version",
        "2.17.0",
        *NAMESPACE_PATHS,
        *change,
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"{named}: outside what the key of namespace {NS} may use" in err
    assert (
        f"mlpipeline/artifacts/*, mlpipeline/private-artifacts/{NS}/*, mlpipeline/private/{NS}/*, "
        f"mlpipeline/shared/*" in err
    )
    assert f"--dataset minio://mlpipeline/private/{NS}/datasets/NAME" in err
    assert not (tmp_path / "p.yaml").exists()


def test_before_2_15_a_namespace_shares_the_installs_keys(tmp_path):
    """sync.py at 2.2.0 copies the install's MinIO keys into the namespace: no prefixes to keep to."""
    spec, _, text = compile_package(
        tmp_path,
        "--namespace",
        NS,
        "--kfp-version",
        "2.2.0",
        "--dataset",
        "minio://mlpipeline/datasets/kettles",
        "--serving-dir",
        "minio://mlpipeline/serving/k",
    )
    assert spec["defaultPipelineRoot"] == "minio://mlpipeline/v2/artifacts"  # env.go defaultPipelineRoot
    assert (
        spec["deploymentSpec"]["executors"]["Trainer_executor"]["container"]["env"][0]["value"]
        == "http://minio-service.kubeflow:9000"
    )  # objectstore/config.go at 2.2.0
    assert _target(text)["kfp_version"] == "2.2.0"


LAUNCHER_CONFIG = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: kfp-launcher
  namespace: {NS}
data:
  defaultPipelineRoot: s3://ml-{NS}/pipeline-root
  providers: |
    s3:
      default:
        endpoint: s3.example.com:9000
        region: eu-west-1
        disableSSL: true
        credentials:
          fromEnv: false
          secretRef: {{secretName: shared-s3, accessKeyKey: key, secretKeyKey: secret}}
      overrides:
        - bucketName: ml-{NS}
          keyPrefix: data
          credentials:
            secretRef: {{secretName: {NS}-s3, accessKeyKey: AWS_ACCESS_KEY_ID, secretKeyKey: AWS_SECRET_ACCESS_KEY}}
"""


def test_the_steps_use_the_store_identity_the_launchers_providers_give_their_paths(tmp_path, capsys):
    (tmp_path / "kfp-launcher.yaml").write_text(LAUNCHER_CONFIG)
    spec, platform, _text = compile_package(
        tmp_path,
        "--launcher-config",
        str(tmp_path / "kfp-launcher.yaml"),
        "--namespace",
        NS,
        "--dataset",
        f"s3://ml-{NS}/data/kettles",
        "--serving-dir",
        f"s3://ml-{NS}/data/serving/kettles",
    )
    assert spec["defaultPipelineRoot"] == f"s3://ml-{NS}/pipeline-root"  # the ConfigMap's
    env = spec["deploymentSpec"]["executors"]["Pusher_executor"]["container"]["env"]
    assert env == [
        {"name": "AWS_ENDPOINT_URL_S3", "value": "http://s3.example.com:9000"},
        {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"},
    ]  # s3.go: the default's, kept by the override
    secret = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["Pusher_executor"]["secretAsEnv"]
    assert [s["secretName"] for s in secret] == [f"{NS}-s3"]  # the override's (bucket ml-team-a, prefix data)


def test_the_steps_paths_on_two_identities_are_refused(tmp_path, capsys):
    (tmp_path / "kfp-launcher.yaml").write_text(LAUNCHER_CONFIG)
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--launcher-config",
        str(tmp_path / "kfp-launcher.yaml"),
        "--dataset",
        f"s3://ml-{NS}/data/kettles",
        "--serving-dir",
        f"s3://ml-{NS}/serving/kettles",
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"--dataset s3://ml-{NS}/data/kettles: s3.example.com:9000 as {NS}-s3" in err
    assert f"--serving-dir s3://ml-{NS}/serving/kettles: s3.example.com:9000 as shared-s3" in err


def test_an_s3_root_without_a_providers_entry_is_aws_s3_reached_with_the_pods_own_credentials(tmp_path, capsys):
    """object_store.go OpenBucket (2.2.0, 2.17.0): no providers entry, the AWS SDK's default session; the steps
    share the pod's environment, so they get no endpoint and no secret either."""
    spec, platform, _ = compile_package(
        tmp_path, "--pipeline-root", "s3://ml/root", "--dataset", "s3://ml/data", "--serving-dir", "s3://ml/serving"
    )
    out = capsys.readouterr().out
    assert (
        "--pipeline-root s3://ml/root has no providers entry in the kfp-launcher ConfigMap: the launcher opens it "
        "on AWS S3 itself with the pod's AWS credentials (IRSA or the node's role" in out
    )
    assert "For MinIO or SeaweedFS add a providers entry for s3://" in out and "fromEnv: true" in out
    assert spec["defaultPipelineRoot"] == "s3://ml/root"
    assert not [e for e in spec["deploymentSpec"]["executors"].values() if e["container"].get("env")]
    assert not platform  # no secretAsEnv: the pod's own credentials


def test_an_s3_root_without_a_providers_entry_is_refused_with_another_endpoint_and_the_entry_to_add(tmp_path, capsys):
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--pipeline-root",
        "s3://ml/root",
        "--dataset",
        "s3://ml/data",
        "--serving-dir",
        "s3://ml/serving",
        "--s3-endpoint",
        "http://minio.example.com:9000",
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "--s3-endpoint http://minio.example.com:9000 with --pipeline-root s3://ml/root: the kfp-launcher "
        "ConfigMap has no providers entry for s3://" in err
    )
    assert "  providers: |\n    s3:\n      default:\n        endpoint: ENDPOINT" in err
    assert "        - bucketName: ml\n          keyPrefix: root" in err
    assert "`credentials: {fromEnv: true}` in place of each secretRef" in err
    assert not (tmp_path / "p.yaml").exists()


def test_a_minio_path_for_any_release_needs_the_release_or_the_endpoint(tmp_path, capsys):
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--pipeline-root",
        "minio://mlpipeline/v2/artifacts",
        "--dataset",
        "minio://mlpipeline/datasets/d",
        "--serving-dir",
        "gs://b/serving",
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "minio-service.kubeflow:9000 or seaweedfs.kubeflow:9000 depending on the release" in err
    assert "give --kfp-version" in err
