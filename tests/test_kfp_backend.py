"""The contract run: a package compiled for a cluster's object store, run step by step in containers of the
image the way an open-source Kubeflow Pipelines backend runs it (tests/kfp_backend.py: its driver's executor
input, its launcher's staging, KFP 2.17.0's source), on an S3-compatible server on loopback (moto's server, as
s3fs's own tests use). The run is judged against a model already served from the store (the end-to-end run's,
uploaded: a cheaper baseline than a first contract run) and pushes its own beside it."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

import kfp_backend
from conftest import IMAGE, IN_MEMORY_BEAM_ARGS
from dataset import sample
from kubeflow import package
from pipeline import cli

ROOT = "minio://mlpipeline/v2/artifacts"  # a Kubeflow install's default pipeline root
DATASET = "s3://datasets/speakers"
SERVING = "s3://models/speakers"
SECRETS = {"mlpipeline-minio-artifact": {"accesskey": "kfp-key", "secretkey": "kfp-secret"}}


@pytest.fixture(scope="module")
def s3_store():
    """moto's S3 server on a free loopback port, with the buckets the runs use."""
    import s3fs
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    fs = s3fs.S3FileSystem(key="kfp-key", secret="kfp-secret", client_kwargs={"endpoint_url": endpoint},
                           use_listings_cache=False)
    for bucket in ("mlpipeline", "datasets", "models"):
        fs.mkdir(bucket)
    yield {"endpoint": endpoint, "fs": fs}
    server.stop()


@pytest.fixture(scope="module")
def contract_run(engine, s3_store, trained_pipeline, tmp_path_factory):
    """One run of a package, with other train_args than its defaults, on a serving folder that already serves
    the end-to-end run's model (the sample's classes, so comparable). A few minutes on 2 cores: eight steps,
    each a container of the image, as the cluster runs them."""
    work = tmp_path_factory.mktemp("kfp-backend")
    dataset = work / "dataset"
    sample.generate(dataset, num_train=8, num_test=4, num_unlabelled=0, sizes=((320, 240),))
    fs = s3_store["fs"]
    fs.put(str(dataset) + "/", DATASET.partition("://")[2], recursive=True)
    served = trained_pipeline["pushed"]["destination"]
    baseline = f"{SERVING}/{os.path.basename(served)}"
    fs.put(served + "/", baseline.partition("://")[2], recursive=True)
    path = work / "pipeline.yaml"
    assert cli.main(["kubeflow", "compile", "--image", IMAGE, "--output", str(path), "--gpus", "0",
                     "--config", "tiny", "--train-steps", "2", "--max-regression", "1",
                     "--pipeline-root", ROOT, "--dataset", DATASET, "--serving-dir", SERVING,
                     "--s3-endpoint", s3_store["endpoint"], "--beam-args=" + " ".join(IN_MEMORY_BEAM_ARGS)]) == 0

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

    backend = kfp_backend.Backend(kfp_backend.ObjectStore(fs), run_container, SECRETS, work / "pods")
    spec, _ = kfp_backend.load_package(path)
    run = backend.run(path, spec["defaultPipelineRoot"], {"train_args": json.dumps({"num_steps": 3})})
    return {"package": path, "run": run, "fs": fs, "baseline": baseline}


