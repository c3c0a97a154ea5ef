"""A namespace's `kfp-launcher` ConfigMap, and the store identity KFP's launcher takes from it for a path.

Ported from kubeflow/pipelines 2.17.0 `backend/src/v2/config/env.go` (GetStoreSessionInfo, getBucketProviders,
getDefaultMinioSessionInfo), `config/s3.go` (ProvideSessionInfo, getOverrideByPrefix), `config/minio.go` and
`objectstore/config.go` (ParseBucketPathToConfig); the same rules at 2.2.0 and 2.3.0 but for `forcePathStyle`
(read from 2.4.1), which they do not read: their sessions are always path-style (`objectstore/object_store.go`
createS3BucketSession at 2.2.0). The known answers are KFP's own (`config/env_test.go`, testdata/provider_cases.yaml).
"""

from __future__ import annotations

import dataclasses
import re

from kubeflow import releases

CONFIGMAP_NAME = "kfp-launcher"
ROOT_KEY = "defaultPipelineRoot"
PROVIDERS_KEY = "providers"
# objectstore/config.go bucketPattern
BUCKET_PATTERN = re.compile(r"^([a-z][a-z0-9]+:///?)([^/?]+)(/[^?]*)?(\?.+)?$")


class LauncherConfigError(ValueError):
    """A ConfigMap the launcher would refuse, or a path it cannot serve; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Session:
    """What the launcher connects with (objectstore.SessionInfo's params): `from_env` means the AWS SDK's
    default chain (no endpoint unless one is set, the pod's own credentials)."""

    provider: str
    from_env: bool
    endpoint: str = ""
    region: str = ""
    disable_ssl: bool = False
    force_path_style: bool = True
    secret: str = ""  # NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY, '' with from_env
    built_in: bool = False  # no providers entry: the release's own minio:// identity, or the AWS default session

    def endpoint_url(self) -> str | None:
        """The endpoint as an S3 client takes it; None for AWS's own (s3.amazonaws.com, as object_store.go)."""
        if not self.endpoint or re.match(r"^(https://)?s3\.amazonaws\.com", self.endpoint.lower()):
            return None
        if "://" in self.endpoint:
            return self.endpoint
        return f"{'http' if self.disable_ssl else 'https'}://{self.endpoint}"


def load(text: str, source: str) -> dict[str, str]:
    """The ConfigMap's data, from `kubectl get configmap kfp-launcher -o yaml` (or its data alone)."""
    import yaml

    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise LauncherConfigError(f"{source}: not YAML ({error})") from None
    data = document.get("data", document) if isinstance(document, dict) else None
    if document.get("kind", "ConfigMap") != "ConfigMap" or not isinstance(data, dict):
        raise LauncherConfigError(
            f"{source}: expected the {CONFIGMAP_NAME} ConfigMap as `kubectl get configmap "
            f"{CONFIGMAP_NAME} -o yaml` prints it"
        )
    return {str(k): str(v) for k, v in data.items()}


def _lower(value):
    # sigs.k8s.io/yaml matches JSON field names case-insensitively (`overrides` is s3.go's `Overrides`).
    if isinstance(value, dict):
        return {str(k).lower(): _lower(v) for k, v in value.items()}
    return [_lower(v) for v in value] if isinstance(value, list) else value


def providers(data: dict[str, str]) -> dict:
    """The `providers` entry, its field names in lower case."""
    import yaml

    if not data.get(PROVIDERS_KEY):
        return {}
    try:
        parsed = yaml.safe_load(data[PROVIDERS_KEY])
    except yaml.YAMLError as error:
        raise LauncherConfigError(
            f"failed to unmarshall kfp bucket providers, ensure that providers config is well formed: {error}"
        ) from None
    return _lower(parsed or {})


def bucket_and_prefix(path: str) -> tuple[str, str, str, str]:
    """(scheme, bucket, key prefix ending in '/', query) as ParseBucketPathToConfig splits a path."""
    match = BUCKET_PATTERN.match(path)
    if not match:
        raise LauncherConfigError(f"parse bucket config failed: unrecognized pipeline root format: {path}")
    prefix = (match.group(3) or "").lstrip("/")
    return (
        match.group(1).split(":")[0],
        match.group(2),
        prefix + ("/" if prefix and not prefix.endswith("/") else ""),
        match.group(4) or "",
    )


def _secret(credentials: dict, what: str) -> tuple[bool, str]:
    if credentials.get("fromenv"):
        return True, ""
    ref = credentials.get("secretref")
    if not ref:
        raise LauncherConfigError(f"invalid provider config: missing {what} secretref")
    return False, f"{ref.get('secretname', '')}:{ref.get('accesskeykey', '')}:{ref.get('secretkeykey', '')}"


def session(data: dict[str, str], path: str, target: releases.Release | None) -> Session:
    """The launcher's session for an s3:// or minio:// path (GetStoreSessionInfo). For a minio:// path with no
    providers entry on ANY_RELEASE the endpoint is '' (it differs between releases)."""
    scheme, bucket, prefix, query = bucket_and_prefix(path)
    config = providers(data).get(scheme) or {}
    unset = config.get("default") is None and config.get("overrides") is None
    if scheme == "minio" and unset and not query:  # minio.go: getDefaultMinioSessionInfo
        endpoints = releases.store_endpoints(target)
        return Session(
            "minio",
            False,
            endpoints[0] if len(endpoints) == 1 else "",
            "minio",
            True,
            True,
            releases.STORE_SECRET,
            built_in=True,
        )
    if unset or query:
        return Session(scheme, True, built_in=True)
    default = config.get("default") or {}
    if not default.get("credentials"):
        raise LauncherConfigError("invalid provider config: missing default credentials")
    from_env, secret = _secret(default["credentials"], "default")
    if target and not target.path_style_option:
        default, config = (
            {**default, "forcepathstyle": None},
            {**config, "overrides": [{**o, "forcepathstyle": None} for o in config.get("overrides") or []]},
        )
    found = Session(
        scheme,
        from_env,
        default.get("endpoint") or "",
        default.get("region") or "",
        bool(default.get("disablessl")),
        _flag(default.get("forcepathstyle"), True),
        secret,
    )
    override = next(
        (
            o
            for o in config.get("overrides") or []
            if o.get("bucketname") == bucket and prefix.startswith(o.get("keyprefix") or "")
        ),
        None,
    )
    if override is None:
        return found
    if not override.get("credentials"):
        raise LauncherConfigError("invalid provider config: missing override credentials")
    from_env, secret = _secret(override["credentials"], "override")
    return dataclasses.replace(
        found,
        endpoint=override.get("endpoint") or found.endpoint,
        region=override.get("region") or found.region,
        disable_ssl=_flag(override.get("disablessl"), found.disable_ssl),
        force_path_style=_flag(override.get("forcepathstyle"), found.force_path_style),
        from_env=from_env,
        secret=secret,
    )


def _flag(value, default: bool) -> bool:
    return default if value is None else bool(value)
