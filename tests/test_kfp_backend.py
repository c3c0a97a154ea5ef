"""The contract run: a package compiled for a multi-user namespace (`--namespace`, `--launcher-config` with the
kfp-launcher ConfigMap the profile controller writes), run step by step in containers of the image the way an
open-source Kubeflow Pipelines backend runs it (tests/kfp_backend.py, tests/kfp_store.py: its driver's executor
input, its launcher's staging, store and logs, its cache; KFP 2.17.0's source, 2.2.0's where they differ), on
moto's S3 server on loopback enforcing keys and the namespace's policy. The run is judged against a model already
served from the store (the end-to-end run's, uploaded) and pushes its own beside it; a second submission with the
same inputs is cached but for the Evaluator, the serving check and the Pusher, and pushes no second version.

Both the oldest and the newest release supported run it, each on its own install (its own serving folder of
the one store), with the package compiled for it (`--kfp-version`): KFP 2.2.0 (its strict driver parses every
step's specs with its own protos, no executor-logs output, its cache key) and KFP 2.17.0 (PUBLISH_LOGS'
executor-logs, its cache key, its steps' security context), nine containers and then three each. The store
enforces a namespace key's policy for both (tests/kfp_install.py: sync.py's object actions, a listing for
2.17.0's bucket policy): 2.2.0's sync.py would give the namespace the install's shared keys, which allow more. Mixing the releases across two submissions would not stand for an install:
2.17.0's cache key holds the executor-logs output, 2.2.0's does not, so an upgraded install's cache serves
nothing of the old runs (checked with a stand-in for the containers)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import kfp_backend
import kfp_install
import kfp_store
import pytest
from conftest import IMAGE, IN_MEMORY_BEAM_ARGS

from sample_data import sample
from pipeline import cli
from pipeline.pipeline import UNCACHED_STEPS

NS = "team-a"
ROOT = kfp_install.namespace_root(NS)
DATASET = f"minio://mlpipeline/private/{NS}/datasets/speakers"
SECRET = kfp_install.SECRET
ARGUMENTS = {"train_args": json.dumps({"num_steps": 3})}
RELEASES = tuple(kfp_store.RULES)  # the oldest and the newest supported (kubeflow/releases.py)


def serving(tag: str) -> str:
    """Each release's own install serves its own model folder (one store holds both here)."""
    return f"minio://mlpipeline/private/{NS}/serving/speakers-kfp-{tag}"


@pytest.fixture(scope="module")
def s3_store():
    """moto's S3 server on loopback with IAM enforced: an admin key for the test's own checks, and the
    namespace's key with its policy (kfp_install.py)."""
    with kfp_install.store(NS, ("mlpipeline", "models")) as store:
        yield store


@pytest.fixture(scope="module")
def install(s3_store, trained_pipeline, tmp_path_factory):
    """What both releases' installs hold: the dataset, the namespace's ConfigMap and secret, a serving folder per
    release already serving the end-to-end run's model (the sample's classes, so comparable), and the package
    compiled for each release (`--kfp-version`), with other train_args than its defaults."""
    import yaml

    work = tmp_path_factory.mktemp("kfp-install")
    dataset = work / "dataset"
    sample.generate(dataset, num_train=8, num_test=4, num_unlabelled=0, sizes=((320, 240),))
    fs = s3_store["fs"]
    fs.put(str(dataset) + "/", DATASET.partition("://")[2], recursive=True)
    served = trained_pipeline["pushed"]["destination"]
    configmap_file = work / "kfp-launcher.yaml"
    configmap_file.write_text(kfp_install.launcher_configmap(s3_store["endpoint"], NS))
    packages, baselines = {}, {}
    for tag in RELEASES:
        baselines[tag] = f"{serving(tag)}/{os.path.basename(served)}"
        fs.put(served + "/", baselines[tag].partition("://")[2], recursive=True)
        packages[tag] = work / f"pipeline-{tag}.yaml"
        assert cli.main(["kubeflow", "compile", "--image", IMAGE, "--output", str(packages[tag]), "--gpus", "0",
                         "--config", "tiny", "--train-steps", "2", "--max-regression", "1", "--namespace", NS,
                         "--kfp-version", tag, "--launcher-config", str(configmap_file), "--dataset", DATASET,
                         "--serving-dir", serving(tag), "--beam-args=" + " ".join(IN_MEMORY_BEAM_ARGS)]) == 0
    key, secret = s3_store["keys"][NS]
    return {"packages": packages, "baselines": baselines, "fs": fs, "work": work,
            "configmap": yaml.safe_load(configmap_file.read_text())["data"],
            "secrets": {SECRET: {"accesskey": key, "secretkey": secret}}}


