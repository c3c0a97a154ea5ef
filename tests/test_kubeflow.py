"""Kubeflow Pipelines v2: the compiled package, read back with the kfp client's own loader."""
import json
import time
from pathlib import Path

import pytest
from google.protobuf import json_format
from kfp.client import client as kfp_client

import kfp_backend
from components.util.blessing import BlessingConfig
from kubeflow import runner
from pipeline import cli, options

IMAGE = "registry.example.com/ml/maskrcnn-tfx:gpu-abc123"
BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=4"]
# The pipeline's steps in dependency order: every one a container (no resolver: the baseline is the served model).
STEPS = ["ImageMaskExampleGen", "LabelMapSchemaGen", "StatisticsGen", "ExampleValidator", "DataGate", "Trainer",
         "MaskEvaluator", "ServingCheck", "Pusher"]
CONTAINER_STEPS = STEPS


def compile_args(output, *extra) -> list[str]:
    return ["kubeflow", "compile", "--image", IMAGE, "--output", str(output),
            "--pipeline-root", "gs://bucket/pipeline-root", "--dataset", "gs://bucket/datasets/speakers",
            "--serving-dir", "gs://bucket/serving", "--init-checkpoint", "none", "--beam-args=" + " ".join(BEAM_ARGS),
            *extra]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The package compiled by the CLI for 2 GPUs, as the kfp client parses it for a run."""
    path = tmp_path_factory.mktemp("kubeflow") / "pipeline.yaml"
    assert cli.main(compile_args(path, "--gpus", "2", "--train-steps", "20000")) == 0
    spec = kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec  # what create_run_from_pipeline_package sends
    return {"path": path, "spec": spec}


def _containers(spec) -> dict:
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    return {task: executors[spec.components[task].executor_label]["container"] for task in CONTAINER_STEPS}


def test_every_step_is_in_the_graph_in_dependency_order(package):
    tasks = package["spec"].root.dag.tasks
    assert sorted(tasks) == sorted(STEPS)
    for name, task in tasks.items():
        for upstream in task.dependent_tasks:
            assert STEPS.index(upstream) < STEPS.index(name), (upstream, name)
    assert set(tasks["Trainer"].dependent_tasks) == {"ImageMaskExampleGen", "DataGate"}  # the gate stops training
    assert "MaskEvaluator" in tasks["Pusher"].dependent_tasks
    assert package["spec"].pipeline_info.name == "maskrcnn-tfx"


def test_every_step_runs_the_project_image_with_the_projects_entrypoint(package):
    for name, container in _containers(package["spec"]).items():
        assert container["image"] == IMAGE, name
        assert container["command"] == ["python", "-m", "kubeflow.entrypoint"]
    executors = {name: c["args"][c["args"].index("--executor_class_path") + 1]
                 for name, c in _containers(package["spec"]).items()}
    assert executors["ImageMaskExampleGen"] == "components.example_gen.executor.Executor"
    assert executors["MaskEvaluator"] == "components.evaluator.executor.Executor"
    assert executors["Pusher"] == "components.pusher.executor.Executor"


def test_the_package_meets_the_backend_compilers_rules_and_its_pods_get_their_resources(package):
    spec = json_format.MessageToDict(package["spec"])
    assert kfp_backend.compiler_violations(spec) == []
    containers = _containers(package["spec"])
    assert kfp_backend.pod_resources(containers["Trainer"]) == {
        "requests": {"cpu": 2 * runner.TRAINER_CPU_PER_GPU, "memory": 32},
        "limits": {"nvidia.com/gpu": "2"}}  # what feeds 2 GPUs; the driver appends G to the float memory
    assert kfp_backend.pod_resources(containers["MaskEvaluator"])["limits"] == {"nvidia.com/gpu": "1"}
    assert kfp_backend.pod_resources(containers["DataGate"]) == {"requests": {}, "limits": {}}
    assert spec["defaultPipelineRoot"] == "gs://bucket/pipeline-root"


def test_the_trainer_requests_gpus_and_ingestion_does_not(package):
    containers = _containers(package["spec"])
    # Only the fields KFP 2.2.0's strict driver knows, which every later driver still reads (kubeflow/releases.py).
    trainer = containers["Trainer"]["resources"]
    assert trainer == {"cpuRequest": 2 * runner.TRAINER_CPU_PER_GPU, "memoryRequest": 32,
                       "accelerator": {"type": "nvidia.com/gpu", "count": "2"}}
    assert containers["MaskEvaluator"]["resources"]["accelerator"]["count"] == "1"
    for name in ("ImageMaskExampleGen", "StatisticsGen"):
        assert containers[name]["resources"] == {"cpuRequest": 2, "memoryRequest": 8}, name
    for name in ("LabelMapSchemaGen", "ExampleValidator", "DataGate", "Pusher"):
        assert "accelerator" not in containers[name].get("resources", {}), name


def test_the_steps_that_decide_on_what_is_served_are_never_served_from_the_cache(package):
    tasks = package["spec"].root.dag.tasks
    assert {name for name, task in tasks.items() if not task.caching_options.enable_cache} == \
        {"MaskEvaluator", "ServingCheck", "Pusher"}


@pytest.mark.parametrize("written, message", [
    ('{"artifacts": {"blessing": {"artifacts": [{"metadata": {"score": NaN}}]}}}', "NaN is not JSON"),
    ('{"artifacts": {}, "parameters": {}, "logs": "x"}', 'no field named "logs"'),
])
def test_an_executor_output_the_launcher_would_refuse_is_refused_naming_the_file(tmp_path, written, message):
    """KFP's launcher reads it with protojson.Unmarshal (launcher_v2.go getExecutorOutputFile, 2.2.0 and 2.17.0)."""
    from kubeflow import entrypoint

    output = tmp_path / "output_metadata.json"
    output.write_text(written)
    with pytest.raises(entrypoint.ExecutorOutputError, match=message) as error:
        entrypoint.restore_remote_uris(str(output), {})
    assert str(output) in str(error.value)


