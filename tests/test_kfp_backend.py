"""The contract run: a package compiled for a multi-user namespace (`--namespace`, `--launcher-config` with the
kfp-launcher ConfigMap the profile controller writes), run step by step in containers of the image the way an
open-source Kubeflow Pipelines backend runs it (tests/kfp_backend.py, tests/kfp_store.py: its driver's executor
input, its launcher's staging, store and logs, its cache; KFP 2.17.0's source, 2.2.0's where they differ), on
moto's S3 server on loopback enforcing keys and the namespace's policy. The run is judged against a model already
served from the store (the end-to-end run's, uploaded) and pushes its own beside it; a second submission with
the same inputs is served from the cache but for the Evaluator and the Pusher, and pushes no second version.

Only 2.17.0's rules run the containers (eight, then two). 2.2.0's differences are checked where they live, without
containers: its strict driver parses every step's specs and gives each pod the env 2.17.0's gave, its built-in
store endpoint differs, and two submissions through its driver and cache (no step run) are served as 2.17.0's
are. Mixing the releases across the two submissions would not stand for an install: 2.17.0's cache key holds
the executor-logs output, 2.2.0's does not, so an upgraded install's cache serves nothing of the old runs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import kfp_backend
import kfp_install
import kfp_store
import pytest
from conftest import IMAGE, IN_MEMORY_BEAM_ARGS

from dataset import sample
from pipeline import cli

NS = "team-a"
ROOT = kfp_install.namespace_root(NS)
DATASET = f"minio://mlpipeline/private/{NS}/datasets/speakers"
SERVING = f"minio://mlpipeline/private/{NS}/serving/speakers"
RULES = kfp_store.RULES["2.17.0"]
SECRET = kfp_install.SECRET
ARGUMENTS = {"train_args": json.dumps({"num_steps": 3})}


@pytest.fixture(scope="module")
def s3_store():
    """moto's S3 server on loopback with IAM enforced: an admin key for the test's own checks, and the
    namespace's key with its policy (kfp_install.py)."""
    with kfp_install.store(NS, ("mlpipeline", "models")) as store:
        yield store


@pytest.fixture(scope="module")
def contract_run(engine, s3_store, trained_pipeline, tmp_path_factory):
    """Two submissions of a package with other train_args than its defaults, on a serving folder that already
    serves the end-to-end run's model (the sample's classes, so comparable). A few minutes on 2 cores: eight
    steps, each a container of the image, as the cluster runs them; then the two the cache does not serve."""
    import yaml

    work = tmp_path_factory.mktemp("kfp-backend")
    dataset = work / "dataset"
    sample.generate(dataset, num_train=8, num_test=4, num_unlabelled=0, sizes=((320, 240),))
    fs = s3_store["fs"]
    fs.put(str(dataset) + "/", DATASET.partition("://")[2], recursive=True)
    served = trained_pipeline["pushed"]["destination"]
    baseline = f"{SERVING}/{os.path.basename(served)}"
    fs.put(served + "/", baseline.partition("://")[2], recursive=True)
    (work / "kfp-launcher.yaml").write_text(kfp_install.launcher_configmap(s3_store["endpoint"], NS))
    path = work / "pipeline.yaml"
    assert cli.main(["kubeflow", "compile", "--image", IMAGE, "--output", str(path), "--gpus", "0",
                     "--config", "tiny", "--train-steps", "2", "--max-regression", "1", "--namespace", NS,
                     "--launcher-config", str(work / "kfp-launcher.yaml"), "--dataset", DATASET,
                     "--serving-dir", SERVING, "--beam-args=" + " ".join(IN_MEMORY_BEAM_ARGS)]) == 0

    def run_container(image, argv, env, mounts):
        container = engine.containers.run(
            image, argv, environment=env, network_mode="host", working_dir="/", detach=True, shm_size="2g",
            user=f"{os.getuid()}:{os.getgid()}", volumes={host: {"bind": target, "mode": "rw"}
                                                            for host, target in mounts.items()})
        try:
            code = container.wait(timeout=900)["StatusCode"]
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    configmap = yaml.safe_load((work / "kfp-launcher.yaml").read_text())["data"]
    key, secret = s3_store["keys"][NS]
    secrets = {SECRET: {"accesskey": key, "secretkey": secret}}
    backend = kfp_backend.Backend(s3_store["connect"], run_container, secrets, configmap, work / "pods", RULES)
    first = backend.run(path, None, ARGUMENTS)  # `submit` sends no root for a namespace's package
    second = backend.run(path, None, ARGUMENTS)
    return {"package": path, "run": first, "second": second, "fs": fs, "baseline": baseline,
            "configmap": configmap, "secrets": secrets}


def _pushed(run) -> dict:
    return run["Pusher"].executor_output["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]


def _versions(fs) -> list[str]:
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(SERVING.partition("://")[2]) if p.rsplit("/", 1)[-1].isdigit())


def _evaluation(run, fs) -> dict:
    uri = run["MaskEvaluator"].outputs["evaluation"].uri
    return json.loads(fs.cat_file(uri.partition("://")[2] + "/metrics.json"))


