"""File access for local paths and URIs: s3:// and minio:// through s3fs, other schemes (gs://) through
tf.io.gfile.

Local paths use the standard library, so light commands need no TensorFlow.
TensorFlow 2.21 reads no S3 (that needs tensorflow-io, which has no wheel for
Python 3.13), so an S3-API store (AWS S3, MinIO and SeaweedFS in a Kubeflow
install) goes through s3fs, configured from the environment its pods are given:
`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (a MinIO service, for example
http://minio-service.kubeflow:9000), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
and `AWS_DEFAULT_REGION`, as botocore reads them. With an endpoint, buckets are
addressed path-style (as KFP's launcher does by default: MinIO and SeaweedFS
have no per-bucket host names) unless `S3_ADDRESSING_STYLE=virtual`.
`minio://bucket/key` (Kubeflow's default pipeline root) is `s3://bucket/key` on
that endpoint.
"""

from __future__ import annotations

import os
import posixpath

S3_SCHEMES = ("s3", "minio")
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_VARIABLE = "AWS_DEFAULT_REGION"
ADDRESSING_STYLE_VARIABLE = "S3_ADDRESSING_STYLE"  # the project's: botocore reads the style from its config file only


def is_uri(path: str) -> bool:
    return "://" in str(path)


def scheme(path: str) -> str:
    return str(path).split("://", 1)[0] if is_uri(path) else ""


def is_s3(path: str) -> bool:
    return scheme(path) in S3_SCHEMES


def join(base: str, *parts: str) -> str:
    base = str(base)
    if is_uri(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def s3_filesystem():
    """s3fs on the endpoint and credentials of the environment (botocore's own variables); fsspec keeps one
    instance per process and arguments."""
    import s3fs

    endpoint = next((os.environ[v] for v in ENDPOINT_VARIABLES if os.environ.get(v)), None)
    style = os.environ.get(ADDRESSING_STYLE_VARIABLE) or ("path" if endpoint else "auto")
    return s3fs.S3FileSystem(
        client_kwargs={"endpoint_url": endpoint} if endpoint else {},
        config_kwargs={"s3": {"addressing_style": style}},
        use_listings_cache=False,
    )


def _key(path: str) -> str:
    """bucket/key of an s3:// or minio:// URI."""
    return str(path).split("://", 1)[1].rstrip("/")


def _uri(like: str, key: str) -> str:
    return f"{scheme(like)}://{key}"


def exists(path: str) -> bool:
    path = str(path)
    if is_s3(path):
        return s3_filesystem().exists(_key(path))
    return _gfile().exists(path) if is_uri(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    path = str(path)
    if is_s3(path):
        return s3_filesystem().isdir(_key(path))
    return _gfile().isdir(path) if is_uri(path) else os.path.isdir(path)


def listdir(path: str) -> list[str]:
    """Entry names (not paths), sorted; directories of URIs come without a trailing '/'."""
    return [name for name, _ in list_entries(path)]


def list_entries(path: str) -> list[tuple[str, bool]]:
    """(name, is_directory) of the entries of a directory, sorted by name."""
    path = str(path)
    if is_s3(path):
        entries = s3_filesystem().ls(_key(path), detail=True)
        return sorted(
            (posixpath.basename(e["name"].rstrip("/")), e["type"] == "directory")
            for e in entries
            if e["name"].rstrip("/") != _key(path)
        )  # a zero-byte 'folder/' marker lists itself
    if is_uri(path):
        # Object stores list sub-"directories" with a trailing '/'; one stat per file would be slow.
        return sorted((n.rstrip("/"), n.endswith("/")) for n in _gfile().listdir(path))
    with os.scandir(path) as entries:
        return sorted((e.name, e.is_dir()) for e in entries)


def read_bytes(path: str) -> bytes:
    path = str(path)
    if is_s3(path):
        return s3_filesystem().cat_file(_key(path))
    if is_uri(path):
        with _gfile().GFile(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_text(path: str, text: str) -> None:
    path = str(path)
    if is_s3(path):
        s3_filesystem().pipe_file(_key(path), text.encode("utf-8"))
    elif is_uri(path):
        with _gfile().GFile(path, "w") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def makedirs(path: str) -> None:
    path = str(path)
    if is_s3(path):
        return  # an S3 "folder" exists once an object is under it
    if is_uri(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def remove_tree(path: str) -> None:
    """Removes a file or a directory with its content."""
    path = str(path)
    if is_s3(path):
        fs = s3_filesystem()
        # One DeleteObject a key: s3fs's bulk delete (DeleteObjects) drops a key's refusal without a word.
        for key in fs.find(_key(path)) or [_key(path)]:
            fs.rm_file(key)
    elif is_uri(path):
        gfile = _gfile()
        gfile.rmtree(path) if gfile.isdir(path) else gfile.remove(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    else:
        os.remove(path)


def glob(pattern: str) -> list[str]:
    pattern = str(pattern)
    if is_s3(pattern):
        return sorted(_uri(pattern, key) for key in s3_filesystem().glob(_key(pattern)))
    if is_uri(pattern):
        return sorted(_gfile().glob(pattern))
    import glob as _glob

    return sorted(_glob.glob(pattern))


def download(uri: str, local_dir: str) -> str:
    """Copies the folder `uri` of an S3 store to `local_dir` (which it creates); returns local_dir."""
    fs = s3_filesystem()
    os.makedirs(local_dir, exist_ok=True)
    for key in fs.find(_key(uri)):
        relative = key[len(_key(uri)) :].lstrip("/")
        if relative and not key.endswith("/"):
            target = os.path.join(local_dir, *relative.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fs.get_file(key, target)
    return local_dir


def upload(local_dir: str, uri: str, last: tuple[str, ...] = ()) -> None:
    """Copies the folder `local_dir` to the S3 folder `uri`, the files named in `last` (relative paths) after
    every other one."""
    fs = s3_filesystem()
    files = sorted(
        os.path.relpath(os.path.join(folder, name), local_dir)
        for folder, _, names in os.walk(local_dir)
        for name in names
    )
    for relative in sorted(files, key=lambda f: f.replace(os.sep, "/") in last):
        fs.put_file(os.path.join(local_dir, relative), f"{_key(uri)}/{relative.replace(os.sep, '/')}")


def tree_fingerprint(path: str) -> str:
    """A digest of every file under `path`: relative path, size and modification time (ns) or ETag."""
    import hashlib

    path = str(path)
    entries = []
    if is_s3(path):
        for key, info in s3_filesystem().find(_key(path), detail=True).items():
            entries.append(
                (key[len(_key(path)) :], info.get("size"), info.get("ETag") or str(info.get("LastModified")))
            )
    elif is_uri(path):
        gfile = _gfile()
        for folder, _, files in gfile.walk(path):
            for name in files:
                full = posixpath.join(folder, name)
                stat = gfile.stat(full)
                entries.append((full[len(path) :], stat.length, stat.mtime_nsec))
    else:
        for folder, _, files in os.walk(path):
            for name in files:
                stat = os.stat(os.path.join(folder, name))
                entries.append((os.path.relpath(os.path.join(folder, name), path), stat.st_size, stat.st_mtime_ns))
    digest = hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()
    return f"files:{len(entries)},sha256:{digest}"