def test_beam_args_reach_the_beam_steps(package):
    containers = _containers(package["spec"])
    for name in ("ImageMaskExampleGen", "StatisticsGen"):
        args = containers[name]["args"]
        assert args[-len(BEAM_ARGS):] == BEAM_ARGS, name


def test_dask_as_the_beam_runner_means_the_projects_dask_runner(tmp_path):
    path = tmp_path / "pipeline.yaml"
    dask = ["--runner=DaskRunner", "--dask_client_address=tcp://dask-scheduler.dask:8786"]
    argv = [*compile_args(path)[:-1], "--beam-args=" + " ".join(dask), "--pipeline-root", "/mnt/shared/root"]
    assert cli.main(argv) == 0
    containers = _containers(kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec)
    for name in ("ImageMaskExampleGen", "StatisticsGen", "DataGate"):
        assert containers[name]["args"][-2:] == ["--runner=dataset.dask_runner.DaskRunner", dask[1]], name


def test_a_remote_beam_runner_is_refused_where_the_launcher_stages_artifacts_in_the_pod(tmp_path, capsys):
    argv = [*compile_args(tmp_path / "pipeline.yaml")[:-1], "--beam-args=--runner=DataflowRunner --project=p"]
    assert cli.main(argv) == 1
    assert "--runner=DataflowRunner with --pipeline-root gs://bucket/pipeline-root: a step reads and writes its " \
           "artifacts at the local copies KFP's launcher makes in its pod" in capsys.readouterr().err


def test_a_setting_declared_once_is_an_option_of_run_and_compile_and_reaches_its_step(tmp_path):
    """PipelineConfig's fields with an option (pipeline/settings.py) are options of both commands."""

    settings = ["--min-instance-area", "40", "--bless-on", "lower-bound", "--min-eval-images", "20",
                "--max-regression", "0.1", "--config", "tiny"]
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

    given = {"ingest": ["ingest", "--output", str(tmp_path)], "run": ["run"],
             "kubeflow": ["kubeflow", "compile", "--image", IMAGE, "--output", str(tmp_path / "p.yaml"),
                          "--pipeline-root", "gs://b/r", "--serving-dir", "gs://b/s"]}
    for command, args in given.items():
        parsed = vars(cli.build_parser([command]).parse_args([*args, "--dataset", str(tmp_path)]))
        for field in dataclasses.fields(IngestOptions):
            name = "dataset_format" if command != "ingest" and field.name == "format" else field.name
            assert parsed[name] == field.default, (command, field.name)


