"""File access for local paths and URIs (gs://, s3://, ...).

Local paths use the standard library, so light commands need no TensorFlow;
anything with a scheme goes through tf.io.gfile.
"""
from __future__ import annotations

import os
import posixpath


def is_uri(path: str) -> bool:
    return "://" in str(path)


def join(base: str, *parts: str) -> str:
    base = str(base)
    if is_uri(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def exists(path: str) -> bool:
    path = str(path)
    return _gfile().exists(path) if is_uri(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    path = str(path)
    return _gfile().isdir(path) if is_uri(path) else os.path.isdir(path)


def listdir(path: str) -> list[str]:
    """Entry names (not paths), sorted; directories of URIs come without a trailing '/'."""
    path = str(path)
    if is_uri(path):
        return sorted(name.rstrip("/") for name in _gfile().listdir(path))
    return sorted(os.listdir(path))


def list_entries(path: str) -> list[tuple[str, bool]]:
    """(name, is_directory) of the entries of a directory, sorted by name."""
    path = str(path)
    if is_uri(path):
        # Object stores list sub-"directories" with a trailing '/'; one stat per file would be slow.
        return sorted((n.rstrip("/"), n.endswith("/")) for n in _gfile().listdir(path))
    with os.scandir(path) as entries:
        return sorted((e.name, e.is_dir()) for e in entries)


def read_bytes(path: str) -> bytes:
    path = str(path)
    if is_uri(path):
        with _gfile().GFile(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_text(path: str, text: str) -> None:
    path = str(path)
    if is_uri(path):
        with _gfile().GFile(path, "w") as f:
            f.write(text)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def makedirs(path: str) -> None:
    path = str(path)
    if is_uri(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def remove_tree(path: str) -> None:
    """Removes a file or a directory with its content."""
    path = str(path)
    if is_uri(path):
        gfile = _gfile()
        gfile.rmtree(path) if gfile.isdir(path) else gfile.remove(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    else:
        os.remove(path)


def glob(pattern: str) -> list[str]:
    pattern = str(pattern)
    if is_uri(pattern):
        return sorted(_gfile().glob(pattern))
    import glob as _glob

    return sorted(_glob.glob(pattern))


def tree_fingerprint(path: str) -> str:
    """A digest of every file under `path`: relative path, size and modification time (ns)."""
    import hashlib

    path = str(path)
    entries = []
    if is_uri(path):
        gfile = _gfile()
        for folder, _, files in gfile.walk(path):
            for name in files:
                full = posixpath.join(folder, name)
                stat = gfile.stat(full)
                entries.append((full[len(path):], stat.length, stat.mtime_nsec))
    else:
        for folder, _, files in os.walk(path):
            for name in files:
                stat = os.stat(os.path.join(folder, name))
                entries.append((os.path.relpath(os.path.join(folder, name), path), stat.st_size, stat.st_mtime_ns))
    digest = hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()
    return f"files:{len(entries)},sha256:{digest}"
