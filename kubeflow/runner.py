"""`maskrcnn-tfx kubeflow`: the pipeline of pipeline/ compiled for Kubeflow Pipelines v2, run locally, submitted.

`compile` writes the bare PipelineSpec as YAML (what `kfp.Client` accepts; TFX
writes a PipelineJob wrapper for `.json`) with each step's resource requests
(compiler.py). Every step runs the project image; the Trainer, and the evaluator
when there are GPUs, request accelerators. `run-local` is local_run.py,
`submit` submission.py.
"""

from __future__ import annotations

import argparse
import sys
import time

from kubeflow import launcher_config, local_run, pods, releases, serving_manifest, stores, submission
from kubeflow.compiler import (
    DATASET_PARAMETER,
    TRAIN_ARGS_PARAMETER,
    TRAINER_CPU_PER_GPU,
    TRAINER_CPU_WITHOUT_GPUS,
    compile_config,
    compile_pipeline,
    starting_point,
    step_resources,
    trainer_cpu,
)
from kubeflow.local_run import LocalRunError
from kubeflow.submission import KubeflowError
from pipeline import options


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
            raise KubeflowError(
                f"--arg {item}: {package} has no runtime parameter {name}; it has {', '.join(known) or 'none'}"
            )
        arguments[name] = value
    return arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        dest="kubeflow_command", metavar="{compile,run-local,submit,serving-manifest}", required=True
    )
    compile_parser = sub.add_parser("compile", help="compile the pipeline into a KFP v2 package (.yaml)")
    compile_parser.add_argument(
        "--image", required=True, help="the project image in your registry (see README, Run on Kubeflow)"
    )
    compile_parser.add_argument("--output", default="pipeline.yaml", help="the package to write (default: %(default)s)")
    compile_parser.add_argument("--pipeline-name", default="maskrcnn-tfx")
    compile_parser.add_argument(
        "--gpus",
        type=int,
        default=1,
        help="GPUs for the Trainer (default: %(default)s); the evaluator takes one when this is not 0",
    )
    compile_parser.add_argument(
        "--gpu-type", default="nvidia.com/gpu", help="the accelerator's Kubernetes resource name (default: %(default)s)"
    )
    compile_parser.add_argument(
        "--trainer-cpu",
        type=float,
        help=f"CPUs the Trainer requests (default: {TRAINER_CPU_PER_GPU} per GPU, what feeds "
        f"one GPU; {TRAINER_CPU_WITHOUT_GPUS} without GPUs)",
    )
    compile_parser.add_argument(
        "--trainer-memory",
        type=float,
        default=32,
        metavar="GB",
        help="memory the Trainer requests, in GB (default: %(default)s)",
    )
    compile_parser.add_argument(
        "--kfp-version",
        default=releases.ANY_RELEASE,
        metavar="VERSION",
        help=f"the KFP release of the cluster: {', '.join(releases.RELEASES)} (default: "
        f"%(default)s, a package every one of them runs)",
    )
    compile_parser.add_argument(
        "--namespace",
        help="the profile namespace the runs go to on multi-user Kubeflow: "
        "its pipeline root and the store prefixes its key may use",
    )
    compile_parser.add_argument(
        "--launcher-config",
        metavar="FILE",
        help="the namespace's kfp-launcher ConfigMap (`kubectl -n NS get configmap "
        "kfp-launcher -o yaml`): its pipeline root and store providers",
    )
    compile_parser.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="the S3 endpoint the pods reach for s3:// and minio:// paths that the "
        "kfp-launcher ConfigMap has no providers entry for (default: the release's "
        "built-in store for minio://, AWS S3 for s3://)",
    )
    compile_parser.add_argument(
        "--s3-secret",
        metavar="NAME[:ACCESS_KEY_KEY:SECRET_KEY_KEY]",
        help=f"the Kubernetes secret holding the credentials for those paths (default: "
        f"Kubeflow's, {releases.STORE_SECRET}; the pods' own, e.g. IRSA, for s3:// "
        f"without --s3-endpoint; '' for the pods' own)",
    )
    pods.add_arguments(compile_parser)
    options.add_pipeline_arguments(compile_parser, pipeline_root="", config="gpu-r50fpn")

    local_parser = sub.add_parser(
        "run-local",
        help="run a compiled package with KFP's local orchestrator (kfp.local, each step in the package's image)",
    )
    local_parser.add_argument("--package", required=True, help="the .yaml written by `kubeflow compile`")
    local_parser.add_argument(
        "--pipeline-root",
        default="outputs/kfp-local",
        help="kfp.local's pipeline root, where the steps' artifacts go (default: %(default)s)",
    )
    local_parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="arguments",
        help="a runtime parameter, as for submit (repeatable)",
    )

    serving_manifest.add_arguments(
        sub.add_parser(
            "serving-manifest", help="a KServe InferenceService for the models the pipeline pushes to a serving folder"
        )
    )
    submit_parser = sub.add_parser("submit", help="create a run of a compiled package on a KFP endpoint")
    submit_parser.add_argument("--host", required=True, help="the KFP API endpoint, e.g. http://localhost:8080")
    submit_parser.add_argument("--package", required=True, help="the .yaml written by `kubeflow compile`")
    submit_parser.add_argument("--experiment", help="experiment name (default: KFP's Default)")
    submit_parser.add_argument("--run-name")
    submit_parser.add_argument(
        "--namespace",
        help="the profile namespace on multi-user Kubeflow (default: the one the package was compiled for)",
    )
    submit_parser.add_argument(
        "--launcher-config",
        metavar="FILE",
        help="the namespace's kfp-launcher ConfigMap, to check the root the run will use",
    )
    submit_parser.add_argument(
        "--token",
        help="a bearer token (Dex, or `kubectl create token` for a service account with access to the namespace)",
    )
    submit_parser.add_argument("--token-file", metavar="PATH", help="a file holding the bearer token")
    submit_parser.add_argument(
        "--cookie",
        metavar="NAME=VALUE",
        help="a session cookie: oauth2_proxy_kubeflow=... (Kubeflow 1.9+) or authservice_session=... (up to 1.8)",
    )
    submit_parser.add_argument("--ca-cert", metavar="PEM", help="the CA that signed the endpoint's TLS certificate")
    submit_parser.add_argument("--insecure", action="store_true", help="do not verify the endpoint's TLS certificate")
    submit_parser.add_argument("--no-cache", action="store_true", help="run every step, even if cached")
    submit_parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="arguments",
        help=f"a runtime parameter: {DATASET_PARAMETER}=gs://... or "
        f"{TRAIN_ARGS_PARAMETER}='{{\"num_steps\": 20000}}' (repeatable)",
    )