def test_a_run_pushes_a_model_to_the_object_store_in_tf_servings_layout(contract_run):
    fs, run = contract_run["fs"], contract_run["run"]
    assert list(run) == kfp_backend.ordered_tasks(kfp_backend.load_package(contract_run["package"])[0])
    assert all(r.outputs for r in run.values()) and not any(r.cached for r in run.values())
    examples = run["ImageMaskExampleGen"].outputs["examples"]
    assert examples.metadata["num_examples_train"] == 8.0 and examples.metadata["num_examples_eval"] == 4.0
    assert run["Trainer"].executor_input["inputs"]["parameterValues"]["train_args"] == '{"num_steps": 3}'
    pushed = _pushed(run)
    assert pushed["pushed"] == 1 and pushed["pushed_destination"].startswith(SERVING + "/")
    version = pushed["pushed_destination"].partition("://")[2]
    assert fs.exists(f"{version}/saved_model.pb") and fs.exists(f"{version}/variables/variables.index")
    label_map = json.loads(fs.cat_file(f"{version}/assets/label_map.json"))
    assert [c["name"] for c in label_map["classes"]] == ["speaker", "mug"]
    # Every artifact is under the run's prefix of the namespace's root (root_dag.go: the ConfigMap's, the run
    # sent none), and nothing wrote a folder marker.
    for step in run.values():
        for recorded in step.outputs.values():
            assert recorded.uri.startswith(f"{ROOT}/maskrcnn-tfx/"), recorded.uri
    assert not [k for k in fs.find("mlpipeline") if k.endswith("/")]


def test_the_run_is_judged_against_the_model_served_from_the_store(contract_run):
    fs, run = contract_run["fs"], contract_run["run"]
    evaluation = _evaluation(run, fs)
    assert evaluation["baseline"]["model_uri"] == contract_run["baseline"]
    assert any("vs baseline" in reason for reason in evaluation["blessing"]["reasons"])
    assert evaluation["blessing"]["blessed"]  # --max-regression 1: any model within 1.0 AP of the served one
    assert _versions(fs) == sorted([contract_run["baseline"].rsplit("/", 1)[-1], _pushed(run)["pushed_version"]])


def test_a_second_submission_is_served_from_the_cache_and_pushes_no_second_version(contract_run):
    """cacheutils/cache.go's key: the same inputs give the same fingerprints down the graph (a cached step's
    outputs keep their ML Metadata ids); cachingOptions.enableCache false runs the Evaluator and the Pusher."""
    fs, first, second = contract_run["fs"], contract_run["run"], contract_run["second"]
    assert [t for t, step in second.items() if not step.cached] == ["MaskEvaluator", "Pusher"]
    assert second["Trainer"].outputs["model"].id == first["Trainer"].outputs["model"].id
    assert _evaluation(second, fs)["baseline"]["model_uri"] == _pushed(first)["pushed_destination"]
    again = _pushed(second)
    assert again["already_served"] == _pushed(first)["pushed_version"] == again["pushed_version"]
    assert "is already served as version " + again["pushed_version"] in second["Pusher"].log
    assert _versions(fs) == sorted([contract_run["baseline"].rsplit("/", 1)[-1], _pushed(first)["pushed_version"]])


def test_steps_got_the_executor_input_the_backend_builds_and_the_launcher_published_their_logs(contract_run):
    fs, run = contract_run["fs"], contract_run["run"]
    evaluator = run["MaskEvaluator"].executor_input
    for artifact_list in evaluator["inputs"]["artifacts"].values():
        artifact = artifact_list["artifacts"][0]
        assert artifact["type"] == {"instanceSchema": ""} and artifact["name"].isdigit()
        assert artifact["uri"].startswith(ROOT)
    assert "Traceback" not in run["ImageMaskExampleGen"].log
    # PUBLISH_LOGS: every step was given the executor-logs output, read its executor output strictly
    # (kfp_store.parse_executor_output), and its log is in the store.
    for step in (*run.values(), contract_run["second"]["Pusher"]):
        assert fs.cat_file(step.logs_uri.partition("://")[2]).decode() == step.log


