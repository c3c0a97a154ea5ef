"""Where a compiled package's paths live and who reaches them: the target release, the namespace, its
`kfp-launcher` ConfigMap, the pipeline root a run will use, and the one store identity of the steps.

The launcher stages the artifacts under the pipeline root with the identity its ConfigMap gives the root
(launcher_config.py); the steps reach the dataset, the serving folder and a checkpoint themselves (s3fs,
storage/fileio.py), with the identity the same rules give each of those paths, so that the launcher and the steps
use one endpoint and one secret per path. Where those paths would need different identities, compile refuses.
"""

from __future__ import annotations

import argparse
import dataclasses

from kubeflow import launcher_config, namespaces, releases
from kubeflow.launcher_config import LauncherConfigError, Session
from kubeflow.namespaces import NamespaceError
from storage import fileio

# The options naming a path the steps reach themselves.
STEP_PATHS = ("dataset", "serving_dir", "init_checkpoint", "schema")


class StoreError(ValueError):
    """Paths the launcher and the steps could not reach as one identity; the message says why and the fix."""


@dataclasses.dataclass(frozen=True)
class Target:
    release: releases.Release | None  # None: any release listed
    namespace: str | None
    launcher: dict[str, str]  # the kfp-launcher ConfigMap's data ({} : none given)
    pipeline_root: str
    root_given: bool  # False: the namespace's (or the release's) own root
    store: Session | None  # the steps' identity; None when they reach no S3 path
    notes: tuple[str, ...] = ()  # lines compile prints about the store


