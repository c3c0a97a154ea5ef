"""The image as a cluster runs it: the installed package alone (nothing mounted, no PYTHONPATH, working
directory /), and a compiled package run step by step in it by KFP's own local orchestrator.

`make test` gives the tests the image built from the current sources (MASKRCNN_TFX_IMAGE), the engine's
Docker API (DOCKER_HOST) and a temporary folder shared with the host, which the steps' containers mount.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import kfp_kubelet
import kfp_store
import side_runs
from conftest import IMAGE
from kubeflow import local_run, runner
from pipeline import cli
from sample_data import sample

IN_IMAGE = """
import json, sys
from tfx.utils import import_utils
from components.schema_gen.schema import SCHEMA_PATH
from components.trainer import experiment
from dataset.labelmap import LabelClass, LabelMap
from tfx.utils import io_utils

executors, run_fns = json.loads(sys.argv[1]), json.loads(sys.argv[2])
modules = {path: sys.modules[import_utils.import_class_by_path(path).__module__].__file__ for path in executors}
modules.update({path: sys.modules[import_utils.import_func_from_module(*path.rsplit(".", 1)).__module__].__file__
                for path in run_fns})
label_map = LabelMap(classes=(LabelClass(1, "kettle", 40),))
configs = {p.stem: experiment.build_experiment(p.stem, ["a.gz"], ["b.gz"], label_map, 4).task.model.num_classes
           for p in sorted(experiment.CONFIG_DIR.glob("*.yaml"))}
schema = io_utils.SchemaReader().read(str(SCHEMA_PATH))
print(json.dumps({"modules": modules, "configs": configs, "schema_features": len(schema.feature),
                  "schema_path": str(SCHEMA_PATH), "sys_path": sys.path}))
"""


AS_ANY_USER = """
import json, os, pathlib
from kubeflow import entrypoint
output = "/minio/mlpipeline/v2/artifacts/p/r/Trainer/model"
os.makedirs(output)  # KFP 2.2.0's launcher, as the pod's user (no emptyDir at /minio)
pathlib.Path(output, "saved_model.pb").write_bytes(b"graph")
home = pathlib.Path(os.environ["HOME"], ".keras", "models")
home.mkdir(parents=True)
(home / "weights.h5").write_bytes(b"w")
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "home": os.environ["HOME"],
                  "local": entrypoint.local_path("minio://mlpipeline/v2/artifacts/p/r/Trainer/model")}))
"""


def test_an_arbitrary_user_in_group_0_runs_a_step_in_a_hardened_container(engine):
    """OpenShift's restricted SCC (an arbitrary UID in group 0) with KFP 2.17.0's container security context
    (capabilities dropped, no privilege escalation): the launcher's folders and HOME are writable; the image's
    numeric USER passes the kubelet's runAsNonRoot check (kfp_kubelet.kubelet_run_as_non_root)."""
    user = engine.images.get(IMAGE).attrs["Config"]["User"]
    assert user == "1000"
    kfp_kubelet.kubelet_run_as_non_root(user, kfp_store.RULES["2.17.0"].security_context)
    printed = engine.containers.run(
        IMAGE,
        ["python", "-c", AS_ANY_USER],
        user="12345:0",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        working_dir="/",
        remove=True,
        environment={},
    ).decode()
    assert json.loads(printed.strip().splitlines()[-1]) == {
        "uid": 12345,
        "gid": 0,
        "home": "/home/app",
        "local": "/minio/mlpipeline/v2/artifacts/p/r/Trainer/model",
    }


def _compile(tmp_path: Path, dataset: Path, *extra: str) -> Path:
    package = tmp_path / "pipeline.yaml"
    assert (
        cli.main(
            [
                "kubeflow",
                "compile",
                "--image",
                IMAGE,
                "--output",
                str(package),
                "--gpus",
                "0",
                "--config",
                "tiny",
                "--pipeline-root",
                str(tmp_path / "tfx-root"),
                "--dataset",
                str(dataset),
                "--serving-dir",
                str(tmp_path / "serving"),
                *extra,
            ]
        )
        == 0
    )
    return package


