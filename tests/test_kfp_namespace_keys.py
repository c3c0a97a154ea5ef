"""The namespace key of each release (tests/kfp_install.py namespace_policy: sync.py at 2.15.0, 2.16.0 and 2.17.0)
against what the Pusher and MaskEvaluator do on the serving folder (components/util/serving.py: they list its
versions; a push uploads the next one), on moto's S3 with IAM enforced; and compile's refusal of a serving folder
that the key of a release with no listing would have to list."""

from __future__ import annotations

import pytest
import s3fs

import kfp_install
from components.util import serving
from kfp_driver import IMAGE
from pipeline import cli
from storage import fileio

NS = "team-a"
BASE = f"minio://mlpipeline/private/{NS}/serving/kettles"


@pytest.fixture()
def as_namespace(monkeypatch, request):
    """The namespace's key of the release `request.param`, in the environment the steps' S3 client reads."""
    with kfp_install.store(NS, ("mlpipeline",), request.param) as store:
        store["fs"].pipe(f"{BASE.partition('://')[2]}/1/{serving.SAVED_MODEL_FILE}", b"model 1")
        key, secret = store["keys"][NS]
        for name, value in {
            "AWS_ENDPOINT_URL_S3": store["endpoint"],
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "minio",
        }.items():
            monkeypatch.setenv(name, value)
        s3fs.S3FileSystem.clear_instance_cache()
        yield store
        s3fs.S3FileSystem.clear_instance_cache()


def _version(tmp_path) -> str:
    (tmp_path / "v" / "variables").mkdir(parents=True)
    (tmp_path / "v" / serving.SAVED_MODEL_FILE).write_bytes(b"model 2")
    return str(tmp_path / "v")


@pytest.mark.parametrize("as_namespace", ["2.17.0"], indirect=True)
def test_2_17_0s_key_lists_the_versions_pushes_the_next_and_deletes(as_namespace, tmp_path):
    assert serving.served_versions(BASE) == [f"{BASE}/1"]
    assert serving.publish(_version(tmp_path), BASE, 1) == f"{BASE}/2"
    assert serving.newest_version(BASE) == f"{BASE}/2"
    fileio.remove_tree(f"{BASE}/2")  # one DeleteObject a key (storage/fileio.py)
    assert serving.served_versions(BASE) == [f"{BASE}/1"]
    assert not as_namespace["fs"].exists(f"{BASE.partition('://')[2]}/2/{serving.SAVED_MODEL_FILE}")


@pytest.mark.parametrize("as_namespace", ["2.15.0", "2.16.0"], indirect=True)
def test_2_15_0s_key_may_not_list_the_versions_nor_delete(as_namespace, tmp_path):
    with pytest.raises(PermissionError):
        serving.served_versions(BASE)  # the Pusher's and MaskEvaluator's first look at the folder
    fileio.write_text(f"{BASE}/2/{serving.SAVED_MODEL_FILE}", "written")  # s3:PutObject is allowed
    assert fileio.read_text(f"{BASE}/2/{serving.SAVED_MODEL_FILE}") == "written"
    with pytest.raises(PermissionError):
        fileio.remove_tree(f"{BASE}/2")  # its listing refused
    with pytest.raises(PermissionError):
        as_namespace["connect"](as_namespace["endpoint"], *as_namespace["keys"][NS]).rm_file(
            f"{BASE.partition('://')[2]}/2/{serving.SAVED_MODEL_FILE}"
        )  # and the delete itself


@pytest.mark.parametrize("version", ["2.15.0", "2.16.0", "any"])
def test_compile_refuses_a_serving_folder_the_namespace_key_could_not_list(tmp_path, capsys, version):
    argv = [
        "kubeflow",
        "compile",
        "--image",
        IMAGE,
        "--output",
        str(tmp_path / "p.yaml"),
        "--init-checkpoint",
        "none",
        "--namespace",
        NS,
        "--kfp-version",
        version,
        "--dataset",
        f"minio://mlpipeline/private/{NS}/datasets/d",
        "--serving-dir",
        BASE,
        "--s3-endpoint",
        "http://minio-service.kubeflow:9000",
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"--serving-dir {BASE}" in err and "no bucket listing policy" in err and "--kfp-version 2.17.0" in err
    assert not (tmp_path / "p.yaml").exists()