def test_dataset_and_train_steps_are_runtime_parameters_with_defaults(package):
    spec = package["spec"]
    parameters = spec.root.input_definitions.parameters
    assert parameters[runner.DATASET_PARAMETER].default_value.string_value == "gs://bucket/datasets/speakers"
    assert json.loads(parameters[runner.TRAIN_ARGS_PARAMETER].default_value.string_value) == {"num_steps": 20000}
    tasks = spec.root.dag.tasks
    assert tasks["ImageMaskExampleGen"].inputs.parameters["input_base"].component_input_parameter == \
        runner.DATASET_PARAMETER
    assert tasks["Trainer"].inputs.parameters["train_args"].component_input_parameter == runner.TRAIN_ARGS_PARAMETER


def test_paths_the_steps_read_exist_in_the_image(package):
    tasks = package["spec"].root.dag.tasks
    schema = tasks["LabelMapSchemaGen"].inputs.parameters["schema_file"].runtime_value.constant.string_value
    assert schema == ""  # the curated schema installed with the package; the classes come from the label map
    custom_config = json.loads(tasks["Trainer"].inputs.parameters["custom_config"].runtime_value.constant.string_value)
    assert custom_config["config"] == "gpu-r50fpn"
    push = json.loads(tasks["Pusher"].inputs.parameters["push_destination"].runtime_value.constant.string_value)
    assert push["filesystem"]["base_directory"] == "gs://bucket/serving"


def test_a_checkpoint_the_pods_cannot_read_is_refused_at_compile(tmp_path, capsys):
    """gpu-r50fpn starts from Model Garden's ImageNet ResNet-50 on Google Cloud Storage, out of reach here."""
    argv = compile_args(tmp_path / "pipeline.yaml")
    argv.remove("--init-checkpoint"), argv.remove("none")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "the training config gpu-r50fpn starts from the checkpoint " \
           "gs://cloud-tpu-checkpoints/vision-2.0/resnet50_imagenet/ckpt-28080 (backbone), which cannot be read: its " \
           "host cannot be reached from here" in err
    assert "gsutil -m cp 'gs://cloud-tpu-checkpoints/vision-2.0/resnet50_imagenet/ckpt-28080.*' DIR" in err
    assert "--init-checkpoint DIR/ckpt-28080, or train from random weights with --init-checkpoint none" in err
    assert not (tmp_path / "pipeline.yaml").exists()


def test_without_gpus_nothing_requests_an_accelerator(tmp_path):
    path = tmp_path / "cpu.yaml"
    assert cli.main(compile_args(path, "--gpus", "0", "--config", "cpu-demo")) == 0
    for name, container in _containers(kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec).items():
        assert "accelerator" not in container.get("resources", {}), name


@pytest.mark.parametrize("change, message", [
    (["--output", "pipeline.json"], "must be .yaml"),
    (["--dataset", "data/speakers"], "cannot see a relative path"),
    (["--schema", "my-schema.pbtxt"], "--schema my-schema.pbtxt: the cluster cannot see a relative path"),
    (["--init-checkpoint", "ckpt/ckpt-100"], "--init-checkpoint ckpt/ckpt-100: the cluster cannot see a relative"),
    (["--config", "/tmp/my-config.yaml"], "reads its config from the image"),
])
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
@pytest.mark.parametrize("argument, message", [
    ("dataset_uri", "--arg dataset_uri: expected NAME=VALUE"),
    ("datset_uri=/data", "has no runtime parameter datset_uri; it has dataset_uri, train_args"),
])
def test_a_runtime_argument_the_package_does_not_have_is_refused_naming_the_ones_it_has(package, capsys, command,
                                                                                       argument, message):
    argv = ["kubeflow", *command, "--package", str(package["path"]), "--arg", argument]
    assert cli.main(argv) == 1
    assert message in capsys.readouterr().err


