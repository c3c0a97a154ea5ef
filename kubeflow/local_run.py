"""`maskrcnn-tfx kubeflow run-local`: a compiled package run by KFP's own local orchestrator (`kfp.local`).

Every container step runs in the package's image through kfp.local's
DockerRunner, with the executor input KFP builds, its artifacts under a local
pipeline root. Nothing of the working tree is mounted into the steps: only the
pipeline root (kfp.local's own mount), the dataset (read-only) and the serving
folder the Pusher writes. It is the check to run before submitting a package.

What kfp.local does otherwise than a cluster, and how that is handled:
- TFX's artifact types: kfp.local does not carry TFX's instance schemas from
  a step's outputs to the next step's inputs (they arrive as
  `system.Artifact`), as a cluster's driver does not (an empty schema): the
  project's entrypoint types every artifact as its component declares it.
- A step's exit status: kfp.local removes the container as it ends and may
  then report success without it. Every step must leave its executor output
  file; the first step without one fails the run, named.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import yaml

EXECUTOR_OUTPUT_FILE = "executor_output.json"  # kfp.local's name (executor_input_utils)


class LocalRunError(RuntimeError):
    """The package cannot run locally, or one of its steps failed; the message says which and why."""


@dataclasses.dataclass
class LocalRun:
    run_dir: str
    steps: list[str]
    pushed: dict[str, Any]


def load_package(path: str) -> dict:
    if not os.path.isfile(path):
        raise LocalRunError(f"{path}: no such package (make one with `maskrcnn-tfx kubeflow compile`)")
    with open(path) as f:
        return next(yaml.safe_load_all(f))  # the PipelineSpec; a platform spec may follow


def with_kfp_component_names(spec: dict) -> dict:
    """Components named `comp-<task>` as KFP's compiler names them: kfp.local names a step's folder by cutting
    5 characters ('comp-') off its component's name, which TFX's compiler does not prefix (Pusher -> 'r')."""
    spec = json.loads(json.dumps(spec))
    renamed = {name: name if name.startswith("comp-") else f"comp-{name}" for name in spec["components"]}
    spec["components"] = {renamed[name]: component for name, component in spec["components"].items()}
    for task in spec["root"]["dag"]["tasks"].values():
        task["componentRef"]["name"] = renamed[task["componentRef"]["name"]]
    return spec


def container_steps(spec: dict) -> list[str]:
    executors = spec["deploymentSpec"]["executors"]
    return sorted(
        name
        for name, task in spec["root"]["dag"]["tasks"].items()
        if "container" in executors[spec["components"][task["componentRef"]["name"]]["executorLabel"]]
    )


def _constant(spec: dict, task: str, parameter: str) -> str:
    return spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][parameter]["runtimeValue"]["constant"]


def host_paths(spec: dict, arguments: dict[str, str], dataset_parameter: str) -> tuple[str, str]:
    """The dataset (the runtime parameter or its default) and the Pusher's serving folder, as local paths."""
    dataset = (
        arguments.get(dataset_parameter)
        or spec["root"]["inputDefinitions"]["parameters"][dataset_parameter]["defaultValue"]
    )
    serving = json.loads(_constant(spec, "Pusher", "push_destination"))["filesystem"]["base_directory"]
    for what, path in (("dataset", dataset), ("serving folder", serving)):
        if "://" in path or not os.path.isabs(path):
            raise LocalRunError(
                f"the package's {what} is {path}: run-local needs absolute local paths (compile "
                f"with local --dataset and --serving-dir, or pass --arg dataset_uri=/path)"
            )
    if not os.path.isdir(dataset):
        raise LocalRunError(f"the package's dataset {dataset} is not a folder on this machine")
    return dataset, serving


def run_local(package: str, pipeline_root: str, arguments: dict[str, str], dataset_parameter: str) -> LocalRun:
    """Runs the package's steps with kfp.local's DockerRunner; raises LocalRunError naming a failed step."""
    from kfp import components, local

    import docker

    spec = with_kfp_component_names(load_package(package))
    dataset, serving = host_paths(spec, arguments, dataset_parameter)
    pipeline_root = os.path.abspath(pipeline_root)
    os.makedirs(pipeline_root, exist_ok=True)
    os.makedirs(serving, exist_ok=True)
    mounts = [
        docker.types.Mount(target=dataset, source=dataset, type="bind", read_only=True),
        docker.types.Mount(target=serving, source=serving, type="bind"),
    ]
    local.init(
        runner=local.DockerRunner(user=f"{os.getuid()}:{os.getgid()}", mounts=mounts, shm_size="2g"),
        pipeline_root=pipeline_root,
        raise_on_error=True,
    )
    before = set(os.listdir(pipeline_root))
    pipeline = components.load_component_from_text(yaml.safe_dump(spec))
    failure = None
    try:
        pipeline(**arguments)
    except (RuntimeError, ValueError) as error:  # kfp.local's failure, or its error on a missing output
        failure = error
    new = sorted(set(os.listdir(pipeline_root)) - before)
    run_dir = os.path.join(pipeline_root, new[-1]) if new else pipeline_root
    steps = container_steps(spec)
    missing = [s for s in _in_order(spec, steps) if not os.path.exists(executor_output_path(run_dir, s))]
    if missing or failure:
        step = missing[0] if missing else "?"
        raise LocalRunError(
            f"step {step} failed (its log is above; no {EXECUTOR_OUTPUT_FILE} in "
            f"{os.path.dirname(executor_output_path(run_dir, step))}); kfp.local said: {failure or 'success'}"
        )
    with open(executor_output_path(run_dir, "Pusher")) as f:
        pushed = json.load(f)["artifacts"]["pushed_model"]["artifacts"][0].get("metadata", {})
    return LocalRun(run_dir, steps, pushed)


def _in_order(spec: dict, steps: list[str]) -> list[str]:
    """Steps with their upstream steps first."""
    tasks, ordered = spec["root"]["dag"]["tasks"], []

    def visit(name):
        if name not in ordered:
            for upstream in tasks[name].get("dependentTasks", []):
                visit(upstream)
            ordered.append(name)

    for name in sorted(tasks):
        visit(name)
    return [s for s in ordered if s in steps]


def executor_output_path(run_dir: str, step: str) -> str:
    """Where kfp.local leaves a step's executor output in a run's folder."""
    return os.path.join(run_dir, step, EXECUTOR_OUTPUT_FILE)