def _pushed(run) -> dict:
    return run["Pusher"].executor_output["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]


def _evaluation(run, fs) -> dict:
    uri = run["MaskEvaluator"].outputs["evaluation"].uri
    return json.loads(fs.cat_file(uri.partition("://")[2] + "/metrics.json"))


def test_a_run_pushes_a_model_to_the_object_store_in_tf_servings_layout(contract_run):
    fs, run = contract_run["fs"], contract_run["run"]
    assert list(run) == kfp_backend.ordered_tasks(kfp_backend.load_package(contract_run["package"])[0])
    assert all(r.outputs for r in run.values())
    examples = run["ImageMaskExampleGen"].outputs["examples"]
    assert examples.metadata["num_examples_train"] == 8.0 and examples.metadata["num_examples_eval"] == 4.0
    assert run["Trainer"].executor_input["inputs"]["parameterValues"]["train_args"] == '{"num_steps": 3}'
    pushed = _pushed(run)
    assert pushed["pushed"] == 1 and pushed["pushed_destination"].startswith(SERVING + "/")
    version = pushed["pushed_destination"].partition("://")[2]
    assert fs.exists(f"{version}/saved_model.pb") and fs.exists(f"{version}/variables/variables.index")
    label_map = json.loads(fs.cat_file(f"{version}/assets/label_map.json"))
    assert [c["name"] for c in label_map["classes"]] == ["speaker", "mug"]
    # Every artifact is under the run's prefix of the pipeline root, and nothing wrote a folder marker.
    for step in run.values():
        for recorded in step.outputs.values():
            assert recorded.uri.startswith(f"{ROOT}/maskrcnn-tfx/"), recorded.uri
    assert not [k for bucket in ("mlpipeline", "models") for k in fs.find(bucket) if k.endswith("/")]


def test_the_run_is_judged_against_the_model_served_from_the_store(contract_run):
    fs, run = contract_run["fs"], contract_run["run"]
    evaluation = _evaluation(run, fs)
    assert evaluation["baseline"]["model_uri"] == contract_run["baseline"]
    assert any("vs baseline" in reason for reason in evaluation["blessing"]["reasons"])
    assert evaluation["blessing"]["blessed"]  # --max-regression 1: any model within 1.0 AP of the served one
    versions = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(SERVING.partition("://")[2]) if p.rsplit("/", 1)[-1].isdigit())
    assert versions == sorted([contract_run["baseline"].rsplit("/", 1)[-1], _pushed(run)["pushed_version"]])


def test_steps_got_the_executor_input_the_backend_builds(contract_run):
    evaluator = contract_run["run"]["MaskEvaluator"].executor_input
    for artifact_list in evaluator["inputs"]["artifacts"].values():
        artifact = artifact_list["artifacts"][0]
        assert artifact["type"] == {"instanceSchema": ""} and artifact["name"].isdigit()
        assert artifact["uri"].startswith(ROOT)
    log = contract_run["run"]["ImageMaskExampleGen"].log
    assert "Traceback" not in log


def test_every_step_of_a_cluster_package_meets_the_backend_compilers_rules(contract_run):
    spec, platform = kfp_backend.load_package(contract_run["package"])
    assert kfp_backend.compiler_violations(spec) == []
    assert spec["defaultPipelineRoot"] == ROOT
    executors = platform["deploymentSpec"]["executors"]
    for label, executor in spec["deploymentSpec"]["executors"].items():
        assert executor["container"]["command"] == package.ENTRYPOINT, label
        assert {e["name"] for e in executor["container"]["env"]} == {"AWS_ENDPOINT_URL_S3"}
        assert {e["envVar"] for s in executors[label]["secretAsEnv"] for e in s["keyToEnv"]} == \
            set(package.CREDENTIAL_VARIABLES)
    assert spec["root"]["dag"]["tasks"]["MaskEvaluator"]["cachingOptions"] == {"enableCache": False}


def test_moto_is_a_real_s3_server_for_the_images_s3_client(s3_store, tmp_path, monkeypatch):
    """The project's file layer on the loopback store, as the steps use it (botocore's variables)."""
    from components.util import serving
    from dataset import fileio

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_store["endpoint"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "kfp-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kfp-secret")
    (tmp_path / "model" / "variables").mkdir(parents=True)
    (tmp_path / "model" / "variables" / "v.index").write_text("v")
    (tmp_path / "model" / "saved_model.pb").write_text("graph")
    fileio.upload(str(tmp_path / "model"), "minio://models/probe/7", last=("saved_model.pb",))
    assert fileio.list_entries("s3://models/probe/7") == [("saved_model.pb", False), ("variables", True)]
    assert fileio.read_text("minio://models/probe/7/variables/v.index") == "v"
    local = fileio.download("s3://models/probe/7", str(tmp_path / "copy"))
    assert sorted(str(p.relative_to(local)) for p in Path(local).rglob("*") if p.is_file()) == \
        ["saved_model.pb", "variables/v.index"]
    fileio.remove_tree("s3://models/probe")
    assert not fileio.exists("s3://models/probe/7/saved_model.pb")
    assert serving.newest_version("s3://models/probe") is None  # the evaluator's "no model served yet"
