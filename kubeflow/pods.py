"""Where the steps' pods run and what they get besides the store's secret, as the platform spec's
kubernetes_platform `KubernetesExecutorConfig` (a second YAML document of the package): `tolerations` and
`nodeSelector` for the steps that take GPUs, `imagePullSecret` for every step, and a scratch volume sized for what
KFP's launcher copies into the pod of each step that receives (or writes) the Examples or the model.

Every field is one the proto of KFP 2.2.0 has (kubernetes_platform at 8b2a099e8c9f) and every later driver still
reads: tolerations' key/operator/value/effect, nodeSelector.labels and imagePullSecret.secretName
(backend/src/v2/driver/driver.go near lines 510-533 and 604 at 2.2.0; k8s.go near 194-297 and 492-516 at 2.17.0,
used when the *_json / secret_name_parameter fields are absent).

Scratch. The launcher downloads every input artifact under the pipeline root to its local path (/minio/..., /s3/...,
/gcs/...) before the command (component/launcher_v2.go downloadArtifacts), into the pod's emptyDirs from 2.3.0
(argocompiler/container.go), on the node's disk. No release can request `ephemeral-storage`: ResourceSpec has CPU,
memory and accelerators only (api/v2alpha1/pipeline_spec.proto at 2.2.0 and 2.17.0). A `genericEphemeralVolume`
(every release) would reserve a claim, but a provisioned volume's root belongs to root unless the pod has an
fsGroup, which no release's platform spec sets, so the launcher, as the image's user, could not write there. The
package mounts an `emptyDirMounts` entry (kubernetes_platform d911c8b73b49, drivers from 2.3.0) at the pipeline
root's local path with `sizeLimit`: any user may write in it, and the kubelet evicts the pod, naming the volume,
when the copies outgrow it, rather than filling the node. KFP 2.2.0's strict driver refuses that field, so a
package for 2.2.0 (or `--kfp-version any`) has none; docs/kubeflow.md gives the node disk a run needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re

from kubeflow import releases

SCRATCH_VOLUME = "maskrcnn-scratch"
LOCAL_ROOTS = {"gs": "/gcs", "s3": "/s3", "minio": "/minio"}  # launcher_v2.go LocalPathForURI
# The artifacts the launcher copies in whole into a step's pod, or uploads from it: TFRecords and SavedModels.
LARGE_ARTIFACTS = ("tfx.Examples", "tfx.Model")
# Examples per byte of dataset: 0.93 measured (`ingest` of the 1280x960 sample, 11.9 MB -> 11.1 MB),
# 1.5 for photos with more instances (a PNG mask each). The model: an allowance for the SavedModel and its assets.
# Doubled for the step's own outputs, staged in the same folder, and the evaluator's baseline download.
EXAMPLES_PER_DATASET_BYTE = 1.5
MODEL_GB = 1.0
DEFAULT_SCRATCH_GB = 20  # when compile cannot measure the dataset (a URI): give --scratch-gb
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")  # core/v1 TaintEffect
# k8s.io/apimachinery validation: IsQualifiedName (a label or taint key), IsValidLabelValue, IsDNS1123Subdomain.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
QUALIFIED_NAME = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}")
LABEL_VALUE = re.compile(rf"({_NAME})?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class PodOptionError(ValueError):
    """A placement or scratch option Kubernetes would refuse; the message names the option and why."""


@dataclasses.dataclass(frozen=True)
class PodSettings:
    gpu_steps: frozenset[str]  # component ids that take GPUs
    tolerations: tuple[dict, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    image_pull_secret: str = ""
    scratch_gb: int = 0  # 0: no scratch mount
    scratch_path: str = ""  # the pipeline root's local path in the pod

    def executor_config(self, step: str, artifacts: dict) -> dict:
        """The KubernetesExecutorConfig fields of one step (its component id; its input and output artifacts'
        definitions)."""
        config = {}
        if step in self.gpu_steps:
            if self.tolerations:
                config["tolerations"] = [dict(t) for t in self.tolerations]
            if self.node_selector:
                config["nodeSelector"] = {"labels": dict(self.node_selector)}
        if self.image_pull_secret:
            config["imagePullSecret"] = [{"secretName": self.image_pull_secret}]
        if self.scratch_gb and stages_large_artifacts(artifacts):
            config["emptyDirMounts"] = [
                {"volumeName": SCRATCH_VOLUME, "mountPath": self.scratch_path, "sizeLimit": f"{self.scratch_gb}G"}
            ]
        return config


def stages_large_artifacts(artifacts: dict) -> bool:
    return any(title in str(spec.get("artifactType", {})) for spec in artifacts.values() for title in LARGE_ARTIFACTS)


def parse_toleration(value: str) -> dict:
    """KEY[=VALUE]:EFFECT as a core/v1 Toleration: Equal with a value, Exists without."""
    key_value, colon, effect = value.rpartition(":")
    key, equals, label = key_value.partition("=")
    if not colon or effect not in EFFECTS:
        raise PodOptionError(
            f"--gpu-toleration {value}: expected KEY[=VALUE]:EFFECT with EFFECT one of "
            f"{', '.join(EFFECTS)}, e.g. nvidia.com/gpu:NoSchedule"
        )
    if not QUALIFIED_NAME.fullmatch(key):
        raise PodOptionError(
            f"--gpu-toleration {value}: {key!r} is not a taint key Kubernetes accepts (a name of "
            f"at most 63 letters, digits, '-', '_', '.', optionally after a DNS prefix and '/')"
        )
    if not LABEL_VALUE.fullmatch(label):
        raise PodOptionError(
            f"--gpu-toleration {value}: {label!r} is not a taint value Kubernetes accepts (at "
            f"most 63 letters, digits, '-', '_', '.', beginning and ending alphanumeric)"
        )
    return (
        {"key": key, "operator": "Equal", "value": label, "effect": effect}
        if equals
        else {"key": key, "operator": "Exists", "effect": effect}
    )


def parse_node_label(value: str) -> tuple[str, str]:
    label, equals, label_value = value.partition("=")
    if not equals or not QUALIFIED_NAME.fullmatch(label) or not LABEL_VALUE.fullmatch(label_value):
        raise PodOptionError(
            f"--node-selector {value}: expected LABEL=VALUE with a Kubernetes label key and value, "
            f"e.g. nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB"
        )
    return label, label_value


def local_root(pipeline_root: str) -> str:
    """Where the launcher stages the root's artifacts in the pod ('' for a root it does not stage)."""
    scheme, separator, rest = pipeline_root.partition("://")
    return f"{LOCAL_ROOTS[scheme]}/{rest.rstrip('/')}" if separator and scheme in LOCAL_ROOTS else ""


