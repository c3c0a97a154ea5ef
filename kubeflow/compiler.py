"""The pipeline of pipeline/ compiled for Kubeflow Pipelines v2 (`maskrcnn-tfx kubeflow compile`, runner.py):
its configuration with the per-run values as runtime parameters, each step's resource requests, and the package
written as the bare PipelineSpec an open-source backend runs (package.py), followed by its Kubernetes platform spec
when the steps reach an S3 store."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import urllib.parse

from kubeflow import package, pods, stores, submission
from kubeflow.submission import KubeflowError
from pipeline import options
from storage import fileio

# Runtime parameters: what a user changes per run without recompiling (`submit --arg NAME=VALUE`).
DATASET_PARAMETER = "dataset_uri"
TRAIN_ARGS_PARAMETER = "train_args"
PIPELINE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one step's pod requests."""

    cpu: float
    memory_gb: float
    gpus: int = 0


# The Trainer's CPUs: per GPU, the cores Model Garden's input pipeline needs to feed one GPU at NVIDIA's A100
# reference rate at the slowest photo size measured, plus one for the training loop
# (benchmarks/input_benchmark.py; docs/training.md, GPUs); without GPUs, the cores a CPU training uses.
TRAINER_CPU_PER_GPU = 5  # gpu-r50fpn, 1920x1080 photos: 7.6 images/s a core; 28.6 / 7.6 -> 4, + 1
TRAINER_CPU_WITHOUT_GPUS = 8


def trainer_cpu(gpus: int) -> float:
    return gpus * TRAINER_CPU_PER_GPU if gpus else TRAINER_CPU_WITHOUT_GPUS


def step_resources(gpus: int, trainer_cpu: float, trainer_memory_gb: float) -> dict[str, Resources]:
    """Component id -> requests. Steps not listed take the cluster's defaults."""
    return {
        "ImageMaskExampleGen": Resources(cpu=2, memory_gb=8),
        "StatisticsGen": Resources(cpu=2, memory_gb=8),
        "Trainer": Resources(cpu=trainer_cpu, memory_gb=trainer_memory_gb, gpus=gpus),
        # Evaluation runs the SavedModel over Split-eval and times it: on the kind of device that will serve it.
        "MaskEvaluator": Resources(cpu=4, memory_gb=16, gpus=min(gpus, 1)),
        # The model server and its client in one pod: the model loaded once, on the CPU that will serve it.
        "ServingCheck": Resources(cpu=2, memory_gb=8),
    }


def resource_spec(resources: Resources, gpu_type: str):
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec_type = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
    # The float fields and the accelerator's type and count: the only ones KFP 2.2.0 and 2.3.0 parse (their strict
    # driver refuses resource_cpu_request & co., releases.py); every later driver still reads them.
    spec = spec_type(cpu_request=resources.cpu, memory_request=resources.memory_gb)
    if resources.gpus:
        spec.accelerator.CopyFrom(spec_type.AcceleratorConfig(type=gpu_type, count=resources.gpus))
    return spec