def read_launcher_config(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        with open(path) as f:
            return launcher_config.load(f.read(), f"--launcher-config {path}")
    except OSError as error:
        raise StoreError(f"--launcher-config {path}: {error.strerror}") from None


def providers_entry(path: str) -> str:
    """The `providers` entry that serves `path`, as YAML to paste under the ConfigMap's data, with both kinds of
    credentials the launcher takes (config/s3.go): a secret's keys, or the pod's own (`fromEnv: true`)."""
    scheme, bucket, prefix, _ = launcher_config.bucket_and_prefix(path)
    return (
        f"  {launcher_config.PROVIDERS_KEY}: |\n    {scheme}:\n      default:\n        endpoint: ENDPOINT\n"
        f"        region: REGION\n        disableSSL: false\n        credentials:\n          secretRef:\n"
        f"            secretName: SECRET\n            accessKeyKey: ACCESS_KEY_KEY\n"
        f"            secretKeyKey: SECRET_KEY_KEY\n      overrides:\n        - bucketName: {bucket}\n"
        f"          keyPrefix: {prefix.rstrip('/')}\n          endpoint: ENDPOINT\n          credentials:\n"
        f"            secretRef: {{secretName: SECRET, accessKeyKey: ACCESS_KEY_KEY, secretKeyKey: SECRET_KEY_KEY}}\n"
        f"(or, for the pod's own credentials (IRSA, the node's role), `credentials: {{fromEnv: true}}` in place of "
        f"each secretRef)"
    )


def aws_default_line(root: str) -> str:
    return (
        f"store: --pipeline-root {root} has no providers entry in the kfp-launcher ConfigMap: the launcher opens "
        f"it on AWS S3 itself with the pod's AWS credentials (IRSA or the node's role; "
        f"backend/src/v2/objectstore/object_store.go), and so do the steps. For MinIO or SeaweedFS add a "
        f"providers entry for s3:// with its endpoint and credentials (secretRef, or fromEnv: true) and pass it "
        f"with --launcher-config"
    )


def _with_options(session: Session, path: str, option: str, endpoint: str | None, secret: str | None) -> Session:
    """--s3-endpoint / --s3-secret for a path the launcher gives its built-in identity; refused against a
    providers entry that says otherwise."""
    if not session.built_in:
        if endpoint and endpoint.rstrip("/") != (session.endpoint_url() or "").rstrip("/"):
            raise StoreError(
                f"--s3-endpoint {endpoint}: the kfp-launcher ConfigMap's providers entry gives {option} "
                f"{path} the endpoint {session.endpoint or 'of AWS S3'}; the launcher and the steps "
                f"must use one: leave --s3-endpoint out"
            )
        return session
    # The AWS default session reads the pod's environment, where the steps' credentials are: on AWS S3 itself (s3://,
    # no endpoint) the pod's own unless told otherwise, else Kubeflow's secret.
    if secret is None and session.from_env:
        secret = "" if session.provider == "s3" and not endpoint else releases.STORE_SECRET
    changes = {"endpoint": endpoint} if endpoint else {}
    if secret is not None:
        changes.update(secret=secret, from_env=not secret)
    return dataclasses.replace(session, **changes)


def env(session: Session) -> list[dict]:
    """The steps' S3 client settings as container env (botocore's variables; storage/fileio.py): the endpoint,
    and for a providers entry its region and addressing style."""
    values = {fileio.ENDPOINT_VARIABLES[0]: session.endpoint_url()}
    if not session.built_in:
        values[fileio.REGION_VARIABLE] = session.region
        values[fileio.ADDRESSING_STYLE_VARIABLE] = "" if session.force_path_style else "virtual"
    return [{"name": name, "value": value} for name, value in values.items() if value]


def step_store(sessions: dict[str, tuple[str, Session]], target: releases.Release | None) -> Session | None:
    """The one identity of the steps' S3 paths (option -> (path, session))."""
    if not sessions:
        return None
    for option, (path, session) in sessions.items():
        if session.provider == "minio" and not session.endpoint:
            raise StoreError(
                f"--{option.replace('_', '-')} {path}: with no providers entry the launcher reaches minio:// at its "
                f"release's built-in endpoint, {' or '.join(releases.store_endpoints(target))} depending on the "
                f"release (kubeflow.releases): give --kfp-version (your install's KFP release) or --s3-endpoint"
            )
    distinct = {(str(env(s)), s.secret) for _, s in sessions.values()}
    if len(distinct) > 1:
        listed = "; ".join(
            f"--{o.replace('_', '-')} {p}: {s.endpoint or 'AWS S3'} as {s.secret or 'the pod'}"
            for o, (p, s) in sessions.items()
        )
        raise StoreError(
            f"the steps would reach their S3 paths as different identities ({listed}): a step's S3 "
            f"client has one; put the paths under one providers entry (one bucket and key prefix) of "
            f"the kfp-launcher ConfigMap, with a secretRef or `fromEnv: true` (the pod's own "
            f"credentials), or on one store"
        )
    return next(iter(sessions.values()))[1]


def target(args: argparse.Namespace) -> Target:
    """The compile's target, from --kfp-version, --namespace, --launcher-config, the paths and --s3-*."""
    try:
        release = releases.release(args.kfp_version)
        launcher = read_launcher_config(args.launcher_config)
        root = (
            args.pipeline_root
            or launcher.get(launcher_config.ROOT_KEY)
            or namespaces.launcher_root(args.namespace, release)
        )
        paths = {name: getattr(args, name) for name in ("pipeline_root", *STEP_PATHS)}
        paths["pipeline_root"] = root
        secret = None if args.s3_secret is None else parse_s3_secret(args.s3_secret)
        sessions = {
            name: (
                path,
                _with_options(launcher_config.session(launcher, path, release), path, name, args.s3_endpoint, secret),
            )
            for name, path in paths.items()
            if path and fileio.is_s3(path)
        }
        aws_default = fileio.scheme(root) == "s3" and sessions["pipeline_root"][1].built_in
        if aws_default and args.s3_endpoint:
            raise StoreError(
                f"--s3-endpoint {args.s3_endpoint} with --pipeline-root {root}: the kfp-launcher ConfigMap has no "
                f"providers entry for s3://, so the launcher opens the root with the AWS SDK's default session (AWS "
                f"S3 itself, no endpoint: backend/src/v2/objectstore/object_store.go), not at that endpoint. For "
                f"MinIO or SeaweedFS add to the namespace's ConfigMap (`kubectl edit configmap kfp-launcher`):\n"
                f"{providers_entry(root)}\nand pass it with --launcher-config"
            )
        if args.namespace and releases.namespace_keys(release):
            keyed = {
                name: path
                for name, (path, s) in sessions.items()
                if s.secret.split(":")[0] == releases.STORE_SECRET.split(":")[0]
            }
            namespaces.check({f"--{name.replace('_', '-')}": path for name, path in keyed.items()}, args.namespace)
            if "serving_dir" in keyed:
                namespaces.check_listing(keyed["serving_dir"], args.namespace, release)
        steps = {n: v for n, v in sessions.items() if n != "pipeline_root" or v[1].from_env}
        return Target(
            release,
            args.namespace,
            launcher,
            root,
            bool(args.pipeline_root),
            step_store(steps, release),
            (aws_default_line(root),) if aws_default else (),
        )
    except (LauncherConfigError, NamespaceError) as error:
        raise StoreError(str(error)) from None


def parse_s3_secret(value: str) -> str:
    """NAME (Kubeflow's keys accesskey/secretkey), NAME:ACCESS_KEY:SECRET_KEY, or '' for none."""
    parts = value.split(":") if value else []
    if len(parts) == 1:
        parts += releases.STORE_SECRET.split(":")[1:]
    if value and (len(parts) != 3 or not all(parts)):
        raise StoreError(f"--s3-secret {value}: expected NAME or NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY")
    return ":".join(parts)