def dataset_bytes(dataset: str) -> int | None:
    """The dataset folder's size when compile sees it here (a local path); None for a URI."""
    if not dataset or "://" in dataset or not os.path.isdir(dataset):
        return None
    return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(dataset) for name in names)


def scratch_for(size: int | None) -> int:
    """GB of scratch for a step that receives the Examples and the model, from the dataset's bytes."""
    if size is None:
        return DEFAULT_SCRATCH_GB
    return math.ceil(2 * (EXAMPLES_PER_DATASET_BYTE * size / 1e9 + MODEL_GB))


def settings(
    args: argparse.Namespace, gpu_steps: set[str], release: releases.Release | None, pipeline_root: str
) -> tuple[PodSettings, str]:
    """The steps' pod settings from the options, and a line saying the scratch each step gets."""
    if (args.gpu_toleration or args.node_selector) and not gpu_steps:
        option = "--gpu-toleration" if args.gpu_toleration else "--node-selector"
        raise PodOptionError(f"{option}: no step takes GPUs (--gpus 0); it places only the steps that do")
    if args.image_pull_secret and not DNS_SUBDOMAIN.fullmatch(args.image_pull_secret):
        raise PodOptionError(
            f"--image-pull-secret {args.image_pull_secret}: not a Kubernetes secret name "
            f"(lower-case letters, digits, '-' and '.')"
        )
    if args.scratch_gb is not None and args.scratch_gb <= 0:
        raise PodOptionError(f"--scratch-gb {args.scratch_gb}: must be 1 or more (GB)")
    measured = dataset_bytes(args.dataset)
    scratch = args.scratch_gb or scratch_for(measured)
    basis = (
        "--scratch-gb"
        if args.scratch_gb
        else (
            f"{measured / 1e9:.2f} GB of dataset"
            if measured is not None
            else "a default: the dataset is not measurable here; give --scratch-gb"
        )
    )
    path = local_root(pipeline_root)
    mounted = bool(path) and releases.scratch_mounts(release)
    line = f"scratch: {scratch} GB for each step that receives or writes the Examples or the model ({basis}), " + (
        f"an emptyDir at {path} with that sizeLimit"
        if mounted
        else "not mountable on this release (KFP 2.2.0's driver refuses emptyDirMounts; give --kfp-version): "
        "the nodes' disk must hold it"
    )
    return PodSettings(
        frozenset(gpu_steps),
        tuple(parse_toleration(t) for t in args.gpu_toleration),
        tuple(parse_node_label(n) for n in args.node_selector),
        args.image_pull_secret or "",
        scratch if mounted else 0,
        path,
    ), line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gpu-toleration",
        action="append",
        default=[],
        metavar="KEY[=VALUE]:EFFECT",
        help="a taint of your GPU nodes the steps that take GPUs tolerate, e.g. nvidia.com/gpu:NoSchedule (repeatable)",
    )
    parser.add_argument(
        "--node-selector",
        action="append",
        default=[],
        metavar="LABEL=VALUE",
        help="a node label the steps that take GPUs require, e.g. "
        "nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB (repeatable)",
    )
    parser.add_argument(
        "--image-pull-secret",
        metavar="NAME",
        help="the namespace's secret for pulling --image from a private registry (every step)",
    )
    parser.add_argument(
        "--scratch-gb",
        type=int,
        metavar="GB",
        help=f"node disk for each step that receives or writes the Examples or the model (default: from the "
        f"dataset's size when it is a local folder, else {DEFAULT_SCRATCH_GB})",
    )
