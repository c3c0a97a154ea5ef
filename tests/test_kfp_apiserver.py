"""The package as each release's API server reads it (tests/kfp_apiserver.py apiserver_parse: NewV2SpecTemplate,
backend/src/apiserver/template/v2_template.go at 2.2.0, 2.5.0 and 2.17.0): the whole PipelineSpec with strict
protojson and that release's protos, and the platform spec kept whole, placement, pulls and scratch included."""

from __future__ import annotations

import json

import pytest
import yaml
from google.protobuf import json_format

from kfp_apiserver import Refused, apiserver_parse
from kfp_driver import ABSENT_AT_2_5_0, compile_package

PLACED = [
    "--gpus",
    "2",
    "--gpu-toleration",
    "nvidia.com/gpu:NoSchedule",
    "--node-selector",
    "cloud.google.com/gke-accelerator=nvidia-tesla-a100",
    "--image-pull-secret",
    "regcred",
    "--pipeline-root",
    "minio://mlpipeline/v2/artifacts",
    "--dataset",
    "minio://mlpipeline/datasets/d",
    "--serving-dir",
    "minio://mlpipeline/serving/m",
    "--s3-endpoint",
    "http://minio-service.kubeflow:9000",
]


def as_json(value) -> dict:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("compiled_for", ["2.2.0", "2.5.0", "2.17.0", "any"])
def test_each_releases_api_server_takes_the_whole_package_and_keeps_its_platform_spec(tmp_path, compiled_for):
    scratch = ["--scratch-gb", "40"] if compiled_for in ("2.5.0", "2.17.0") else []  # 2.2.0: no emptyDirMounts
    spec, platform, text = compile_package(tmp_path, "--kfp-version", compiled_for, *PLACED, *scratch)
    for tag in ("2.2.0", "2.5.0", "2.17.0") if compiled_for == "any" else (compiled_for,):
        parsed, parsed_platform = apiserver_parse(text, tag)
        assert parsed.pipeline_info.name == spec["pipelineInfo"]["name"]
        assert set(parsed.components) == set(spec["components"])
        assert set(parsed.root.dag.tasks) == set(spec["root"]["dag"]["tasks"])
        # Nothing of the platform spec dropped: the steps keep their secret, placement, pull secret and scratch.
        assert parsed_platform is not None
        assert json_format.MessageToDict(parsed_platform) == as_json(platform), tag
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors["Trainer_executor"]["tolerations"] and executors["Trainer_executor"]["imagePullSecret"]
    assert bool(scratch) == ("emptyDirMounts" in executors["Trainer_executor"])


def test_a_field_the_release_lacks_loses_the_package_or_its_platform_spec(tmp_path):
    """What the checks above guard against, on the releases that lack a field today's protos have."""
    spec, platform, _ = compile_package(tmp_path, "--kfp-version", "2.17.0", *PLACED)
    first = next(iter(spec["components"].values()))
    assert "task_config_passthroughs" in ABSENT_AT_2_5_0["ComponentSpec"]
    first["taskConfigPassthroughs"] = [{"field": "RESOURCES", "applyToTask": True}]  # KFP 2.14's
    text = yaml.safe_dump_all([spec, platform])
    assert apiserver_parse(text, "2.17.0")[0].components
    for tag in ("2.2.0", "2.5.0"):
        with pytest.raises(Refused, match="no pipeline spec is provided"):
            apiserver_parse(text, tag)
    first.pop("taskConfigPassthroughs")
    platform["platforms"]["kubernetes"]["pipelineConfig"] = {"resourceTtlOnSuccess": 60}  # 2.17.0's PipelineConfig
    text = yaml.safe_dump_all([spec, platform])
    assert apiserver_parse(text, "2.17.0")[1] is not None
    for tag in ("2.2.0", "2.5.0"):
        assert apiserver_parse(text, tag)[1] is None  # dropped without a word


def test_the_api_server_refuses_a_spec_of_another_schema_or_no_spec(tmp_path):
    spec, platform, _ = compile_package(tmp_path, "--kfp-version", "2.5.0", *PLACED)
    with pytest.raises(Refused, match="no pipeline spec is provided"):
        apiserver_parse(yaml.safe_dump(platform), "2.5.0")
    spec["schemaVersion"] = "2.0.0"
    with pytest.raises(Refused, match=r"only supports schema version 2\.1\.0"):
        apiserver_parse(yaml.safe_dump_all([spec, platform]), "2.5.0")
