"""The package `kubeflow compile` writes, for the tests that read it (a pytest plugin of conftest.py): the fixture
`package` (compiled once by the CLI for 2 GPUs, as the kfp client parses it), the arguments that compile it and
each step's container in it."""

from __future__ import annotations

import pytest

from pipeline import cli

IMAGE = "registry.example.com/ml/maskrcnn-tfx:gpu-abc123"
BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=4"]
# The pipeline's steps in dependency order: every one a container (no resolver: the baseline is the served model).
STEPS = [
    "ImageMaskExampleGen",
    "LabelMapSchemaGen",
    "StatisticsGen",
    "ExampleValidator",
    "DataGate",
    "Trainer",
    "MaskEvaluator",
    "ServingCheck",
    "Pusher",
]
CONTAINER_STEPS = STEPS


def compile_args(output, *extra) -> list[str]:
    return [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(output),
        "--pipeline-root",
        "gs://bucket/pipeline-root",
        "--dataset",
        "gs://bucket/datasets/speakers",
        "--serving-dir",
        "gs://bucket/serving",
        "--init-checkpoint",
        "none",
        "--beam-args=" + " ".join(BEAM_ARGS),
        *extra,
    ]


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    """The package compiled by the CLI for 2 GPUs, as the kfp client parses it for a run."""
    from kfp.client import client as kfp_client  # here: a plugin of every test session, loaded before any test

    path = tmp_path_factory.mktemp("kubeflow") / "pipeline.yaml"
    assert cli.main(compile_args(path, "--gpus", "2", "--train-steps", "20000")) == 0
    spec = kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec  # what create_run_from_pipeline_package sends
    return {"path": path, "spec": spec}


def step_containers(spec) -> dict:
    from google.protobuf import json_format

    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    return {task: executors[spec.components[task].executor_label]["container"] for task in CONTAINER_STEPS}