@pytest.fixture(scope="module", params=RELEASES)
def contract_run(request, engine, s3_store, install):
    """Two submissions of the release's package on its own install: nine steps, each a container of the image,
    as the cluster runs them; then the three the cache does not serve. About 3 minutes a release on 2 cores."""
    tag = request.param
    work = install["work"] / f"pods-{tag}"

    def run_container(image, argv, env, mounts, image_user, security):
        user = {} if image_user else {"user": f"{os.getuid()}:{os.getgid()}"}  # a pod runs as the image's USER
        if security:  # what the engine applies of the release's security context; the kubelet's check first
            kfp_store.kubelet_run_as_non_root(engine.images.get(image).attrs["Config"].get("User", ""), security)
            user.update(cap_drop=["ALL"], security_opt=["no-new-privileges"])
        container = engine.containers.run(
            image, argv, environment=env, network_mode="host", working_dir="/", detach=True, shm_size="2g",
            volumes={host: {"bind": target, "mode": "rw"} for host, target in mounts.items()}, **user)
        try:
            code = container.wait(timeout=900)["StatusCode"]
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    backend = kfp_backend.Backend(s3_store["connect"], run_container, install["secrets"], install["configmap"],
                                  work, kfp_store.RULES[tag])
    package = install["packages"][tag]
    first = backend.run(package, None, ARGUMENTS)  # `submit` sends no root for a namespace's package
    second = backend.run(package, None, ARGUMENTS)
    return {"rules": kfp_store.RULES[tag], "package": package, "run": first, "second": second, "fs": install["fs"],
            "baseline": install["baselines"][tag], "serving": serving(tag)}