def compile_pipeline(
    config,
    image: str,
    output: str,
    resources: dict[str, Resources],
    gpu_type: str = "nvidia.com/gpu",
    target: stores.Target | None = None,
    pod_settings: pods.PodSettings | None = None,
) -> str:
    """Writes the KFP v2 package of `config` to `output` (.yaml); returns its path."""
    import yaml
    from tfx import v1 as tfx
    from tfx.orchestration.data_types import RuntimeParameter

    from pipeline.pipeline import UNCACHED_STEPS, create_pipeline

    if not output.endswith((".yaml", ".yml")):
        raise KubeflowError(f"{output}: the package must be .yaml (the PipelineSpec the kfp client submits)")
    if not PIPELINE_NAME.fullmatch(config.pipeline_name):
        raise KubeflowError(f"pipeline name {config.pipeline_name!r}: KFP v2 needs [a-z0-9][a-z0-9-]{{0,127}}")
    pipeline = create_pipeline(config)
    ids = {component.id for component in pipeline.components}
    for component in pipeline.components:
        if component.id in resources:
            component.with_platform_config(resource_spec(resources[component.id], gpu_type))
    unknown = set(resources) - ids
    if unknown:
        raise KubeflowError(f"resources for steps the pipeline does not have: {sorted(unknown)}")
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        # Schema 2.1 is what current KFP backends and the kfp SDK use.
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image, use_pipeline_spec_2_1=True)
    )
    spec = runner.run(pipeline, write_out=False)["pipelineSpec"]
    # TFX keeps runtime parameters' defaults in the PipelineJob's runtimeConfig, which the bare
    # PipelineSpec does not carry: without them a run submitted with no arguments gets empty values.
    defaults = {p.name: p.default for p in (config.dataset, config.train_steps) if isinstance(p, RuntimeParameter)}
    for name, parameter in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        parameter["defaultValue"] = defaults[name]
    spec, platform_spec = package.for_backend(
        spec, config.pipeline_root, UNCACHED_STEPS, target.store if target else None, pod_settings
    )
    fileio.write_text(
        output,
        f"# {config.pipeline_name}: maskrcnn-tfx compiled for Kubeflow Pipelines v2 by "
        f"{spec['sdkVersion']}\n"
        + (submission.target_line(target) if target else "")
        + yaml.safe_dump_all([spec, platform_spec] if platform_spec else [spec], sort_keys=True),
    )
    return output


def compile_config(args: argparse.Namespace):
    """The PipelineConfig of `kubeflow compile`: paths as URIs, per-run values as runtime parameters."""
    from tfx.orchestration.data_types import RuntimeParameter

    from components.trainer.experiment import CONFIG_DIR, config_path
    from components.trainer.init_checkpoint import NO_CHECKPOINT

    if CONFIG_DIR not in config_path(args.config).resolve().parents:
        raise KubeflowError(
            f"--config {args.config}: on Kubeflow the Trainer reads its config from the image; "
            f"add the YAML to components/trainer/configs/, rebuild the image and pass its name"
        )
    for name in ("dataset", "pipeline_root", "serving_dir", "schema", "init_checkpoint"):
        value = getattr(args, name)
        if value and value != NO_CHECKPOINT and not urllib.parse.urlparse(value).scheme and not value.startswith("/"):
            raise KubeflowError(
                f"--{name.replace('_', '-')} {value}: the cluster cannot see a relative path; "
                f"give a URI (gs://, s3://) or a path on a volume the pods mount"
            )
    runner = next((a.split("=", 1)[1] for a in args.beam_pipeline_args if a.startswith("--runner=")), "")
    if runner and "DirectRunner" not in runner and fileio.is_uri(args.pipeline_root):
        raise KubeflowError(
            f"--beam-args --runner={runner} with --pipeline-root {args.pipeline_root}: a step "
            f"reads and writes its artifacts at the local copies KFP's launcher makes in its pod, "
            f"which Beam's workers elsewhere cannot see: on a cluster the Beam steps run on the "
            f"DirectRunner in their pods (e.g. --beam-args='--direct_running_mode=multi_processing "
            f"--direct_num_workers=4')"
        )
    train_args = {"num_steps": args.train_steps} if args.train_steps else {}
    return options.pipeline_config(
        args,
        local=False,
        dataset=RuntimeParameter(name=DATASET_PARAMETER, ptype=str, default=args.dataset),
        train_steps=RuntimeParameter(name=TRAIN_ARGS_PARAMETER, ptype=str, default=json.dumps(train_args)),
        pipeline_name=args.pipeline_name,
    )


def starting_point(training) -> str:
    """Where the Trainer starts, checked here where this machine can see what the pods will: a gs:// checkpoint
    (public, or this machine's credentials). A path on a volume or an S3 store the pods reach by an in-cluster
    endpoint is checked by the Trainer itself, before its first step."""
    from components.trainer import trainer_module
    from components.trainer.init_checkpoint import InitError

    try:
        return trainer_module.starting_point(training, check=lambda path: fileio.scheme(path) == "gs")
    except InitError as error:
        raise KubeflowError(str(error)) from None
