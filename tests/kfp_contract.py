"""The install the contract run is submitted to (a pytest plugin of conftest.py; test_kfp_backend.py runs it,
test_kfp_install.py checks it): moto's S3 server on loopback with a multi-user namespace's key and policy
(kfp_install.py), the dataset, the kfp-launcher ConfigMap and secret, a serving folder per release already serving
the end-to-end run's model, and the package compiled for each release."""

from __future__ import annotations

import json
import os

import pytest

import kfp_install
import kfp_store
from conftest import IMAGE, IN_MEMORY_BEAM_ARGS
from pipeline import cli
from sample_data import sample

NS = "team-a"
ROOT = kfp_install.namespace_root(NS)
DATASET = f"minio://mlpipeline/private/{NS}/datasets/speakers"
SECRET = kfp_install.SECRET
ARGUMENTS = {"train_args": json.dumps({"num_steps": 3})}
RELEASES = tuple(kfp_store.RULES)  # the oldest and the newest supported (kubeflow/releases.py)


def serving(tag: str) -> str:
    """Each release's own install serves its own model folder (one store holds both here)."""
    return f"minio://mlpipeline/private/{NS}/serving/speakers-kfp-{tag}"


@pytest.fixture(scope="session")
def s3_store():
    """moto's S3 server on loopback with IAM enforced: an admin key for the test's own checks, and the
    namespace's key with its policy (kfp_install.py)."""
    with kfp_install.store(NS, ("mlpipeline", "models")) as store:
        yield store


@pytest.fixture(scope="session")
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
        assert (
            cli.main(
                [
                    "kubeflow",
                    "compile",
                    "--image",
                    IMAGE,
                    "--output",
                    str(packages[tag]),
                    "--gpus",
                    "0",
                    "--config",
                    "tiny",
                    "--train-steps",
                    "2",
                    "--max-regression",
                    "1",
                    "--namespace",
                    NS,
                    "--kfp-version",
                    tag,
                    "--launcher-config",
                    str(configmap_file),
                    "--dataset",
                    DATASET,
                    "--serving-dir",
                    serving(tag),
                    "--beam-args=" + " ".join(IN_MEMORY_BEAM_ARGS),
                ]
            )
            == 0
        )
    key, secret = s3_store["keys"][NS]
    return {
        "packages": packages,
        "baselines": baselines,
        "fs": fs,
        "work": work,
        "configmap": yaml.safe_load(configmap_file.read_text())["data"],
        "secrets": {SECRET: {"accesskey": key, "secretkey": secret}},
    }
