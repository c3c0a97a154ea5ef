"""`maskrcnn-tfx kubeflow`: the pipeline of pipeline/ compiled for Kubeflow Pipelines v2, run locally, submitted.

`compile` writes the bare PipelineSpec as YAML (what `kfp.Client` accepts; TFX
writes a PipelineJob wrapper for `.json`), made what an open-source backend
runs (package.py), followed by its Kubernetes platform spec when the steps reach
an S3 store. Every step runs the project image; the Trainer, and the evaluator
when there are GPUs, request accelerators. `run-local` is local_run.py,
`submit` submission.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
import urllib.parse

from storage import fileio
from kubeflow import launcher_config, local_run, package, pods, releases, serving_manifest, stores, submission
from kubeflow.submission import KubeflowError
from kubeflow.local_run import LocalRunError
from pipeline import options

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


def compile_pipeline(config, image: str, output: str, resources: dict[str, Resources],
                     gpu_type: str = "nvidia.com/gpu", target: stores.Target | None = None,
                     pod_settings: pods.PodSettings | None = None) -> str:
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
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image,
                                                                        use_pipeline_spec_2_1=True))
    spec = runner.run(pipeline, write_out=False)["pipelineSpec"]
    # TFX keeps runtime parameters' defaults in the PipelineJob's runtimeConfig, which the bare
    # PipelineSpec does not carry: without them a run submitted with no arguments gets empty values.
    defaults = {p.name: p.default for p in (config.dataset, config.train_steps) if isinstance(p, RuntimeParameter)}
    for name, parameter in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        parameter["defaultValue"] = defaults[name]
    spec, platform_spec = package.for_backend(spec, config.pipeline_root, UNCACHED_STEPS,
                                              target.store if target else None, pod_settings)
    fileio.write_text(output, f"# {config.pipeline_name}: maskrcnn-tfx compiled for Kubeflow Pipelines v2 by "
                              f"{spec['sdkVersion']}\n" + (submission.target_line(target) if target else "") +
                      yaml.safe_dump_all(
                                  [spec, platform_spec] if platform_spec else [spec], sort_keys=True))
    return output


def compile_config(args: argparse.Namespace):
    """The PipelineConfig of `kubeflow compile`: paths as URIs, per-run values as runtime parameters."""
    from tfx.orchestration.data_types import RuntimeParameter

    from components.trainer.experiment import CONFIG_DIR, config_path
    from components.trainer.init_checkpoint import NO_CHECKPOINT

    if CONFIG_DIR not in config_path(args.config).resolve().parents:
        raise KubeflowError(f"--config {args.config}: on Kubeflow the Trainer reads its config from the image; "
                            f"add the YAML to components/trainer/configs/, rebuild the image and pass its name")
    for name in ("dataset", "pipeline_root", "serving_dir", "schema", "init_checkpoint"):
        value = getattr(args, name)
        if value and value != NO_CHECKPOINT and not urllib.parse.urlparse(value).scheme and not value.startswith("/"):
            raise KubeflowError(f"--{name.replace('_', '-')} {value}: the cluster cannot see a relative path; "
                                f"give a URI (gs://, s3://) or a path on a volume the pods mount")
    runner = next((a.split("=", 1)[1] for a in args.beam_pipeline_args if a.startswith("--runner=")), "")
    if runner and "DirectRunner" not in runner and fileio.is_uri(args.pipeline_root):
        raise KubeflowError(f"--beam-args --runner={runner} with --pipeline-root {args.pipeline_root}: a step "
                            f"reads and writes its artifacts at the local copies KFP's launcher makes in its pod, "
                            f"which Beam's workers elsewhere cannot see: on a cluster the Beam steps run on the "
                            f"DirectRunner in their pods (e.g. --beam-args='--direct_running_mode=multi_processing "
                            f"--direct_num_workers=4')")
    train_args = {"num_steps": args.train_steps} if args.train_steps else {}
    return options.pipeline_config(
        args, local=False,
        dataset=RuntimeParameter(name=DATASET_PARAMETER, ptype=str, default=args.dataset),
        train_steps=RuntimeParameter(name=TRAIN_ARGS_PARAMETER, ptype=str, default=json.dumps(train_args)),
        pipeline_name=args.pipeline_name)


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


def runtime_arguments(items: list[str], package: str) -> dict[str, str]:
    """`--arg NAME=VALUE` items, each naming one of the package's runtime parameters."""
    if not items:
        return {}
    known = sorted(local_run.load_package(package)["root"].get("inputDefinitions", {}).get("parameters", {}))
    arguments = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise KubeflowError(f"--arg {item}: expected NAME=VALUE, e.g. {DATASET_PARAMETER}=gs://bucket/dataset")
        if name not in known:
            raise KubeflowError(f"--arg {item}: {package} has no runtime parameter {name}; it has "
                                f"{', '.join(known) or 'none'}")
        arguments[name] = value
    return arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kubeflow_command", metavar="{compile,run-local,submit,serving-manifest}",
                                required=True)
    compile_parser = sub.add_parser("compile", help="compile the pipeline into a KFP v2 package (.yaml)")
    compile_parser.add_argument("--image", required=True,
                                help="the project image in your registry (see README, Run on Kubeflow)")
    compile_parser.add_argument("--output", default="pipeline.yaml", help="the package to write (default: %(default)s)")
    compile_parser.add_argument("--pipeline-name", default="maskrcnn-tfx")
    compile_parser.add_argument("--gpus", type=int, default=1, help="GPUs for the Trainer (default: %(default)s); "
                                "the evaluator takes one when this is not 0")
    compile_parser.add_argument("--gpu-type", default="nvidia.com/gpu",
                                help="the accelerator's Kubernetes resource name (default: %(default)s)")
    compile_parser.add_argument("--trainer-cpu", type=float,
                                help=f"CPUs the Trainer requests (default: {TRAINER_CPU_PER_GPU} per GPU, what feeds "
                                     f"one GPU; {TRAINER_CPU_WITHOUT_GPUS} without GPUs)")
    compile_parser.add_argument("--trainer-memory", type=float, default=32, metavar="GB",
                                help="memory the Trainer requests, in GB (default: %(default)s)")
    compile_parser.add_argument("--kfp-version", default=releases.ANY_RELEASE, metavar="VERSION",
                                help=f"the KFP release of the cluster: {', '.join(releases.RELEASES)} (default: "
                                     f"%(default)s, a package every one of them runs)")
    compile_parser.add_argument("--namespace", help="the profile namespace the runs go to on multi-user Kubeflow: "
                                                    "its pipeline root and the store prefixes its key may use")
    compile_parser.add_argument("--launcher-config", metavar="FILE",
                                help="the namespace's kfp-launcher ConfigMap (`kubectl -n NS get configmap "
                                     "kfp-launcher -o yaml`): its pipeline root and store providers")
    compile_parser.add_argument("--s3-endpoint", metavar="URL",
                                help="the S3 endpoint the pods reach for s3:// and minio:// paths that the "
                                     "kfp-launcher ConfigMap has no providers entry for (default: the release's "
                                     "built-in store for minio://, AWS S3 for s3://)")
    compile_parser.add_argument("--s3-secret", metavar="NAME[:ACCESS_KEY_KEY:SECRET_KEY_KEY]",
                                help=f"the Kubernetes secret holding the credentials for those paths (default: "
                                     f"Kubeflow's, {releases.STORE_SECRET}; the pods' own, e.g. IRSA, for s3:// "
                                     f"without --s3-endpoint; '' for the pods' own)")
    pods.add_arguments(compile_parser)
    options.add_pipeline_arguments(compile_parser, pipeline_root="", config="gpu-r50fpn")

    local_parser = sub.add_parser("run-local", help="run a compiled package with KFP's local orchestrator "
                                                    "(kfp.local, each step in the package's image)")
    local_parser.add_argument("--package", required=True, help="the .yaml written by `kubeflow compile`")
    local_parser.add_argument("--pipeline-root", default="outputs/kfp-local",
                              help="kfp.local's pipeline root, where the steps' artifacts go (default: %(default)s)")
    local_parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", dest="arguments",
                              help="a runtime parameter, as for submit (repeatable)")

    serving_manifest.add_arguments(sub.add_parser(
        "serving-manifest", help="a KServe InferenceService for the models the pipeline pushes to a serving folder"))
    submit_parser = sub.add_parser("submit", help="create a run of a compiled package on a KFP endpoint")
    submit_parser.add_argument("--host", required=True, help="the KFP API endpoint, e.g. http://localhost:8080")
    submit_parser.add_argument("--package", required=True, help="the .yaml written by `kubeflow compile`")
    submit_parser.add_argument("--experiment", help="experiment name (default: KFP's Default)")
    submit_parser.add_argument("--run-name")
    submit_parser.add_argument("--namespace", help="the profile namespace on multi-user Kubeflow (default: the one "
                                                   "the package was compiled for)")
    submit_parser.add_argument("--launcher-config", metavar="FILE",
                               help="the namespace's kfp-launcher ConfigMap, to check the root the run will use")
    submit_parser.add_argument("--token", help="a bearer token (Dex, or `kubectl create token` for a service "
                                               "account with access to the namespace)")
    submit_parser.add_argument("--token-file", metavar="PATH", help="a file holding the bearer token")
    submit_parser.add_argument("--cookie", metavar="NAME=VALUE",
                               help="a session cookie: oauth2_proxy_kubeflow=... (Kubeflow 1.9+) or "
                                    "authservice_session=... (up to 1.8)")
    submit_parser.add_argument("--ca-cert", metavar="PEM", help="the CA that signed the endpoint's TLS certificate")
    submit_parser.add_argument("--insecure", action="store_true", help="do not verify the endpoint's TLS certificate")
    submit_parser.add_argument("--no-cache", action="store_true", help="run every step, even if cached")
    submit_parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", dest="arguments",
                               help=f"a runtime parameter: {DATASET_PARAMETER}=gs://... or "
                                    f"{TRAIN_ARGS_PARAMETER}='{{\"num_steps\": 20000}}' (repeatable)")


