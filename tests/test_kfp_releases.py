"""The KFP releases people run, each by its own source (kubeflow/pipelines at the tag named): the launcher's store
identity for a path (KFP's own known answers) and KFP 2.2.0's strict driver parsing the package
(tests/test_kfp_namespaces.py: multi-user namespaces and the launcher's ConfigMap). The drivers reproduced:
tests/kfp_driver.py."""

from __future__ import annotations

import pytest
import yaml
from google.protobuf import json_format

from kfp_driver import DATA, compile_package, driver_2_2_0_parse
from kubeflow import launcher_config, releases


def provider_case(name: str) -> dict[str, str]:
    """A ConfigMap with the providers of one case of KFP's testdata, as env_test.go fetchProviderFromData."""
    cases = yaml.safe_load((DATA / "kfp-2.17.0-provider_cases.yaml").read_text())["cases"]
    return {"providers": next(c["value"] for c in cases if c["name"] == name)}


# kubeflow/pipelines 2.17.0 backend/src/v2/config/env_test.go TestGetBucketSessionInfo: (root, case, expected params
# or the error's words). Only s3:// and minio:// cases (the steps reach no gs:// through these rules).
KNOWN_ANSWERS = [
    ("s3://my-bucket", None, {"fromEnv": "true"}),
    (
        "minio://my-bucket/v2/artifacts",
        None,
        {
            "endpoint": "seaweedfs.kubeflow:9000",
            "region": "minio",
            "disableSSL": "true",
            "fromEnv": "false",
            "secretName": "mlpipeline-minio-artifact",
            "accessKeyKey": "accesskey",
            "secretKeyKey": "secretkey",
        },
    ),
    ("minio://my-bucket/v2/artifacts", "case2", "invalid provider config"),
    ("minio://my-bucket/v2/artifacts", "case3", "invalid provider config"),
    ("minio://my-bucket/v2/artifacts", "case4", "missing default credentials"),
    (
        "minio://my-bucket/v2/artifacts",
        "case5",
        {
            "endpoint": "minio-endpoint-5.com",
            "region": "minio",
            "disableSSL": "true",
            "fromEnv": "false",
            "secretName": "test-secret-5",
            "accessKeyKey": "test-accessKeyKey-5",
            "secretKeyKey": "test-secretKeyKey-5",
            "forcePathStyle": "true",
        },
    ),
    (
        "minio://minio-bucket-a/some/minio/path/a",
        "case6",
        {
            "endpoint": "minio-endpoint-6.com",
            "region": "minio-a",
            "disableSSL": "true",
            "fromEnv": "false",
            "secretName": "minio-test-secret-6-a",
            "accessKeyKey": "minio-test-accessKeyKey-6-a",
            "secretKeyKey": "minio-test-secretKeyKey-6-a",
            "forcePathStyle": "true",
        },
    ),
    ("s3://my-bucket/v2/artifacts", "case7", "missing default credentials"),
    ("minio://minio-bucket-a/some/minio/path/a", "case8", "missing override secretref"),
    (
        "minio://minio-bucket-a/some/minio/path/a",
        "case9",
        {
            "endpoint": "minio-endpoint-9.com",
            "region": "minio-a",
            "disableSSL": "true",
            "fromEnv": "true",
            "forcePathStyle": "true",
        },
    ),
    (
        "minio://minio-bucket-a/some/minio/path/b",
        "case10",
        {
            "endpoint": "minio-endpoint-10.com",
            "region": "minio",
            "disableSSL": "true",
            "fromEnv": "true",
            "forcePathStyle": "true",
        },
    ),
    (
        "s3://s3-bucket/no/override/path",
        "case6",
        {
            "endpoint": "s3.amazonaws.com",
            "region": "us-east-1",
            "disableSSL": "false",
            "fromEnv": "false",
            "secretName": "s3-testsecret-6",
            "accessKeyKey": "s3-testaccessKeyKey-6",
            "secretKeyKey": "s3-testsecretKeyKey-6",
            "forcePathStyle": "false",
        },
    ),
    (
        "s3://s3-bucket/some/s3/path/b",
        "case6",
        {
            "endpoint": "s3.us-east-2.amazonaws.com",
            "region": "us-east-2",
            "disableSSL": "false",
            "fromEnv": "false",
            "secretName": "s3-test-secret-6-b",
            "accessKeyKey": "s3-test-accessKeyKey-6-b",
            "secretKeyKey": "s3-test-secretKeyKey-6-b",
            "forcePathStyle": "false",
        },
    ),
    (
        "s3://s3-bucket/some/s3/path/a/b",
        "case6",
        {
            "endpoint": "s3.amazonaws.com",
            "region": "us-east-1",
            "disableSSL": "false",
            "fromEnv": "false",
            "secretName": "s3-test-secret-6-a",
            "accessKeyKey": "s3-test-accessKeyKey-6-a",
            "secretKeyKey": "s3-test-secretKeyKey-6-a",
            "forcePathStyle": "false",
        },
    ),
]