def _pushed(run) -> dict:
    return run["Pusher"].executor_output["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]


def _versions(contract_run) -> list[str]:
    listed = contract_run["fs"].ls(contract_run["serving"].partition("://")[2])
    return sorted(p.rsplit("/", 1)[-1] for p in listed if p.rsplit("/", 1)[-1].isdigit())


def _evaluation(run, fs) -> dict:
    uri = run["MaskEvaluator"].outputs["evaluation"].uri
    return json.loads(fs.cat_file(uri.partition("://")[2] + "/metrics.json"))


def test_a_run_pushes_a_model_to_the_object_store_in_tf_servings_layout(contract_run, install, s3_store, tmp_path):
    fs, run = contract_run["fs"], contract_run["run"]
    assert list(run) == kfp_backend.ordered_tasks(kfp_backend.load_package(contract_run["package"])[0])
    assert all(r.outputs for r in run.values()) and not any(r.cached for r in run.values())
    examples = run["ImageMaskExampleGen"].outputs["examples"]
    assert examples.metadata["num_examples_train"] == 8.0 and examples.metadata["num_examples_eval"] == 4.0
    assert run["Trainer"].executor_input["inputs"]["parameterValues"]["train_args"] == '{"num_steps": 3}'
    pushed = _pushed(run)
    assert pushed["pushed"] == 1 and pushed["pushed_destination"].startswith(contract_run["serving"] + "/")
    version = pushed["pushed_destination"].partition("://")[2]
    assert fs.exists(f"{version}/saved_model.pb") and fs.exists(f"{version}/variables/variables.index")
    label_map = json.loads(fs.cat_file(f"{version}/assets/label_map.json"))
    assert [c["name"] for c in label_map["classes"]] == ["speaker", "mug"]
    # KServe's storage initializer asks HeadBucket, which the namespace's key may not; with a key that may
    args = contract_run["serving"], install["configmap"]  # (serving-manifest --s3-secret): the versions alone
    refused, _ = kfp_install.kserve_download(*args, s3_store["keys"][NS], tmp_path)
    assert refused.returncode and "HeadBucket operation: Forbidden" in refused.stderr
    done, mounted = kfp_install.kserve_download(*args, s3_store["keys"]["admin"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(os.listdir(mounted)) == _versions(contract_run)
    assert all((mounted / v / "assets.extra" / "tf_serving_warmup_requests").is_file() for v in _versions(contract_run))
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
    assert _versions(contract_run) == sorted([contract_run["baseline"].rsplit("/", 1)[-1],
                                              _pushed(run)["pushed_version"]])


def test_a_second_submission_is_served_from_the_cache_and_pushes_no_second_version(contract_run):
    """cacheutils/cache.go's key (GenerateCacheKey at 2.2.0: the same without PVC names): the same inputs give the
    same fingerprints down the graph (a cached step's outputs keep their ML Metadata ids); cachingOptions
    .enableCache false (driver.go: the same condition at both tags) runs the Evaluator, the serving check and the
    Pusher."""
    fs, first, second = contract_run["fs"], contract_run["run"], contract_run["second"]
    assert [t for t, step in second.items() if not step.cached] == ["MaskEvaluator", "ServingCheck", "Pusher"]
    assert second["Trainer"].outputs["model"].id == first["Trainer"].outputs["model"].id
    assert _evaluation(second, fs)["baseline"]["model_uri"] == _pushed(first)["pushed_destination"]
    again = _pushed(second)
    assert again["already_served"] == _pushed(first)["pushed_version"] == again["pushed_version"]
    assert "is already served as version " + again["pushed_version"] in second["Pusher"].log
    assert _versions(contract_run) == sorted([contract_run["baseline"].rsplit("/", 1)[-1],
                                              _pushed(first)["pushed_version"]])


def test_steps_got_the_executor_input_the_backend_builds_and_the_launcher_published_their_logs(contract_run):
    """With PUBLISH_LOGS (2.17.0) every step was given the executor-logs output and its log is in the store; at
    2.2.0 (driver.go provisionOutputs has no such output) none was. Either way each step's executor output was
    read strictly (kfp_store.parse_executor_output)."""
    fs, run = contract_run["fs"], contract_run["run"]
    evaluator = run["MaskEvaluator"].executor_input
    for artifact_list in evaluator["inputs"]["artifacts"].values():
        artifact = artifact_list["artifacts"][0]
        assert artifact["type"] == {"instanceSchema": ""} and artifact["name"].isdigit()
        assert artifact["uri"].startswith(ROOT)
    assert "Traceback" not in run["ImageMaskExampleGen"].log
    steps = (*run.values(), contract_run["second"]["Pusher"])
    given = [kfp_backend.LOGS_OUTPUT in step.executor_input["outputs"]["artifacts"] for step in steps]
    assert given == [contract_run["rules"].publish_logs] * len(steps)
    for step in steps if contract_run["rules"].publish_logs else ():
        assert fs.cat_file(step.logs_uri.partition("://")[2]).decode() == step.log


@pytest.mark.parametrize("tag", RELEASES)
def test_the_steps_reach_their_paths_as_the_launcher_does_on_every_release(install, tag):
    """The launcher's store for each path (config/s3.go: the ConfigMap's providers) is the steps' endpoint and
    secret; each release's driver parses every step (2.2.0 strictly) and gives each pod the env 2.17.0's gives it; only the
    built-in endpoint of a minio:// path without providers differs between them."""
    spec, platform = kfp_backend.load_package(install["packages"][tag])
    configmap, secrets = install["configmap"], install["secrets"]
    assert kfp_backend.compiler_violations(spec) == []
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
    assert {r.tag: kfp_store.launcher_store({}, ROOT, r).endpoint for r in kfp_store.RULES.values()} == \
        {"2.2.0": "minio-service.kubeflow:9000", "2.17.0": "seaweedfs.kubeflow:9000"}
    tasks = spec["root"]["dag"]["tasks"]
    assert {t for t, task in tasks.items() if not task.get("cachingOptions", {}).get("enableCache")} == \
        {"MaskEvaluator", "ServingCheck", "Pusher"}


def test_an_install_upgraded_from_2_2_0_to_2_17_0_serves_nothing_from_2_2_0s_cache(install, s3_store, tmp_path):
    """The driver and the cache only (the containers' stand-in runs nothing): 2.17.0's key holds the executor-logs
    output, 2.2.0's does not (cacheutils/cache.go, driver.go provisionOutputs at each tag), so after an upgrade
    every step runs once again rather than reusing a 2.2.0 output."""
    started = []

    def run_container(image, argv, env, mounts, image_user, security):
        started.append(argv)
        return 0, ""

    backend = kfp_backend.Backend(s3_store["connect"], run_container, install["secrets"], install["configmap"],
                                  tmp_path, kfp_store.RULES["2.2.0"])
    package = install["packages"]["2.2.0"]
    before = backend.run(package, None, ARGUMENTS)
    again = backend.run(package, None, ARGUMENTS)
    assert [t for t, step in again.items() if step.cached] == [t for t in before if t not in UNCACHED_STEPS]
    backend.rules = kfp_store.RULES["2.17.0"]  # the install upgraded in place: its cache kept
    upgraded = backend.run(package, None, ARGUMENTS)
    assert not any(step.cached for step in upgraded.values())
    assert len(started) == 2 * len(before) + len(UNCACHED_STEPS)


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
    assert sorted(str(p.relative_to(local)) for p in Path(local).rglob("*") if p.is_file()) == \
        ["saved_model.pb", "variables/v.index"]
    assert serving.newest_version(f"minio://{base}") == f"minio://{base}/7"
    assert serving.newest_version(f"minio://{base}-none") is None  # the evaluator's "no model served yet"