def test_the_image_alone_imports_every_step_of_a_compiled_package(engine, sample_dataset, tmp_path):
    spec = yaml.safe_load(_compile(tmp_path, sample_dataset).read_text())
    executors = sorted(
        {
            args[args.index("--executor_class_path") + 1]
            for e in spec["deploymentSpec"]["executors"].values()
            if "container" in e
            for args in [e["container"]["args"]]
        }
    )
    run_fns = [
        t["inputs"]["parameters"]["run_fn"]["runtimeValue"]["constant"]
        for t in spec["root"]["dag"]["tasks"].values()
        if "run_fn" in t.get("inputs", {}).get("parameters", {})
    ]
    assert "components.trainer.trainer_module.run_fn" in run_fns and len(executors) == 9

    printed = engine.containers.run(
        IMAGE,
        ["python", "-c", IN_IMAGE, json.dumps(executors), json.dumps(run_fns)],
        working_dir="/",
        remove=True,
        environment={},
    ).decode()
    found = json.loads(printed.strip().splitlines()[-1])
    site_packages = "/opt/venv/lib/python3.13/site-packages/"
    for path, module_file in found["modules"].items():
        assert module_file.startswith(site_packages), (path, module_file)
    assert not [p for p in found["sys_path"] if "/work" in p]
    from components.trainer.experiment import CONFIG_DIR

    assert found["configs"] == {p.stem: 2 for p in CONFIG_DIR.glob("*.yaml")}  # every config of the working tree
    assert found["schema_path"].startswith(site_packages) and found["schema_features"] >= 15


@side_runs.run("local_run_result")
def start_local_run(request) -> Callable[[], dict]:
    """A package compiled for a generated dataset (tiny config, 2 steps), run beside the other tests by
    `maskrcnn-tfx kubeflow run-local` (kfp.local's DockerRunner) as a user runs it: a few minutes on 2 cores,
    nine steps each in a container of the image."""
    request.getfixturevalue("engine")  # without the engine: its fixture's failure, naming `make test`
    root = request.getfixturevalue("tmp_path_factory").mktemp("kfp-local")
    dataset = root / "dataset"
    sample.generate(
        dataset,
        num_train=8,
        num_test=4,
        num_unlabelled=0,
        sizes=((320, 240),),
        classes=(sample.SampleClass("teapot", (0, 90, 200)), sample.SampleClass("lamp", (230, 40, 0))),
    )
    package = _compile(root, dataset, "--train-steps", "2")
    command = ["kubeflow", "run-local", "--package", str(package), "--pipeline-root", str(root / "local-root")]

    def local_run_result() -> dict:
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", *command], capture_output=True, text=True)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return {"root": root, "package": package, "printed": done.stdout}

    return local_run_result


@pytest.fixture(scope="module")
def local_run_result(side_runs) -> dict:
    return side_runs["local_run_result"].result()


def test_kfp_local_runs_the_compiled_package_to_a_pushed_model(local_run_result):
    ran = re.search(r"^kfp\.local ran 9 steps \((.+)\) in \d+ s into (\S+)$", local_run_result["printed"], re.M)
    assert ran, local_run_result["printed"]
    assert ran.group(1).split(", ") == [
        "DataGate",
        "ExampleValidator",
        "ImageMaskExampleGen",
        "LabelMapSchemaGen",
        "MaskEvaluator",
        "Pusher",
        "ServingCheck",
        "StatisticsGen",
        "Trainer",
    ]
    run_dir = Path(ran.group(2))
    output = json.loads(Path(local_run.executor_output_path(str(run_dir), "Pusher")).read_text())
    pushed = output["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    destination = pushed["pushed_destination"]
    assert f"pushed: {destination}\n" in local_run_result["printed"]
    assert pushed["pushed"] == 1 and os.path.dirname(destination) == str(local_run_result["root"] / "serving")
    assert os.path.exists(os.path.join(destination, "saved_model.pb"))
    label_map = json.loads(Path(destination, "assets", "label_map.json").read_text())
    assert [c["name"] for c in label_map["classes"]] == ["teapot", "lamp"]
    evaluation = json.loads(next(run_dir.glob("MaskEvaluator/evaluation/metrics.json")).read_text())
    assert "no blessed baseline yet" in " ".join(evaluation["blessing"]["reasons"])


def test_a_failing_step_fails_the_local_run_naming_it(engine, local_run_result, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "README.txt").write_text("no images here")
    with pytest.raises(local_run.LocalRunError, match="step ImageMaskExampleGen failed"):
        local_run.run_local(
            str(local_run_result["package"]),
            str(tmp_path / "local-root"),
            {runner.DATASET_PARAMETER: str(broken)},
            runner.DATASET_PARAMETER,
        )
