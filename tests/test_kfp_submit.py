"""`kubeflow submit` against a loopback HTTP server that answers as Kubeflow Pipelines' REST API (v2beta1) does
and records what arrives: credentials, namespace, the run's package and pipeline root.

The answers follow KFP's API as the image's kfp_server_api (kfp 2.16) reads it: GET /apis/v2beta1/healthz,
GET /apis/v2beta1/experiments (filtered by name), POST /apis/v2beta1/runs; an authenticating proxy in front of
it answers 401/403 without a valid credential, or redirects to its login page (oauth2-proxy, Dex).
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from typing import ClassVar

import pytest

from pipeline import cli

TOKEN = "eyJhbGciOiJSUzI1NiJ9.token-of-the-test"


class KfpApi(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []  # every request of the test, shared by the server's handler instances
    refuse_with: int | None = None  # a status every request gets (an authenticating proxy's answer)

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, status: int, body: dict | str, content_type: str = "application/json", **headers):
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str):
        url = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        type(self).requests.append(
            {
                "method": method,
                "path": url.path,
                "query": urllib.parse.parse_qs(url.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        if url.path.startswith("/oauth2/"):
            return self._answer(200, "<html><body>Sign in with Dex</body></html>", "text/html")
        if self.refuse_with in (401, 403):
            return self._answer(self.refuse_with, {"error": "Unauthorized", "code": 16, "message": "Unauthorized"})
        if self.refuse_with == 302:
            return self._answer(302, "", "text/html", Location="/oauth2/start?rd=" + url.path)
        if url.path == "/apis/v2beta1/healthz":
            return self._answer(200, {"multi_user": True})
        if url.path == "/apis/v2beta1/experiments" and method == "GET":
            return self._answer(
                200,
                {
                    "experiments": [{"experiment_id": "exp-7", "display_name": "maskrcnn", "namespace": "team-a"}],
                    "total_size": 1,
                },
            )
        if url.path == "/apis/v2beta1/runs" and method == "POST":
            return self._answer(
                200,
                {
                    "run_id": "run-42",
                    "experiment_id": body["experiment_id"],
                    "display_name": body["display_name"],
                    "state": "PENDING",
                },
            )
        return self._answer(404, {"error": f"no {method} {url.path}", "code": 5})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")


@pytest.fixture
def kfp_api():
    KfpApi.requests, KfpApi.refuse_with = [], None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KfpApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"host": f"http://127.0.0.1:{server.server_port}", "api": KfpApi}
    server.shutdown()


@pytest.fixture(scope="module")
def cluster_package(tmp_path_factory):
    path = tmp_path_factory.mktemp("submit") / "pipeline.yaml"
    assert (
        cli.main(
            [
                "kubeflow",
                "compile",
                "--image",
                "registry.example.com/maskrcnn-tfx:1",
                "--output",
                str(path),
                "--pipeline-root",
                "minio://mlpipeline/v2/artifacts",
                "--dataset",
                "s3://data/kettles",
                "--serving-dir",
                "s3://models/kettles",
                "--s3-endpoint",
                "http://minio-service.kubeflow:9000",
                "--init-checkpoint",
                "s3://models/resnet50_imagenet/ckpt-28080",
            ]
        )
        == 0
    )
    return path


def _submit(kfp_api, package, *extra) -> int:
    return cli.main(
        ["kubeflow", "submit", "--host", kfp_api["host"], "--package", str(package), "--experiment", "maskrcnn", *extra]
    )


def test_a_token_is_sent_as_a_bearer_header_with_the_namespace_and_the_packages_pipeline_root(
    kfp_api, cluster_package, capsys
):
    assert _submit(kfp_api, cluster_package, "--token", TOKEN, "--namespace", "team-a") == 0
    assert "submitted run run-42" in capsys.readouterr().out
    requests = kfp_api["api"].requests
    assert requests and all(r["headers"].get("authorization") == f"Bearer {TOKEN}" for r in requests)
    listed = next(r for r in requests if r["path"] == "/apis/v2beta1/experiments")
    assert listed["query"]["namespace"] == ["team-a"]
    run = next(r for r in requests if r["method"] == "POST")["body"]
    assert run["experiment_id"] == "exp-7"
    assert run["runtime_config"]["pipeline_root"] == "minio://mlpipeline/v2/artifacts"
    spec = run["pipeline_spec"]
    assert spec["pipeline_spec"]["pipelineInfo"]["name"] == "maskrcnn-tfx"  # with its platform spec beside it
    assert "secretAsEnv" in json.dumps(spec["platform_spec"])


def test_a_session_cookie_is_sent_as_the_cookie_header(kfp_api, cluster_package):
    assert (
        _submit(kfp_api, cluster_package, "--cookie", "oauth2_proxy_kubeflow=c2Vzc2lvbg", "--namespace", "team-a") == 0
    )
    assert {r["headers"].get("cookie") for r in kfp_api["api"].requests} == {"oauth2_proxy_kubeflow=c2Vzc2lvbg"}
    assert not [r for r in kfp_api["api"].requests if "authorization" in r["headers"]]


def test_the_service_account_token_of_a_pod_is_used_when_no_credential_is_given(
    kfp_api, cluster_package, tmp_path, monkeypatch
):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
    assert _submit(kfp_api, cluster_package, "--namespace", "team-a") == 0
    assert {r["headers"].get("authorization") for r in kfp_api["api"].requests} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "status, message",
    [
        (401, "refused the credentials (401 Unauthorized): give a valid --token/--token-file or --cookie"),
        (403, "refused the credentials (403 Forbidden)"),
        (302, "redirected the request to a login page"),
    ],
)
def test_a_refused_credential_is_named_in_words(kfp_api, cluster_package, capsys, status, message):
    kfp_api["api"].refuse_with = status
    assert _submit(kfp_api, cluster_package, "--token", "expired", "--namespace", "team-a") == 1
    err = capsys.readouterr().err
    assert f"Kubeflow Pipelines at {kfp_api['host']} {message}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "option, message",
    [
        (["--cookie", "c2Vzc2lvbg"], "--cookie c2Vzc2lvbg: expected NAME=VALUE, e.g. oauth2_proxy_kubeflow="),
        (["--token-file", "/nonexistent/token"], "--token-file /nonexistent/token: No such file or directory"),
        (["--ca-cert", "/nonexistent/ca.pem"], "--ca-cert /nonexistent/ca.pem: no such file"),
    ],
)
def test_a_credential_that_cannot_be_used_is_refused_before_anything_is_sent(
    kfp_api, cluster_package, capsys, option, message
):
    assert _submit(kfp_api, cluster_package, *option) == 1
    assert message in capsys.readouterr().err
    assert kfp_api["api"].requests == []


@pytest.fixture(scope="module")
def namespace_package(tmp_path_factory):
    """A package for namespace team-a on KFP 2.17.0 with no root given: the namespace's own."""
    path = tmp_path_factory.mktemp("submit-ns") / "pipeline.yaml"
    assert (
        cli.main(
            [
                "kubeflow",
                "compile",
                "--image",
                "registry.example.com/maskrcnn-tfx:1",
                "--output",
                str(path),
                "--namespace",
                "team-a",
                "--kfp-version",
                "2.17.0",
                "--init-checkpoint",
                "none",
                "--dataset",
                "minio://mlpipeline/private/team-a/datasets/kettles",
                "--serving-dir",
                "minio://mlpipeline/private/team-a/serving/kettles",
            ]
        )
        == 0
    )
    return path


