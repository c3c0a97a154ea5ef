"""`maskrcnn-tfx kubeflow`'s options: a setting declared once is an option of `run` and `compile` alike and reaches
its step; what compile, submit and run-local refuse, each naming why."""

import time

import pytest
from google.protobuf import json_format
from kfp.client import client as kfp_client

from components.util.blessing import BlessingConfig
from kubeflow_package import IMAGE, compile_args
from pipeline import cli, options


def test_a_remote_beam_runner_is_refused_where_the_launcher_stages_artifacts_in_the_pod(tmp_path, capsys):
    argv = [*compile_args(tmp_path / "pipeline.yaml")[:-1], "--beam-args=--runner=DataflowRunner --project=p"]
    assert cli.main(argv) == 1
    assert (
        "--runner=DataflowRunner with --pipeline-root gs://bucket/pipeline-root: a step reads and writes its "
        "artifacts at the local copies KFP's launcher makes in its pod" in capsys.readouterr().err
    )


def test_a_setting_declared_once_is_an_option_of_run_and_compile_and_reaches_its_step(tmp_path):
    """PipelineConfig's fields with an option (pipeline/settings.py) are options of both commands."""

    settings = [
        "--min-instance-area",
        "40",
        "--bless-on",
        "lower-bound",
        "--min-eval-images",
        "20",
        "--max-regression",
        "0.1",
        "--config",
        "tiny",
    ]
    run_args = cli.build_parser(["run"]).parse_args(["run", "--dataset", str(tmp_path), *settings])
    config = options.pipeline_config(run_args, local=True)
    assert (config.min_instance_area, config.min_eval_images) == (40, 20)  # the blessing: tiny's, changed
    assert config.blessing == BlessingConfig({"mask_AP50": 0.0}, max_regression=0.1, bless_on="lower-bound")
    path = tmp_path / "pipeline.yaml"
    assert cli.main(compile_args(path, *settings)) == 0
    tasks = json_format.MessageToDict(kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec.root)["dag"]["tasks"]
    constant = lambda task, name: tasks[task]["inputs"]["parameters"][name]["runtimeValue"]["constant"]  # noqa: E731
    assert constant("ImageMaskExampleGen", "min_instance_area") == 40
    assert constant("DataGate", "min_eval_images") == 20
    assert BlessingConfig.from_json(constant("MaskEvaluator", "blessing_config")) == config.blessing


def test_ingestion_options_are_the_same_in_ingest_run_and_compile(tmp_path):
    """Each field of IngestOptions (dataset/plan.py), what the ExampleGen and `ingest` are given, is an option of
    `ingest`, `run` and `kubeflow compile` alike, with the same default."""
    import dataclasses

    from dataset.plan import IngestOptions

    given = {
        "ingest": ["ingest", "--output", str(tmp_path)],
        "run": ["run"],
        "kubeflow": [
            "kubeflow",
            "compile",
            "--image",
            IMAGE,
            "--output",
            str(tmp_path / "p.yaml"),
            "--pipeline-root",
            "gs://b/r",
            "--serving-dir",
            "gs://b/s",
        ],
    }
    for command, args in given.items():
        parsed = vars(cli.build_parser([command]).parse_args([*args, "--dataset", str(tmp_path)]))
        for field in dataclasses.fields(IngestOptions):
            name = "dataset_format" if command != "ingest" and field.name == "format" else field.name
            assert parsed[name] == field.default, (command, field.name)


def test_a_checkpoint_the_pods_cannot_read_is_refused_at_compile(tmp_path, capsys):
    """gpu-r50fpn starts from Model Garden's ImageNet ResNet-50 on Google Cloud Storage, out of reach here."""
    argv = compile_args(tmp_path / "pipeline.yaml")
    argv.remove("--init-checkpoint"), argv.remove("none")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "the training config gpu-r50fpn starts from the checkpoint "
        "gs://cloud-tpu-checkpoints/vision-2.0/resnet50_imagenet/ckpt-28080 (backbone), which cannot be read: its "
        "host cannot be reached from here" in err
    )
    assert "gsutil -m cp 'gs://cloud-tpu-checkpoints/vision-2.0/resnet50_imagenet/ckpt-28080.*' DIR" in err
    assert "--init-checkpoint DIR/ckpt-28080, or train from random weights with --init-checkpoint none" in err
    assert not (tmp_path / "pipeline.yaml").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (["--output", "pipeline.json"], "must be .yaml"),
        (["--dataset", "data/speakers"], "cannot see a relative path"),
        (["--schema", "my-schema.pbtxt"], "--schema my-schema.pbtxt: the cluster cannot see a relative path"),
        (["--init-checkpoint", "ckpt/ckpt-100"], "--init-checkpoint ckpt/ckpt-100: the cluster cannot see a relative"),
        (["--config", "/tmp/my-config.yaml"], "reads its config from the image"),
    ],
)
def test_compile_refuses_what_cannot_run_on_a_cluster(tmp_path, capsys, change, message):
    argv = compile_args(tmp_path / "pipeline.yaml") + change  # the last one of an option wins
    assert cli.main(argv) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "pipeline.yaml").exists()


@pytest.mark.parametrize("host", ["http://127.0.0.1:9", "http://kfp.invalid:8080"])
def test_submit_to_an_unreachable_host_fails_fast_naming_it(package, capsys, host):
    started = time.monotonic()
    assert cli.main(["kubeflow", "submit", "--host", host, "--package", str(package["path"])]) == 1
    assert time.monotonic() - started < 30  # the kfp client alone keeps retrying its health check
    err = capsys.readouterr().err
    assert f"Kubeflow Pipelines at {host} is not reachable" in err


@pytest.mark.parametrize("command", [["submit", "--host", "http://127.0.0.1:9"], ["run-local"]])
@pytest.mark.parametrize(
    "argument, message",
    [
        ("dataset_uri", "--arg dataset_uri: expected NAME=VALUE"),
        ("datset_uri=/data", "has no runtime parameter datset_uri; it has dataset_uri, train_args"),
    ],
)
def test_a_runtime_argument_the_package_does_not_have_is_refused_naming_the_ones_it_has(
    package, capsys, command, argument, message
):
    argv = ["kubeflow", *command, "--package", str(package["path"]), "--arg", argument]
    assert cli.main(argv) == 1
    assert message in capsys.readouterr().err


def test_submit_names_a_missing_package(tmp_path, capsys):
    assert (
        cli.main(["kubeflow", "submit", "--host", "http://127.0.0.1:9", "--package", str(tmp_path / "nope.yaml")]) == 1
    )
    assert "nope.yaml: no such package" in capsys.readouterr().err
