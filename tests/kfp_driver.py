"""KFP's drivers as the tests reproduce them, by each release's own source, and a compiled package to give them:
each release's protos (2.2.0's, 2.5.0's and 2.17.0's pipeline_spec.proto rebuilt from today's, which is 2.17.0's
field for field), KFP 2.2.0's strict parse of every step and 2.17.0's, for tests/test_kfp_*.py and the contract
run's backend (tests/kfp_backend.py). The API server's parse of the whole package with those protos:
kfp_apiserver.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from pipeline import cli

DATA = Path(__file__).parent / "data"
IMAGE = "registry.example.com/maskrcnn-tfx:1"
NS = "team-a"


def compile_package(tmp_path, *extra) -> tuple[dict, dict, str]:
    """`kubeflow compile` of the default pipeline with `extra` options: (spec, platform spec, the YAML)."""
    path = tmp_path / "pipeline.yaml"
    assert (
        cli.main(
            [
                "kubeflow",
                "compile",
                "--image",
                IMAGE,
                "--output",
                str(path),
                "--init-checkpoint",
                "none",
                "--gpus",
                "1",
                *extra,
            ]
        )
        == 0
    )
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs[0], (docs[1] if len(docs) > 1 else {}), path.read_text()


# ---- The protos of each release. Today's pipeline_spec.proto (kfp-pipeline-spec 2.17.x) has every field of
# api/v2alpha1/pipeline_spec.proto at tag 2.17.0 and no other. 2.2.0's go.mod pins api at 58ce09e07d03 and
# kubernetes_platform at 8b2a099e8c9f; the fields today's has that api/v2alpha1/pipeline_spec.proto at 58ce09e07d03
# lacks (PipelineConfig, only SinglePlatformSpec.pipelineConfig's type, is not there either):
ABSENT_AT_2_2_0 = {
    "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec": (
        "resource_cpu_limit",
        "resource_cpu_request",
        "resource_memory_limit",
        "resource_memory_request",
    ),
    "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec.AcceleratorConfig": (
        "resource_count",
        "resource_type",
    ),
    "PipelineDeploymentConfig.ImporterSpec": ("download_to_workspace",),
    "ComponentInputsSpec.ParameterSpec": ("literals",),
    "ComponentSpec": ("single_platform_specs", "task_config_passthroughs"),
    "PipelineTaskSpec.CachingOptions": ("cache_key",),
    "RuntimeArtifact": ("custom_path",),
    "SinglePlatformSpec": ("config", "pipelineConfig", "platform"),
}
# 2.5.0's backend/go.mod replaces api with ./api: api/v2alpha1/pipeline_spec.proto at tag 2.5.0 lacks these, and
# its PipelineConfig has other fields (semaphore_key = 1, mutex_name = 2, int32 resource_ttl = 3).
ABSENT_AT_2_5_0 = {
    "PipelineDeploymentConfig.ImporterSpec": ("download_to_workspace",),
    "ComponentInputsSpec.ParameterSpec": ("literals",),
    "ComponentSpec": ("task_config_passthroughs",),
    "RuntimeArtifact": ("custom_path",),
    "PipelineConfig": (
        "resource_ttl_on_completion",
        "workspace",
        "resource_ttl_on_success",
        "resource_ttl_on_failure",
        "active_deadline_seconds",
    ),
}
OWN_AT_2_5_0 = {"PipelineConfig": (("semaphore_key", 9), ("mutex_name", 9), ("resource_ttl", 5))}  # name, type


def _message(messages, path: str):
    name, _, rest = path.partition(".")
    found = next(m for m in messages if m.name == name)
    return _message(found.nested_type, rest) if rest else found


def _add_file(pool: descriptor_pool.DescriptorPool, file, edit=None) -> None:
    """`file` (a FileDescriptor) and its dependencies into `pool`, each passed through `edit` first."""
    for dependency in file.dependencies:
        _add_file(pool, dependency, edit)
    try:
        pool.FindFileByName(file.name)
    except KeyError:
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        if edit:
            edit(file, proto)
        pool.Add(proto)


def pipeline_spec_pool(absent: dict, own: dict | None = None) -> descriptor_pool.DescriptorPool:
    """Today's pipeline_spec.proto less the fields `absent` names, with the fields `own` adds (numbered from 1)."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    def as_at_tag(file, proto):
        if file is pipeline_spec_pb2.DESCRIPTOR:
            for path, names in absent.items():
                message = _message(proto.message_type, path)
                kept = [f for f in message.field if f.name not in names]
                assert len(kept) == len(message.field) - len(names), path  # every field named is there today
                used = sorted({f.oneof_index for f in kept if f.HasField("oneof_index")})  # `optional`'s own go
                oneofs = [message.oneof_decl[i] for i in used]
                for f in kept:
                    if f.HasField("oneof_index"):
                        f.oneof_index = used.index(f.oneof_index)
                del message.field[:], message.oneof_decl[:]
                message.field.extend(kept)
                message.oneof_decl.extend(oneofs)
            for path, fields in (own or {}).items():
                for number, (name, kind) in enumerate(fields, 1):
                    camel = re.sub(r"_(.)", lambda m: m[1].upper(), name)
                    _message(proto.message_type, path).field.add(
                        name=name, number=number, type=kind, label=1, json_name=camel
                    )

    pool = descriptor_pool.DescriptorPool()
    _add_file(pool, pipeline_spec_pb2.DESCRIPTOR, as_at_tag)
    return pool


