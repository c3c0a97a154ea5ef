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
2.17.0's bucket policy): 2.2.0's sync.py would give the namespace the install's shared keys, which allow more.
Mixing the releases across two submissions would not stand for an install: 2.17.0's cache key holds the
executor-logs output, 2.2.0's does not, so an upgraded install's cache serves nothing of the old runs
(test_kfp_install.py checks it with a stand-in for the containers)."""

from __future__ import annotations

import concurrent.futures
import json
import os

import pytest

import kfp_backend
import kfp_compiler
import kfp_install
import kfp_kubelet
import kfp_store
from kfp_contract import ARGUMENTS, NS, RELEASES, ROOT, serving


@pytest.fixture(scope="module")
def contract_runs(engine, s3_store, install) -> dict:
    """Both releases' contract runs at once, each on its own install (its own folders, serving folder and
    Backend): a step's container spends most of its time importing on one core, so two at a time use both."""
    with concurrent.futures.ThreadPoolExecutor(len(RELEASES)) as pool:
        runs = {tag: pool.submit(_contract_run, tag, engine, s3_store, install) for tag in RELEASES}
        return {tag: run.result() for tag, run in runs.items()}


@pytest.fixture(scope="module", params=RELEASES)
def contract_run(request, contract_runs):
    return contract_runs[request.param]


def _contract_run(tag, engine, s3_store, install) -> dict:
    """Two submissions of the release's package on its own install: nine steps, each a container of the image,
    as the cluster runs them; then the three the cache does not serve."""
    work = install["work"] / f"pods-{tag}"
    backend = kfp_backend.Backend(
        s3_store["connect"],
        kfp_kubelet.pod_runner(engine),
        install["secrets"],
        install["configmap"],
        work,
        kfp_store.RULES[tag],
    )
    package = install["packages"][tag]
    first = backend.run(package, None, ARGUMENTS)  # `submit` sends no root for a namespace's package
    second = backend.run(package, None, ARGUMENTS)
    return {
        "rules": kfp_store.RULES[tag],
        "package": package,
        "run": first,
        "second": second,
        "fs": install["fs"],
        "baseline": install["baselines"][tag],
        "serving": serving(tag),
    }


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
    assert list(run) == kfp_compiler.ordered_tasks(kfp_compiler.load_package(contract_run["package"])[0])
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
    assert _versions(contract_run) == sorted(
        [contract_run["baseline"].rsplit("/", 1)[-1], _pushed(run)["pushed_version"]]
    )


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
    assert _versions(contract_run) == sorted(
        [contract_run["baseline"].rsplit("/", 1)[-1], _pushed(first)["pushed_version"]]
    )


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
