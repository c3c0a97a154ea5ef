"""Where the steps' pods run and their scratch (kubeflow/pods.py): the platform spec's tolerations and node selector
for the steps that take GPUs, the image pull secret for every step, the scratch emptyDir where the release's driver
applies it, each parsed as KFP 2.2.0's and 2.17.0's drivers parse it; options Kubernetes would refuse, refused; the
kubelet's runAsNonRoot check of the image's user (the security context of 2.17.0's steps, tests/kfp_store.py)."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

import kfp_kubelet
import kfp_store
from kfp_driver import IMAGE, compile_package, driver_parse
from pipeline import cli

PLACEMENT = [
    "--gpus",
    "2",
    "--gpu-toleration",
    "nvidia.com/gpu:NoSchedule",
    "--gpu-toleration",
    "dedicated=ml:NoExecute",
    "--node-selector",
    "nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB",
    "--image-pull-secret",
    "regcred",
    "--scratch-gb",
    "40",
    "--pipeline-root",
    "minio://mlpipeline/v2/artifacts",
    "--dataset",
    "minio://mlpipeline/datasets/d",
    "--serving-dir",
    "minio://mlpipeline/serving/m",
]


@pytest.mark.parametrize("tag", ["2.2.0", "2.17.0"])
def test_gpu_steps_are_placed_every_step_pulls_with_the_secret_and_scratch_is_mounted_where_the_driver_can(
    tmp_path, tag
):
    """driver.go at 2.2.0 (near 510-533, 604), k8s.go at 2.17.0 (near 194-297, 492-516, 586-606)."""
    spec, platform, _ = compile_package(tmp_path, "--kfp-version", tag, *PLACEMENT)
    driver_parse(spec, platform, tag)
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert len(executors) == len(spec["deploymentSpec"]["executors"])
    for label, config in executors.items():
        assert config["imagePullSecret"] == [{"secretName": "regcred"}], label
    placed = {label for label, config in executors.items() if "tolerations" in config}
    assert (
        placed
        == {label for label, config in executors.items() if "nodeSelector" in config}
        == {"Trainer_executor", "MaskEvaluator_executor"}
    )  # the steps that take GPUs
    assert executors["Trainer_executor"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"},
    ]
    assert executors["Trainer_executor"]["nodeSelector"] == {
        "labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    }
    scratch = {label: config["emptyDirMounts"] for label, config in executors.items() if "emptyDirMounts" in config}
    if tag == "2.2.0":
        assert not scratch  # its strict driver refuses emptyDirMounts
        return
    steps = (
        "ImageMaskExampleGen",
        "LabelMapSchemaGen",
        "StatisticsGen",
        "DataGate",
        "Trainer",
        "MaskEvaluator",
        "ServingCheck",
        "Pusher",
    )  # all but ExampleValidator (statistics and schema only)
    assert set(scratch) == {f"{step}_executor" for step in steps}
    assert scratch["Trainer_executor"] == [
        {"volumeName": "maskrcnn-scratch", "sizeLimit": "40G", "mountPath": "/minio/mlpipeline/v2/artifacts"}
    ]


def test_kfp_2_2_0s_driver_refuses_a_scratch_mount(tmp_path):
    spec, platform, _ = compile_package(tmp_path, "--kfp-version", "2.17.0", *PLACEMENT)
    with pytest.raises(json_format.ParseError, match="emptyDirMounts"):
        driver_parse(spec, platform, "2.2.0")


@pytest.mark.parametrize(
    "option, value, words",
    [
        (
            "--gpu-toleration",
            "nvidia.com/gpu",
            "expected KEY[=VALUE]:EFFECT with EFFECT one of NoSchedule, PreferNoSchedule, NoExecute",
        ),
        ("--gpu-toleration", "nvidia.com/gpu:NoSchedul", "EFFECT one of"),
        ("--gpu-toleration", "bad key:NoSchedule", "'bad key' is not a taint key Kubernetes accepts"),
        ("--gpu-toleration", "gpu=a/b:NoSchedule", "'a/b' is not a taint value Kubernetes accepts"),
        ("--node-selector", "pool", "--node-selector pool: expected LABEL=VALUE"),
        ("--image-pull-secret", "Reg_Cred", "--image-pull-secret Reg_Cred: not a Kubernetes secret name"),
        ("--scratch-gb", "0", "--scratch-gb 0: must be 1 or more (GB)"),
    ],
)
def test_a_placement_or_scratch_option_kubernetes_would_refuse_is_refused_naming_it(
    tmp_path, capsys, option, value, words
):
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--pipeline-root",
        "gs://b/r",
        "--dataset",
        "gs://b/d",
        "--serving-dir",
        "gs://b/s",
        option,
        value,
    ]
    assert cli.main(argv) == 1
    assert words in capsys.readouterr().err
    assert not (tmp_path / "p.yaml").exists()


def test_placing_gpu_steps_without_gpus_is_refused(tmp_path, capsys):
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--pipeline-root",
        "gs://b/r",
        "--dataset",
        "gs://b/d",
        "--serving-dir",
        "gs://b/s",
        "--gpus",
        "0",
        "--config",
        "cpu-demo",
        "--node-selector",
        "pool=gpu",
    ]
    assert cli.main(argv) == 1
    assert "--node-selector: no step takes GPUs (--gpus 0)" in capsys.readouterr().err


def test_the_scratch_figure_follows_the_datasets_size_when_compile_sees_it(tmp_path):
    from kubeflow import pods

    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.jpg").write_bytes(b"x" * 3_000_000)
    assert pods.dataset_bytes(str(tmp_path)) == 3_000_000
    assert pods.scratch_for(3_000_000) == 3  # 2 x (1.5 x 0.003 GB + 1 GB), rounded up
    assert pods.scratch_for(20e9) == 62
    assert pods.dataset_bytes("gs://bucket/dataset") is None and pods.scratch_for(None) == pods.DEFAULT_SCRATCH_GB
    assert pods.local_root("s3://b/root/") == "/s3/b/root" and pods.local_root("/mnt/root") == ""


@pytest.mark.parametrize(
    "image_user, words",
    [
        (
            "app",
            "container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root "
            "(pod: 'p', container: main)",
        ),
        ("", "container has runAsNonRoot and image will run as root"),
        ("0:0", "container has runAsNonRoot and image will run as root"),
        ("1000", None),
        ("1000:0", None),
    ],
)
def test_the_kubelet_refuses_an_image_user_it_cannot_tell_is_not_root_where_2_17_0_runs_as_non_root(image_user, words):
    """kfp_kubelet.kubelet_run_as_non_root, Kubernetes' check and words; KFP 2.2.0 writes no security context."""
    security = kfp_store.RULES["2.17.0"].security_context
    if words is None:
        kfp_kubelet.kubelet_run_as_non_root(image_user, security, "p")
    else:
        with pytest.raises(kfp_kubelet.KubeletError) as error:
            kfp_kubelet.kubelet_run_as_non_root(image_user, security, "p")
        assert str(error.value).startswith(words)
    kfp_kubelet.kubelet_run_as_non_root(image_user, kfp_store.RULES["2.2.0"].security_context)
    kfp_kubelet.kubelet_run_as_non_root("app", {**security, "runAsUser": 1000})