def main(args: argparse.Namespace) -> int:
    try:
        if args.kubeflow_command == "compile":
            if args.gpus < 0:
                raise KubeflowError("--gpus must be 0 or more")
            target = stores.target(args)
            args.pipeline_root = target.pipeline_root
            config = compile_config(args)
            resources = step_resources(args.gpus, args.trainer_cpu or trainer_cpu(args.gpus), args.trainer_memory)
            pod_settings, scratch = pods.settings(
                args, {s for s, r in resources.items() if r.gpus}, target.release, target.pipeline_root
            )
            print(starting_point(config.training))
            print(submission.root_line(target.pipeline_root, target.root_given, target.namespace))
            print(scratch, *target.notes, sep="\n")
            path = compile_pipeline(
                config,
                image=args.image,
                output=args.output,
                resources=resources,
                gpu_type=args.gpu_type,
                target=target,
                pod_settings=pod_settings,
            )
            print(
                f"wrote {path}: check it with `maskrcnn-tfx kubeflow run-local --package {path}`, then submit "
                f"it with `maskrcnn-tfx kubeflow submit --host URL --package {path}`"
            )
        elif args.kubeflow_command == "serving-manifest":
            serving_manifest.main(args)
        elif args.kubeflow_command == "run-local":
            started = time.monotonic()
            result = local_run.run_local(
                args.package, args.pipeline_root, runtime_arguments(args.arguments, args.package), DATASET_PARAMETER
            )
            print(
                f"kfp.local ran {len(result.steps)} steps ({', '.join(result.steps)}) in "
                f"{time.monotonic() - started:.0f} s into {result.run_dir}"
            )
            print(f"pushed: {result.pushed.get('pushed_destination') or 'nothing (not blessed)'}")
        else:
            run_id = submission.submit(
                args.host,
                args.package,
                experiment=args.experiment,
                run_name=args.run_name,
                arguments=runtime_arguments(args.arguments, args.package),
                namespace=args.namespace,
                enable_caching=False if args.no_cache else None,
                auth=submission.credentials(args),
                launcher=stores.read_launcher_config(args.launcher_config),
            )
            print(f"submitted run {run_id} to {args.host}")
    except (
        KubeflowError,
        LocalRunError,
        stores.StoreError,
        pods.PodOptionError,
        launcher_config.LauncherConfigError,
    ) as error:
        print(f"kubeflow {args.kubeflow_command}: {error}", file=sys.stderr)
        return 1
    return 0
