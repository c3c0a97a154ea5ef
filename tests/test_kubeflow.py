"""Kubeflow Pipelines v2: the compiled package, read back with the kfp client's own loader (the fixture `package`,
tests/kubeflow_package.py): its graph, images, resources, cache and runtime parameters."""

import json

from google.protobuf import json_format
from kfp.client import client as kfp_client

import kfp_compiler
from dataset.dask_runner_args import RUNNER
from kubeflow import compiler
from kubeflow_package import BEAM_ARGS, IMAGE, STEPS, compile_args, step_containers
from pipeline import cli


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
    for name, container in step_containers(package["spec"]).items():
        assert container["image"] == IMAGE, name
        assert container["command"] == ["python", "-m", "kubeflow.entrypoint"]
    executors = {
        name: c["args"][c["args"].index("--executor_class_path") + 1]
        for name, c in step_containers(package["spec"]).items()
    }
    assert executors["ImageMaskExampleGen"] == "components.example_gen.executor.Executor"
    assert executors["MaskEvaluator"] == "components.evaluator.executor.Executor"
    assert executors["Pusher"] == "components.pusher.executor.Executor"


def test_the_package_meets_the_backend_compilers_rules_and_its_pods_get_their_resources(package):
    spec = json_format.MessageToDict(package["spec"])
    assert kfp_compiler.compiler_violations(spec) == []
    containers = step_containers(package["spec"])
    assert kfp_compiler.pod_resources(containers["Trainer"]) == {
        "requests": {"cpu": 2 * compiler.TRAINER_CPU_PER_GPU, "memory": 32},
        "limits": {"nvidia.com/gpu": "2"},
    }  # what feeds 2 GPUs; the driver appends G to the float memory
    assert kfp_compiler.pod_resources(containers["MaskEvaluator"])["limits"] == {"nvidia.com/gpu": "1"}
    assert kfp_compiler.pod_resources(containers["DataGate"]) == {"requests": {}, "limits": {}}
    assert spec["defaultPipelineRoot"] == "gs://bucket/pipeline-root"


def test_the_trainer_requests_gpus_and_ingestion_does_not(package):
    containers = step_containers(package["spec"])
    # Only the fields KFP 2.2.0's strict driver knows, which every later driver still reads (kubeflow/releases.py).
    trainer = containers["Trainer"]["resources"]
    assert trainer == {
        "cpuRequest": 2 * compiler.TRAINER_CPU_PER_GPU,
        "memoryRequest": 32,
        "accelerator": {"type": "nvidia.com/gpu", "count": "2"},
    }
    assert containers["MaskEvaluator"]["resources"]["accelerator"]["count"] == "1"
    for name in ("ImageMaskExampleGen", "StatisticsGen"):
        assert containers[name]["resources"] == {"cpuRequest": 2, "memoryRequest": 8}, name
    for name in ("LabelMapSchemaGen", "ExampleValidator", "DataGate", "Pusher"):
        assert "accelerator" not in containers[name].get("resources", {}), name


def test_the_steps_that_decide_on_what_is_served_are_never_served_from_the_cache(package):
    tasks = package["spec"].root.dag.tasks
    assert {name for name, task in tasks.items() if not task.caching_options.enable_cache} == {
        "MaskEvaluator",
        "ServingCheck",
        "Pusher",
    }


def test_beam_args_reach_the_beam_steps(package):
    containers = step_containers(package["spec"])
    for name in ("ImageMaskExampleGen", "StatisticsGen"):
        args = containers[name]["args"]
        assert args[-len(BEAM_ARGS) :] == BEAM_ARGS, name


def test_dataset_and_train_steps_are_runtime_parameters_with_defaults(package):
    spec = package["spec"]
    parameters = spec.root.input_definitions.parameters
    assert parameters[compiler.DATASET_PARAMETER].default_value.string_value == "gs://bucket/datasets/speakers"
    assert json.loads(parameters[compiler.TRAIN_ARGS_PARAMETER].default_value.string_value) == {"num_steps": 20000}
    tasks = spec.root.dag.tasks
    assert (
        tasks["ImageMaskExampleGen"].inputs.parameters["input_base"].component_input_parameter
        == compiler.DATASET_PARAMETER
    )
    assert tasks["Trainer"].inputs.parameters["train_args"].component_input_parameter == compiler.TRAIN_ARGS_PARAMETER


def test_paths_the_steps_read_exist_in_the_image(package):
    tasks = package["spec"].root.dag.tasks
    schema = tasks["LabelMapSchemaGen"].inputs.parameters["schema_file"].runtime_value.constant.string_value
    assert schema == ""  # the curated schema installed with the package; the classes come from the label map
    custom_config = json.loads(tasks["Trainer"].inputs.parameters["custom_config"].runtime_value.constant.string_value)
    assert custom_config["config"] == "gpu-r50fpn"
    push = json.loads(tasks["Pusher"].inputs.parameters["push_destination"].runtime_value.constant.string_value)
    assert push["filesystem"]["base_directory"] == "gs://bucket/serving"


def test_without_gpus_nothing_requests_an_accelerator(tmp_path):
    path = tmp_path / "cpu.yaml"
    assert cli.main(compile_args(path, "--gpus", "0", "--config", "cpu-demo")) == 0
    for name, container in step_containers(kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec).items():
        assert "accelerator" not in container.get("resources", {}), name


def test_dask_as_the_beam_runner_means_the_projects_dask_runner(tmp_path):
    path = tmp_path / "pipeline.yaml"
    dask = ["--runner=DaskRunner", "--dask_client_address=tcp://dask-scheduler.dask:8786"]
    argv = [*compile_args(path)[:-1], "--beam-args=" + " ".join(dask), "--pipeline-root", "/mnt/shared/root"]
    assert cli.main(argv) == 0
    containers = step_containers(kfp_client._extract_pipeline_yaml(str(path)).pipeline_spec)
    for name in ("ImageMaskExampleGen", "StatisticsGen", "DataGate"):
        assert containers[name]["args"][-2:] == [f"--runner={RUNNER}", dask[1]], name