def test_submit_names_a_missing_package(tmp_path, capsys):
    assert cli.main(["kubeflow", "submit", "--host", "http://127.0.0.1:9", "--package",
                     str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: no such package" in capsys.readouterr().err


@pytest.mark.parametrize("given", [{"instanceSchema": ""}, {"schemaTitle": "system.Dataset"},
                                   {"schemaTitle": "system.Artifact"}, {"schemaTitle": "tfx.Examples"}])
def test_the_entrypoint_types_artifacts_as_declared_and_gives_executors_the_launchers_local_copies(package, tmp_path,
                                                                                                given, monkeypatch):
    """Types as KFP 2.17's driver (an empty instance schema), other backends and kfp.local give them."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
    from kfp.pipeline_spec import pipeline_spec_pb2

    from kubeflow import entrypoint

    container = _containers(package["spec"])["MaskEvaluator"]
    args, beam_args = entrypoint.parse_flags(["entrypoint", *container["args"]])
    assert beam_args == BEAM_ARGS
    (tmp_path / "minio").mkdir()
    roots = {"minio": str(tmp_path / "minio"), "s3": str(tmp_path / "s3")}  # /s3 not mounted here
    monkeypatch.setattr(entrypoint, "LOCAL_ROOTS", roots)  # the launcher's volumes, here
    executor_input = {
        "inputs": {"artifacts": {
            "examples": {"artifacts": [{"name": "12", "uri": "minio://mlpipeline/v2/r/ImageMaskExampleGen/u/examples",
                                        "type": given, "metadata": {"split_names": '["train", "eval"]',
                                                                    "span": 0.0, "display_name": "examples"}}]},
            "model": {"artifacts": [{"name": "15", "uri": "s3://bucket/r/Trainer/u/model", "type": given}]}}},
        "outputs": {"artifacts": {
            "blessing": {"artifacts": [{"name": "blessing", "uri": "minio://mlpipeline/v2/r/MaskEvaluator/u/blessing",
                                        "type": given}]},
            "executor-logs": {"artifacts": [{"name": "executor-logs", "uri": "minio://mlpipeline/logs",
                                             "type": {"schemaTitle": "system.Artifact"}}]}},
            "outputFile": str(tmp_path / "minio" / "output_metadata.json")}}
    remote = entrypoint.prepare(executor_input, json.loads(args.json_serialized_inputs_spec_args),
                                json.loads(args.json_serialized_outputs_spec_args))
    inputs = executor_input["inputs"]["artifacts"]
    assert inputs["examples"]["artifacts"][0]["uri"] == f"{roots['minio']}/mlpipeline/v2/r/ImageMaskExampleGen/u/examples"
    assert inputs["model"]["artifacts"][0]["uri"] == "s3://bucket/r/Trainer/u/model"  # no volume: left as it is
    assert list(executor_input["outputs"]["artifacts"]) == ["blessing"]  # the launcher's own output left out
    parsed = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(
        json_format.ParseDict(executor_input["inputs"], pipeline_spec_pb2.ExecutorInput.Inputs()).artifacts)
    examples = parsed["examples"][0]
    assert type(examples).__name__ == "Examples" and examples.split_names == '["train", "eval"]'
    assert examples.span == 0 and type(parsed["model"][0]).__name__ == "Model"

    Path(executor_input["outputs"]["outputFile"]).write_text(json.dumps({"artifacts": {"blessing": {"artifacts": [
        {"uri": executor_input["outputs"]["artifacts"]["blessing"]["artifacts"][0]["uri"],
         "metadata": {"blessed": 1}}]}}}))
    entrypoint.restore_remote_uris(executor_input["outputs"]["outputFile"], remote)
    written = json.loads(Path(executor_input["outputs"]["outputFile"]).read_text())["artifacts"]["blessing"]
    assert written["artifacts"][0] == {"uri": "minio://mlpipeline/v2/r/MaskEvaluator/u/blessing",
                                       "metadata": {"blessed": 1}}