def test_a_run_in_a_namespace_uses_the_namespaces_root_and_says_so(kfp_api, namespace_package, capsys):
    assert _submit(kfp_api, namespace_package, "--token", TOKEN) == 0  # the namespace the package was compiled for
    out = capsys.readouterr().out
    # sync.py at 2.17.0 (about line 285): the namespace's kfp-launcher defaultPipelineRoot
    assert "pipeline root: minio://mlpipeline/private-artifacts/team-a/v2/artifacts (namespace team-a's own" in out
    listed = next(r for r in kfp_api["api"].requests if r["path"] == "/apis/v2beta1/experiments")
    assert listed["query"]["namespace"] == ["team-a"]
    run = next(r for r in kfp_api["api"].requests if r["method"] == "POST")["body"]
    assert not run["runtime_config"].get("pipeline_root")  # left to the namespace's ConfigMap (root_dag.go)


def test_a_given_root_is_named_as_replacing_the_namespaces(kfp_api, cluster_package, capsys):
    assert _submit(kfp_api, cluster_package, "--token", TOKEN, "--namespace", "team-a") == 0
    assert (
        "pipeline root: minio://mlpipeline/v2/artifacts (given; it replaces the namespace's own for this run)"
        in capsys.readouterr().out
    )


def test_a_package_for_one_namespace_is_refused_for_another(kfp_api, namespace_package, capsys):
    assert _submit(kfp_api, namespace_package, "--token", TOKEN, "--namespace", "team-b") == 1
    assert (
        "was compiled for namespace team-a, whose store key and root its paths were checked against; compile it "
        "again with --namespace team-b" in capsys.readouterr().err
    )
    assert kfp_api["api"].requests == []


def test_a_launcher_config_with_another_root_is_refused(kfp_api, namespace_package, tmp_path, capsys):
    config = tmp_path / "kfp-launcher.yaml"
    config.write_text("kind: ConfigMap\ndata:\n  defaultPipelineRoot: minio://mlpipeline/elsewhere\n")
    assert _submit(kfp_api, namespace_package, "--token", TOKEN, "--launcher-config", str(config)) == 1
    assert (
        "gives the pipeline root minio://mlpipeline/elsewhere, not "
        "minio://mlpipeline/private-artifacts/team-a/v2/artifacts" in capsys.readouterr().err
    )
