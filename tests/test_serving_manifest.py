"""`kubeflow serving-manifest`: the KServe InferenceService for a serving folder, reaching the store as the
pipeline's steps do, accepted by the kserve SDK's models."""

from __future__ import annotations

import pytest
import yaml

import kfp_install
from components.serving_check.server import import_kserve
from pipeline import cli

NS = "team-a"
SERVING = f"minio://mlpipeline/private/{NS}/serving/speakers"


def _compile(tmp_path, *extra) -> tuple[list[dict], int]:
    output = tmp_path / "isvc.yaml"
    code = cli.main(
        ["kubeflow", "serving-manifest", "--name", "speakers", "--namespace", NS, "--output", str(output), *extra]
    )
    return (list(yaml.safe_load_all(output.read_text())) if output.exists() else []), code


def _read(data, type_name: str):
    """`data` built into the kserve SDK's models (kubernetes' for the types they share), field by field: a field
    the model does not have, or a value its constructor refuses, fails."""
    from kubernetes.client import models as k8s

    if type_name.startswith("list["):
        return [_read(value, type_name[5:-1]) for value in data]
    model = getattr(import_kserve().models, type_name, None) or getattr(k8s, type_name, None)
    if model is None:  # str, int, dict(str, str), object
        return data
    fields = {json_name: name for name, json_name in model.attribute_map.items()}
    assert set(data) <= set(fields), f"{type_name}: no field {sorted(set(data) - set(fields))}"
    return model(**{fields[key]: _read(value, model.openapi_types[fields[key]]) for key, value in data.items()})


def _as_kserve_model(document: dict):
    return _read(document, "V1beta1InferenceService")


def test_a_minio_serving_folder_is_served_from_s3_with_the_namespaces_store_identity(tmp_path, capsys):
    configmap = tmp_path / "kfp-launcher.yaml"
    configmap.write_text(kfp_install.launcher_configmap("http://127.0.0.1:9000", NS))
    documents, code = _compile(tmp_path, "--serving-dir", SERVING, "--launcher-config", str(configmap))
    assert code == 0
    account, isvc = documents
    assert account["kind"] == "ServiceAccount" and account["secrets"] == [{"name": "speakers-s3"}]
    model = _as_kserve_model(isvc)
    assert model.kind == "InferenceService" and model.metadata.namespace == NS
    predictor = model.spec.predictor
    assert predictor.service_account_name == account["metadata"]["name"]
    # the storage initializer copies every key under the URI's path: a trailing '/' keeps speakers-old/ out
    assert predictor.model.storage_uri == f"s3://mlpipeline/private/{NS}/serving/speakers/"
    assert predictor.model.model_format.name == "tensorflow" and predictor.model.resources is None
    printed = capsys.readouterr().out
    assert f"kubectl -n {NS} create secret generic speakers-s3 " in printed
    assert f"get secret {kfp_install.SECRET} -o jsonpath='{{.data.accesskey}}'" in printed
    assert (
        "annotate secret speakers-s3 serving.kserve.io/s3-endpoint=127.0.0.1:9000 "
        "serving.kserve.io/s3-usehttps=0 serving.kserve.io/s3-region=minio"
    ) in printed


def test_an_s3_folder_without_providers_uses_the_pods_credentials_and_gpus_are_limits(tmp_path, capsys):
    documents, code = _compile(tmp_path, "--serving-dir", "s3://models/speakers", "--gpus", "1")
    assert code == 0
    [isvc] = documents  # no ServiceAccount: IRSA or the node's role
    model = _as_kserve_model(isvc)
    assert model.spec.predictor.service_account_name is None
    assert model.spec.predictor.model.resources.limits == {"nvidia.com/gpu": "1"}
    assert "No Secret" in capsys.readouterr().out


@pytest.mark.parametrize(
    "options, reason",
    [
        (["--serving-dir", "/local/serving"], "KServe copies a model from s3://"),
        (["--serving-dir", SERVING], "give --kfp-version"),
        (["--serving-dir", "s3://models/x", "--name", "Speakers"], "lower-case letters"),
    ],
)
def test_what_kserve_cannot_serve_is_refused_in_words(tmp_path, capsys, options, reason):
    code = cli.main(
        [
            "kubeflow",
            "serving-manifest",
            "--name",
            "speakers",
            "--namespace",
            NS,
            "--output",
            str(tmp_path / "x.yaml"),
            *options,
        ]
    )
    assert code == 1 and reason in capsys.readouterr().err