def test_the_steps_reach_their_paths_as_the_launcher_does_on_every_release(contract_run):
    """The launcher's store for each path (config/s3.go: the ConfigMap's providers) is the steps' endpoint and
    secret; 2.2.0's strict driver parses every step and gives each pod the env 2.17.0's gave the run; only the
    built-in endpoint of a minio:// path without providers differs between them."""
    spec, platform = kfp_backend.load_package(contract_run["package"])
    configmap, secrets = contract_run["configmap"], contract_run["secrets"]
    assert kfp_backend.compiler_violations(spec) == []
    stores = {kfp_store.launcher_store(configmap, path, RULES) for path in (ROOT, DATASET, SERVING)}
    assert len(stores) == 1
    store = stores.pop()
    from test_kfp_releases import driver_2_2_0_parse

    driver_2_2_0_parse(spec, {"platforms": {"kubernetes": platform}})
    executors = platform["deploymentSpec"]["executors"]
    for label, executor in spec["deploymentSpec"]["executors"].items():
        env = {e["name"]: e["value"] for e in executor["container"].get("env", [])}
        assert env["AWS_ENDPOINT_URL_S3"] == store.url(), label  # botocore's variable, read by the steps' s3fs
        pods = [kfp_store.secret_env(executors[label], secrets, rules) for rules in kfp_store.RULES.values()]
        assert pods[0] == pods[1] and set(pods[0].values()) == set(secrets[store.secret[0]].values()), label
    assert {r.tag: kfp_store.launcher_store({}, ROOT, r).endpoint for r in kfp_store.RULES.values()} == \
        {"2.2.0": "minio-service.kubeflow:9000", "2.17.0": "seaweedfs.kubeflow:9000"}
    tasks = spec["root"]["dag"]["tasks"]
    assert {t for t, task in tasks.items() if not task.get("cachingOptions", {}).get("enableCache")} == \
        {"MaskEvaluator", "Pusher"}


def test_kfp_2_2_0s_driver_and_cache_on_the_same_package(contract_run, s3_store, tmp_path):
    """The driver and the cache only (the containers' stand-in runs nothing): 2.2.0's strict driver takes every
    step, its executor inputs have no executor-logs (provisionOutputs at 2.2.0 has none), its cache
    (cacheutils/cache.go GenerateCacheKey at 2.2.0: the same key without PVC names; driver.go L321: enableCache)
    serves all but the Evaluator and the Pusher the second time; on an install upgraded to 2.17.0 none of
    2.2.0's fingerprints match (2.17.0's key holds the executor-logs output), so every step runs once again."""
    started = []

    def run_container(image, argv, env, mounts):
        started.append(argv)
        return 0, ""

    backend = kfp_backend.Backend(s3_store["connect"], run_container, contract_run["secrets"],
                                  contract_run["configmap"], tmp_path, kfp_store.RULES["2.2.0"])
    first = backend.run(contract_run["package"], None, ARGUMENTS)
    second = backend.run(contract_run["package"], None, ARGUMENTS)
    assert [t for t, step in second.items() if not step.cached] == ["MaskEvaluator", "Pusher"]
    assert len(started) == len(first) + 2
    assert not any(kfp_backend.LOGS_OUTPUT in step.executor_input["outputs"]["artifacts"] for step in first.values())
    upgraded = backend.run(contract_run["package"], None, ARGUMENTS, rules=RULES)
    assert not any(step.cached for step in upgraded.values())


@pytest.mark.parametrize("written, words", [
    ('{"artifacts": {}, "logs": "x"}', "no field named"),
    ('{"artifacts": {"blessing": {"artifacts": [{"metadata": {"score": NaN}}]}}}', "NaN is not JSON"),
])
def test_the_reproduced_launcher_reads_an_executor_output_strictly(written, words):
    """launcher_v2.go getExecutorOutputFile (protojson.Unmarshal): what the steps' outputs passed."""
    with pytest.raises(ValueError, match=words):
        kfp_store.parse_executor_output(written, "output_metadata.json")


@pytest.mark.parametrize("key, path, words", [
    ("namespace", "mlpipeline/v2/artifacts/x", "Access Denied"),
    ("namespace", "mlpipeline/private-artifacts/team-b/v2/artifacts/x", "Access Denied"),
    ("wrong secret", f"mlpipeline/private/{NS}/x", "signature we calculated does not match"),
    ("unknown key", f"mlpipeline/private/{NS}/x", "Access Key Id you provided does not exist"),
])
def test_the_store_refuses_a_path_outside_the_namespaces_prefixes_and_a_wrong_key_in_words(s3_store, key, path,
                                                                                              words):
    """One write with the image's S3 client (s3fs), as a step or the launcher would make it."""
    access, secret = s3_store["keys"][NS]
    access, secret = {"namespace": (access, secret), "wrong secret": (access, "not-" + secret),
                      "unknown key": ("AKIANOTAKEYOFTHEIAM", secret)}[key]
    fs = s3_store["connect"](s3_store["endpoint"], access, secret)
    with pytest.raises(PermissionError, match=words):
        fs.pipe_file(path, b"x")
    s3_store["connect"](s3_store["endpoint"], *s3_store["keys"][NS]).pipe_file(f"mlpipeline/private/{NS}/x", b"x")


def test_moto_is_a_real_s3_server_for_the_images_s3_client(s3_store, tmp_path, monkeypatch):
    """The project's file layer on the loopback store, as the steps use it (botocore's variables), with the
    namespace's key inside its prefixes."""
    from components.util import serving
    from dataset import fileio

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
    assert sorted(str(p.relative_to(local)) for p in Path(local).rglob("*") if p.is_file()) == \
        ["saved_model.pb", "variables/v.index"]
    assert serving.newest_version(f"minio://{base}") == f"minio://{base}/7"
    assert serving.newest_version(f"minio://{base}-none") is None  # the evaluator's "no model served yet"
