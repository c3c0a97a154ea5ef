"""The contract run's install, without its containers (the fixtures of tests/kfp_contract.py): each release's
driver and launcher reach the steps' paths as the steps do, an upgraded install's cache serves nothing of the old
release's, the reproduced launcher reads an executor output strictly, and moto's store refuses what the namespace's
key may not do and serves the image's own S3 client."""

from __future__ import annotations

from pathlib import Path

import pytest

import kfp_backend
import kfp_compiler
import kfp_store
from kfp_contract import ARGUMENTS, DATASET, NS, RELEASES, ROOT, serving
from pipeline.pipeline import UNCACHED_STEPS


@pytest.mark.parametrize("tag", RELEASES)
def test_the_steps_reach_their_paths_as_the_launcher_does_on_every_release(install, tag):
    """The launcher's store for each path (config/s3.go: the ConfigMap's providers) is the steps' endpoint and
    secret; each release's driver parses every step (2.2.0 strictly) and gives each pod the env 2.17.0's gives it;
    only the built-in endpoint of a minio:// path without providers differs between them."""
    spec, platform = kfp_compiler.load_package(install["packages"][tag])
    configmap, secrets = install["configmap"], install["secrets"]
    assert kfp_compiler.compiler_violations(spec) == []
    stores = {kfp_store.launcher_store(configmap, path, kfp_store.RULES[tag]) for path in (ROOT, DATASET, serving(tag))}
    assert len(stores) == 1
    store = stores.pop()
    from kfp_driver import driver_parse

    driver_parse(spec, {"platforms": {"kubernetes": platform}}, tag)
    executors = platform["deploymentSpec"]["executors"]
    for label, executor in spec["deploymentSpec"]["executors"].items():
        env = {e["name"]: e["value"] for e in executor["container"].get("env", [])}
        assert env["AWS_ENDPOINT_URL_S3"] == store.url(), label  # botocore's variable, read by the steps' s3fs
        pods = [kfp_store.secret_env(executors[label], secrets, rules) for rules in kfp_store.RULES.values()]
        assert pods[0] == pods[1] and set(pods[0].values()) == set(secrets[store.secret[0]].values()), label
    assert {r.tag: kfp_store.launcher_store({}, ROOT, r).endpoint for r in kfp_store.RULES.values()} == {
        "2.2.0": "minio-service.kubeflow:9000",
        "2.17.0": "seaweedfs.kubeflow:9000",
    }
    tasks = spec["root"]["dag"]["tasks"]
    assert {t for t, task in tasks.items() if not task.get("cachingOptions", {}).get("enableCache")} == {
        "MaskEvaluator",
        "ServingCheck",
        "Pusher",
    }


def test_an_install_upgraded_from_2_2_0_to_2_17_0_serves_nothing_from_2_2_0s_cache(install, s3_store, tmp_path):
    """The driver and the cache only (the containers' stand-in runs nothing): 2.17.0's key holds the executor-logs
    output, 2.2.0's does not (cacheutils/cache.go, driver.go provisionOutputs at each tag), so after an upgrade
    every step runs once again rather than reusing a 2.2.0 output."""
    started = []

    def run_container(image, argv, env, mounts, image_user, security):
        started.append(argv)
        return 0, ""

    backend = kfp_backend.Backend(
        s3_store["connect"], run_container, install["secrets"], install["configmap"], tmp_path, kfp_store.RULES["2.2.0"]
    )
    package = install["packages"]["2.2.0"]
    before = backend.run(package, None, ARGUMENTS)
    again = backend.run(package, None, ARGUMENTS)
    assert [t for t, step in again.items() if step.cached] == [t for t in before if t not in UNCACHED_STEPS]
    backend.rules = kfp_store.RULES["2.17.0"]  # the install upgraded in place: its cache kept
    upgraded = backend.run(package, None, ARGUMENTS)
    assert not any(step.cached for step in upgraded.values())
    assert len(started) == 2 * len(before) + len(UNCACHED_STEPS)


@pytest.mark.parametrize(
    "written, words",
    [
        ('{"artifacts": {}, "logs": "x"}', "no field named"),
        ('{"artifacts": {"blessing": {"artifacts": [{"metadata": {"score": NaN}}]}}}', "NaN is not JSON"),
    ],
)
def test_the_reproduced_launcher_reads_an_executor_output_strictly(written, words):
    """launcher_v2.go getExecutorOutputFile (protojson.Unmarshal): what the steps' outputs passed."""
    with pytest.raises(ValueError, match=words):
        kfp_store.parse_executor_output(written, "output_metadata.json")


@pytest.mark.parametrize(
    "key, path, words",
    [
        ("namespace", "mlpipeline/v2/artifacts/x", "Access Denied"),
        ("namespace", "mlpipeline/private-artifacts/team-b/v2/artifacts/x", "Access Denied"),
        ("wrong secret", f"mlpipeline/private/{NS}/x", "signature we calculated does not match"),
        ("unknown key", f"mlpipeline/private/{NS}/x", "Access Key Id you provided does not exist"),
    ],
)
def test_the_store_refuses_a_path_outside_the_namespaces_prefixes_and_a_wrong_key_in_words(s3_store, key, path, words):
    """One write with the image's S3 client (s3fs), as a step or the launcher would make it."""
    access, secret = s3_store["keys"][NS]
    access, secret = {
        "namespace": (access, secret),
        "wrong secret": (access, "not-" + secret),
        "unknown key": ("AKIANOTAKEYOFTHEIAM", secret),
    }[key]
    fs = s3_store["connect"](s3_store["endpoint"], access, secret)
    with pytest.raises(PermissionError, match=words):
        fs.pipe_file(path, b"x")
    s3_store["connect"](s3_store["endpoint"], *s3_store["keys"][NS]).pipe_file(f"mlpipeline/private/{NS}/x", b"x")


def test_moto_is_a_real_s3_server_for_the_images_s3_client(s3_store, tmp_path, monkeypatch):
    """The project's file layer on the loopback store, as the steps use it (botocore's variables), with the
    namespace's key inside its prefixes."""
    from components.util import serving
    from storage import fileio

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_store["endpoint"])
    monkeypatch.setenv(fileio.REGION_VARIABLE, "minio")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_store["keys"][NS][0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_store["keys"][NS][1])
    (tmp_path / "model" / "variables").mkdir(parents=True)
    (tmp_path / "model" / "variables" / "v.index").write_text("v")
    (tmp_path / "model" / "saved_model.pb").write_text("graph")
    base = f"mlpipeline/private/{NS}/probe"
    fileio.upload(str(tmp_path / "model"), f"minio://{base}/7", last=("saved_model.pb",))
    assert fileio.list_entries(f"s3://{base}/7") == [("saved_model.pb", False), ("variables", True)]
    assert fileio.read_text(f"minio://{base}/7/variables/v.index") == "v"
    local = fileio.download(f"s3://{base}/7", str(tmp_path / "copy"))
    assert sorted(str(p.relative_to(local)) for p in Path(local).rglob("*") if p.is_file()) == [
        "saved_model.pb",
        "variables/v.index",
    ]
    assert serving.newest_version(f"minio://{base}") == f"minio://{base}/7"
    assert serving.newest_version(f"minio://{base}-none") is None  # the evaluator's "no model served yet"
