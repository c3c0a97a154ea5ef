"""What an open-source Kubeflow Pipelines backend reads in a package before any step runs, reproduced from its
source for the contract tests (kfp_backend.py runs the steps): the documents, its compiler's refusals, a step's
pod resources and the order of the tasks.

Followed: kubeflow/pipelines tag 2.17.0 (commit 4a3592cb2dd0a91a4652ab93893ec8beda1f3158), `backend/src/`:
- apiserver/template/v2_template.go NewV2SpecTemplate: the PipelineSpec parsed with strict protojson (every
  release), schema 2.1.0; a second YAML document with `platforms.kubernetes` is the platform spec.
- v2/compiler/visitor.go (L134), argocompiler/dag.go (L341-356): only container and importer executors; no
  `triggerPolicy.condition` on an importer.
- v2/driver/driver.go initPodSpecPatch (L289-447): resources from resource_cpu_request / resource_memory_request
  (else cpu_request / memory_request), accelerator.resource_type + resource_count (else type + count).
"""

from __future__ import annotations

from pathlib import Path

import yaml

SCHEMA_VERSION = "2.1.0"


def load_package(path: Path) -> tuple[dict, dict]:
    """The PipelineSpec and the Kubernetes platform spec ({} if none), as v2_template.go reads them."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    spec = next(d for d in docs if "pipelineInfo" in d)
    platform = next((d for d in docs if "kubernetes" in d.get("platforms", {})), {})
    return spec, platform.get("platforms", {}).get("kubernetes", {})


def compiler_violations(spec: dict) -> list[str]:
    """What the API server and the backend's compiler refuse, in their words."""
    problems = []
    if spec.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(
            f"KFP only supports schema version 2.1.0, but the pipeline spec has version {spec.get('schemaVersion')}"
        )
    executors = spec["deploymentSpec"]["executors"]
    for name, component in spec["components"].items():
        executor = executors.get(component.get("executorLabel"), {})
        if not {"container", "importer"} & set(executor):
            problems.append(
                f"error processing component name={name!r}: executor(label="
                f"{component.get('executorLabel')!r}): non-container and non-importer executor not "
                f"implemented"
            )
    for task_name, task in spec["root"]["dag"]["tasks"].items():
        executor = executors.get(spec["components"][task["componentRef"]["name"]].get("executorLabel"), {})
        if "importer" in executor and task.get("triggerPolicy", {}).get("condition"):
            problems.append(f"compiling task {task_name!r}: triggerPolicy.condition on importer task is not supported")
    return problems


def pod_resources(container: dict) -> dict:
    """The requests and limits driver.go initPodSpecPatch gives the step's pod: the string fields first, the
    deprecated floats else; an accelerator only with both its type and its count (a limit)."""
    resources = container.get("resources", {})
    accelerator = resources.get("accelerator", {})
    requests = {
        "cpu": resources.get("resourceCpuRequest") or resources.get("cpuRequest"),
        "memory": resources.get("resourceMemoryRequest") or resources.get("memoryRequest"),
    }
    kind = accelerator.get("resourceType") or accelerator.get("type")
    count = accelerator.get("resourceCount") or accelerator.get("count")
    return {
        "requests": {k: v for k, v in requests.items() if v},
        "limits": {kind: str(count)} if kind and count else {},
    }


def ordered_tasks(spec: dict) -> list[str]:
    tasks, ordered = spec["root"]["dag"]["tasks"], []

    def visit(name):
        if name not in ordered:
            for upstream in sorted(tasks[name].get("dependentTasks", [])):
                visit(upstream)
            ordered.append(name)

    for name in sorted(tasks):
        visit(name)
    return ordered