def as_params(session: launcher_config.Session) -> dict[str, str]:
    """A Session as the SessionInfo params env_test.go compares (maxRetries left out: the steps have no use)."""
    if session.from_env and session.built_in:
        return {"fromEnv": "true"}
    params = {
        "endpoint": session.endpoint,
        "region": session.region,
        "disableSSL": str(session.disable_ssl).lower(),
        "fromEnv": str(session.from_env).lower(),
    }
    if not (session.built_in and session.provider == "minio"):
        params["forcePathStyle"] = str(session.force_path_style).lower()
    if session.secret:
        # strict=False: NAME alone names the secret and leaves the key names to the defaults
        params.update(zip(("secretName", "accessKeyKey", "secretKeyKey"), session.secret.split(":"), strict=False))
    return params


@pytest.mark.parametrize("root, case, expected", KNOWN_ANSWERS)
def test_the_launchers_identity_for_a_path_is_kfps_own_answer(root, case, expected):
    data = provider_case(case) if case else {}
    if isinstance(expected, str):
        with pytest.raises(launcher_config.LauncherConfigError, match=expected):
            launcher_config.session(data, root, releases.RELEASES["2.17.0"])
    else:
        assert as_params(launcher_config.session(data, root, releases.RELEASES["2.17.0"])) == expected


def test_the_built_in_endpoint_is_each_releases_own():
    """backend/src/v2/objectstore/config.go: minio-service.kubeflow:9000 at 2.2.0 and 2.15.0, seaweedfs from 2.16.0."""
    expected = {
        "2.2.0": "minio-service.kubeflow:9000",
        "2.15.0": "minio-service.kubeflow:9000",
        "2.16.0": "seaweedfs.kubeflow:9000",
        "2.17.0": "seaweedfs.kubeflow:9000",
    }
    for version, endpoint in expected.items():
        assert launcher_config.session({}, "minio://mlpipeline/x", releases.RELEASES[version]).endpoint == endpoint
    assert launcher_config.session({}, "minio://mlpipeline/x", None).endpoint == ""  # differs: compile asks


def test_kfp_2_2_0s_strict_driver_parses_every_step_of_the_default_package(tmp_path):
    spec, platform, _ = compile_package(
        tmp_path,
        "--pipeline-root",
        "minio://mlpipeline/v2/artifacts",
        "--dataset",
        "minio://mlpipeline/datasets/d",
        "--serving-dir",
        "minio://mlpipeline/serving/m",
        "--s3-endpoint",
        "http://minio-service.kubeflow:9000",
    )
    assert platform  # the steps get the secret
    driver_2_2_0_parse(spec, platform)
    # The check refuses what 2.2.0 refuses: the fields the package wrote before.
    trainer = next(
        e["container"]
        for e in spec["deploymentSpec"]["executors"].values()
        if "accelerator" in e["container"].get("resources", {})
    )
    trainer["resources"]["resourceCpuRequest"] = "5"
    with pytest.raises(json_format.ParseError, match="resourceCpuRequest"):
        driver_2_2_0_parse(spec, platform)
    trainer["resources"].pop("resourceCpuRequest")
    first = next(iter(platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()))
    first["secretAsEnv"][0]["secretNameParameter"] = {"runtimeValue": {"constant": "mlpipeline-minio-artifact"}}
    with pytest.raises(json_format.ParseError, match="secretNameParameter"):
        driver_2_2_0_parse(spec, platform)
