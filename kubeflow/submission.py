"""`maskrcnn-tfx kubeflow submit`: a compiled package sent to a Kubeflow Pipelines endpoint with the kfp client,
authenticated as a multi-user Kubeflow expects (a bearer token, a session cookie, or inside the cluster the
pod's service-account token), in the pipeline root the package was compiled for: the one given, else the
namespace's own (its kfp-launcher ConfigMap's), which the run then leaves to the backend."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request

from kubeflow import local_run

# Inside a cluster: the token the kfp client reads (kfp 2.16 kfp/client/set_volume_credentials.py).
SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
HEALTHZ_PATH = "apis/v2beta1/healthz"
# The package's header line naming what it was compiled for (a YAML comment: the PipelineSpec has no field for it).
TARGET_COMMENT = "# maskrcnn-tfx target: "


class KubeflowError(RuntimeError):
    """A compile or submit request that cannot work; the message says why."""


def check_reachable(host: str, timeout_s: float = 10.0) -> None:
    """Fails in seconds, naming the host, where the kfp client would keep retrying (5 health checks, 5 s apart)."""
    url = urllib.parse.urlparse(host if "://" in host else f"http://{host}")
    if not url.hostname:
        raise KubeflowError(f"--host {host!r}: expected a URL such as http://localhost:8080")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise KubeflowError(
            f"Kubeflow Pipelines at {host} is not reachable ({url.hostname}:{port}: {reason})"
        ) from None


@dataclasses.dataclass(frozen=True)
class Credentials:
    """How `submit` authenticates: a bearer token, a session cookie (NAME=VALUE), TLS settings."""

    token: str | None = None
    cookie: str | None = None
    ca_cert: str | None = None
    insecure: bool = False


def credentials(args: argparse.Namespace) -> Credentials:
    """--token, --token-file, --cookie; with none of them, the pod's service-account token when there is one."""
    token = args.token
    if args.token_file:
        token = read_token(args.token_file, "--token-file")
    elif not token and not args.cookie and os.path.isfile(os.environ.get(SA_TOKEN_ENV, SA_TOKEN_PATH)):
        token = read_token(os.environ.get(SA_TOKEN_ENV, SA_TOKEN_PATH), SA_TOKEN_ENV)
    if args.cookie and "=" not in args.cookie:
        raise KubeflowError(
            f"--cookie {args.cookie}: expected NAME=VALUE, e.g. oauth2_proxy_kubeflow=... "
            f"(Kubeflow 1.9+) or authservice_session=... (up to 1.8), from the browser's session"
        )
    if args.ca_cert and not os.path.isfile(args.ca_cert):
        raise KubeflowError(f"--ca-cert {args.ca_cert}: no such file")
    return Credentials(token=token, cookie=args.cookie, ca_cert=args.ca_cert, insecure=args.insecure)


def read_token(path: str, what: str) -> str:
    try:
        with open(path) as f:
            token = f.read().strip()
    except OSError as error:
        raise KubeflowError(f"{what} {path}: {error.strerror}") from None
    if not token:
        raise KubeflowError(f"{what} {path} is empty")
    return token