def _pool_2_2_0() -> descriptor_pool.DescriptorPool:
    pool = pipeline_spec_pool(ABSENT_AT_2_2_0)
    pool.Add(_kubernetes_2_2_0())
    return pool


def _kubernetes_2_2_0() -> descriptor_pb2.FileDescriptorProto:
    """kubernetes_platform/proto/kubernetes_executor_config.proto at 8b2a099e8c9f: the messages the package may
    write, with their field numbers (no empty_dir_mounts, no *_parameter or *_json fields); the others left out."""
    k8s = descriptor_pb2.FileDescriptorProto(
        name="kubernetes_executor_config.proto", package="kfp_kubernetes", syntax="proto3"
    )
    string, message, optional, repeated = 9, 11, 1, 3

    def add(owner, name, fields):
        added = owner.add(name=name)
        for number, (field, kind, label, type_name) in enumerate(fields, 1):
            if field:
                json_name = field.split("_")[0] + "".join(w.title() for w in field.split("_")[1:])
                added.field.add(
                    name=field,
                    number=number,
                    type=kind,
                    label=label,
                    json_name=json_name,
                    **({"type_name": type_name} if type_name else {}),
                )
        return added

    secret = add(
        k8s.message_type,
        "SecretAsEnv",
        [
            ("secret_name", string, optional, None),
            ("key_to_env", message, repeated, ".kfp_kubernetes.SecretAsEnv.SecretKeyToEnvMap"),
        ],
    )
    add(
        secret.nested_type,
        "SecretKeyToEnvMap",
        [("secret_key", string, optional, None), ("env_var", string, optional, None)],
    )
    selector = add(
        k8s.message_type, "NodeSelector", [("labels", message, repeated, ".kfp_kubernetes.NodeSelector.LabelsEntry")]
    )
    entry = add(
        selector.nested_type, "LabelsEntry", [("key", string, optional, None), ("value", string, optional, None)]
    )
    entry.options.map_entry = True
    add(k8s.message_type, "ImagePullSecret", [("secret_name", string, optional, None)])
    add(k8s.message_type, "Toleration", [(f, string, optional, None) for f in ("key", "operator", "value", "effect")])
    fields = [None] * 12
    fields[1] = ("secret_as_env", message, repeated, ".kfp_kubernetes.SecretAsEnv")
    fields[3] = ("node_selector", message, optional, ".kfp_kubernetes.NodeSelector")
    fields[5] = ("image_pull_secret", message, repeated, ".kfp_kubernetes.ImagePullSecret")
    fields[11] = ("tolerations", message, repeated, ".kfp_kubernetes.Toleration")
    add(k8s.message_type, "KubernetesExecutorConfig", [f or (None, 0, 0, None) for f in fields])
    return k8s


def _kubernetes_2_17_0() -> descriptor_pool.DescriptorPool:
    """2.17.0's own kubernetes_executor_config.proto (tests/data), on today's pipeline_spec.proto."""
    from google.protobuf import struct_pb2, text_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    pool = descriptor_pool.DescriptorPool()
    _add_file(pool, struct_pb2.DESCRIPTOR)
    _add_file(pool, pipeline_spec_pb2.DESCRIPTOR)
    pool.Add(
        text_format.Parse(
            (DATA / "kfp-2.17.0-kubernetes_executor_config.pbtxt").read_text(), descriptor_pb2.FileDescriptorProto()
        )
    )
    return pool


DRIVER_MESSAGES = (
    "ml_pipelines.ComponentSpec",
    "ml_pipelines.PipelineTaskSpec",
    "ml_pipelines.PipelineDeploymentConfig.PipelineContainerSpec",
    "kfp_kubernetes.KubernetesExecutorConfig",
)


def driver_parse(spec: dict, platform: dict, tag: str = "2.2.0") -> None:
    """What the release's driver parses of every step: --component, --task, --container, --kubernetes_config.
    2.2.0's jsonpb refuses an unknown field; 2.17.0's parser skips it (util.UnmarshalString), so the check there
    is that every field written is one 2.17.0 reads (nothing skipped)."""
    pool = _pool_2_2_0() if tag == "2.2.0" else _kubernetes_2_17_0()
    kinds = {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name)) for name in DRIVER_MESSAGES}
    executors = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    for task in spec["root"]["dag"]["tasks"].values():
        component = spec["components"][task["componentRef"]["name"]]
        label = component["executorLabel"]
        for kind, value in zip(
            DRIVER_MESSAGES,
            (component, task, spec["deploymentSpec"]["executors"][label]["container"], executors.get(label, {})),
            strict=True,
        ):
            json_format.Parse(json.dumps(value), kinds[kind](), ignore_unknown_fields=False)


def driver_2_2_0_parse(spec: dict, platform: dict) -> None:
    driver_parse(spec, platform, "2.2.0")