def main(args: argparse.Namespace) -> int:
    try:
        if args.kubeflow_command == "compile":
            if args.gpus < 0:
                raise KubeflowError("--gpus must be 0 or more")
            target = stores.target(args)
            args.pipeline_root = target.pipeline_root
            config = compile_config(args)
            resources = step_resources(args.gpus, args.trainer_cpu or trainer_cpu(args.gpus), args.trainer_memory)
            pod_settings, scratch = pods.settings(args, {s for s, r in resources.items() if r.gpus}, target.release,
                                                  target.pipeline_root)
            print(starting_point(config.training))
            print(submission.root_line(target.pipeline_root, target.root_given, target.namespace))
            print(scratch, *target.notes, sep="\n")
            path = compile_pipeline(config, image=args.image, output=args.output, resources=resources,
                                    gpu_type=args.gpu_type, target=target, pod_settings=pod_settings)
            print(f"wrote {path}: check it with `maskrcnn-tfx kubeflow run-local --package {path}`, then submit "
                  f"it with `maskrcnn-tfx kubeflow submit --host URL --package {path}`")
        elif args.kubeflow_command == "serving-manifest":
            serving_manifest.main(args)
        elif args.kubeflow_command == "run-local":
            started = time.monotonic()
            result = local_run.run_local(args.package, args.pipeline_root,
                                         runtime_arguments(args.arguments, args.package), DATASET_PARAMETER)
            print(f"kfp.local ran {len(result.steps)} steps ({', '.join(result.steps)}) in "
                  f"{time.monotonic() - started:.0f} s into {result.run_dir}")
            print(f"pushed: {result.pushed.get('pushed_destination') or 'nothing (not blessed)'}")
        else:
            run_id = submission.submit(args.host, args.package, experiment=args.experiment, run_name=args.run_name,
                            arguments=runtime_arguments(args.arguments, args.package), namespace=args.namespace,
                            enable_caching=False if args.no_cache else None, auth=submission.credentials(args),
                            launcher=stores.read_launcher_config(args.launcher_config))
            print(f"submitted run {run_id} to {args.host}")
    except (KubeflowError, LocalRunError, stores.StoreError, pods.PodOptionError,
            launcher_config.LauncherConfigError) as error:
        print(f"kubeflow {args.kubeflow_command}: {error}", file=sys.stderr)
        return 1
    return 0