def refusal(host: str, error: Exception) -> KubeflowError:
    """A KFP API error in words: which credential was refused, or what the server said."""
    status = getattr(error, "status", None) or getattr(error, "code", None)
    reason = getattr(error, "reason", "") or ""
    if status in (401, 403):
        return KubeflowError(
            f"Kubeflow Pipelines at {host} refused the credentials ({status} {reason}): give a "
            f"valid --token/--token-file or --cookie, and --namespace of a profile you may use"
        )
    if status and 300 <= status < 400:
        return KubeflowError(
            f"Kubeflow Pipelines at {host} redirected the request to a login page ({status}): "
            f"it sits behind an authenticating proxy; give --token/--token-file or --cookie"
        )
    body = (getattr(error, "body", "") or "").strip()
    return KubeflowError(
        f"Kubeflow Pipelines at {host} refused the run"
        f"{f' ({status} {reason})' if status else ''}: {body[:500] or error}"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check_credentials(host: str, auth: Credentials, timeout_s: float = 30.0) -> None:
    """Asks KFP's health endpoint with the credentials, following no redirect: an authenticating proxy's
    refusal or login page is named here, where the kfp client would follow it and read a web page as an
    answer."""
    import ssl

    request = urllib.request.Request(
        f"{host.rstrip('/')}/{HEALTHZ_PATH}",
        headers={
            **({"Authorization": f"Bearer {auth.token}"} if auth.token else {}),
            **({"Cookie": auth.cookie} if auth.cookie else {}),
        },
    )
    context = ssl.create_default_context(cafile=auth.ca_cert)
    if auth.insecure:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        if error.code in (401, 403) or 300 <= error.code < 400:
            raise refusal(host, error) from None
        return  # another answer (an older backend without this endpoint): the kfp client says what it means
    except urllib.error.URLError as error:
        raise KubeflowError(f"Kubeflow Pipelines at {host}: {error.reason}") from None
    if "json" not in kind:
        raise KubeflowError(
            f"{host} answered {HEALTHZ_PATH} with {kind or 'no content type'}, not Kubeflow "
            f"Pipelines' API: is --host the KFP endpoint (e.g. http://HOST/pipeline)?"
        )


def target_line(target) -> str:
    """The package's header line recording the compile's target (stores.Target)."""
    return (
        TARGET_COMMENT
        + json.dumps(
            {
                "kfp_version": target.release.version if target.release else "any",
                "namespace": target.namespace,
                "pipeline_root": target.pipeline_root,
                "root_given": target.root_given,
            },
            sort_keys=True,
        )
        + "\n"
    )


def package_target(path: str) -> dict:
    """What the package was compiled for; a package without the line is taken as compiled with its root given."""
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            if line.startswith(TARGET_COMMENT):
                return json.loads(line[len(TARGET_COMMENT) :])
    return {
        "namespace": None,
        "pipeline_root": local_run.load_package(path).get("defaultPipelineRoot"),
        "root_given": True,
    }


def root_line(root: str, given: bool, namespace: str | None, launcher_root: str | None = None) -> str:
    if given:
        return (
            f"pipeline root: {root} (given; it replaces the namespace's own for this run)"
            if namespace
            else f"pipeline root: {root}"
        )
    return (
        f"pipeline root: {launcher_root or root} (namespace {namespace or 'of the run'}'s own, from its "
        f"kfp-launcher ConfigMap; the run sends none)"
    )


def run_root(path: str, namespace: str | None, launcher: dict[str, str]) -> tuple[str | None, str | None, str]:
    """(the pipeline root the run sends, None to leave it to the namespace; the namespace; the line saying
    which root the run uses). A package compiled for one namespace is refused for another."""
    from kubeflow.launcher_config import ROOT_KEY

    target = package_target(path)
    compiled = target.get("namespace")
    if compiled and namespace and namespace != compiled:
        raise KubeflowError(
            f"{path} was compiled for namespace {compiled}, whose store key and root its paths were "
            f"checked against; compile it again with --namespace {namespace}"
        )
    namespace = namespace or compiled
    launcher_root = launcher.get(ROOT_KEY)
    if not target["root_given"] and launcher_root and launcher_root != target["pipeline_root"]:
        raise KubeflowError(
            f"the namespace's kfp-launcher ConfigMap gives the pipeline root {launcher_root}, not "
            f"{target['pipeline_root']} as when {path} was compiled; compile it again with "
            f"--launcher-config"
        )
    return (
        target["pipeline_root"] if target["root_given"] else None,
        namespace,
        root_line(target["pipeline_root"], target["root_given"], namespace, launcher_root),
    )


def submit(
    host: str,
    package_path: str,
    experiment: str | None = None,
    run_name: str | None = None,
    arguments: dict[str, str] | None = None,
    namespace: str | None = None,
    enable_caching: bool | None = None,
    auth: Credentials = Credentials(),
    launcher: dict[str, str] | None = None,
) -> str:
    """Creates a run of the package on the KFP endpoint `host`, in the pipeline root it was compiled for (printed);
    returns the run id."""
    if not os.path.isfile(package_path):
        raise KubeflowError(f"{package_path}: no such package (make one with `maskrcnn-tfx kubeflow compile`)")
    if not package_path.endswith((".yaml", ".yml")):
        raise KubeflowError(f"{package_path}: the kfp client submits .yaml packages (compile with --output NAME.yaml)")
    pipeline_root, namespace, line = run_root(package_path, namespace, launcher or {})
    print(line)
    check_reachable(host)
    check_credentials(host, auth)
    import kfp
    from kfp_server_api.exceptions import ApiException

    try:
        client = kfp.Client(
            host=host,
            namespace=namespace or "kubeflow",
            existing_token=auth.token,
            cookies=auth.cookie,
            ssl_ca_cert=auth.ca_cert,
            verify_ssl=False if auth.insecure else None,
        )
        result = client.create_run_from_pipeline_package(
            package_path,
            arguments=arguments or {},
            run_name=run_name,
            experiment_name=experiment,
            namespace=namespace,
            pipeline_root=pipeline_root,
            enable_caching=enable_caching,
        )
    except ApiException as error:
        raise refusal(host, error) from None
    return result.run_id
