"""The TF Serving layout the Pusher writes and the evaluator reads its baseline from: `<base>/<version>/`.

On a filesystem each version is claimed (mkdir) before a finished copy is
renamed into place, staging in `<base>/.staging/<time>-<random>/`: on the base's own filesystem, so the rename
is one step (a base may be a mount of its own, a volume or a PVC), and TF Serving ignores non-numeric names.
An S3 store has no rename and no folders: a version
is uploaded under `<base>/<version>/` with `saved_model.pb` last, so a server
that lists the version before the upload ends cannot load it yet (S3 reads and
lists are strongly consistent after a write); versions are not claimed
atomically there. Other URIs (gs://) stage beside the base, `<parent>/.staging-<name>/`, and
rename through tf.io.gfile, which copies each object: what copies the base's whole prefix (KServe's storage
initializer) then gets the finished versions alone.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator

from absl import logging

from storage import fileio

STAGING_DIR, STAGING_PREFIX = ".staging", ".staging-"
STALE_STAGING_S = 3600
SAVED_MODEL_FILE = "saved_model.pb"
FINGERPRINT_FILE = "fingerprint.pb"


def staging_root(base: str) -> str:
    """Where the pushes to `base` stage their copies: in it on a filesystem, beside it on an object store."""
    if not fileio.is_uri(base):
        return fileio.join(base, STAGING_DIR)
    parent, name = base.rstrip("/").rsplit("/", 1)
    return fileio.join(parent, STAGING_PREFIX + name)


def staging_dir(base: str) -> str:
    """A staging folder of its own for one push (its name starts with the time, for remove_stale_staging)."""
    import uuid

    return fileio.join(staging_root(base), f"{int(time.time())}-{uuid.uuid4().hex}")


def publish(staged: str, base: str, version: int) -> str:
    """Moves a finished version folder (local when `base` is on S3) to `<base>/<version>`, or the next free
    version; returns its path."""
    import tensorflow as tf

    while True:
        final = fileio.join(base, str(version))
        if fileio.is_s3(base):
            if not fileio.exists(final):
                fileio.upload(staged, final, last=(SAVED_MODEL_FILE,))
                return final
        elif fileio.is_uri(base):  # a rename is a copy of each object
            if not tf.io.gfile.exists(final):
                tf.io.gfile.rename(staged, final)
                return final
        else:
            os.makedirs(base, exist_ok=True)
            try:
                os.mkdir(final)  # the claim: fails if another push has this version
            except FileExistsError:
                pass
            else:
                os.rename(staged, final)  # replaces the empty claimed folder in one step
                return final
        version += 1


def remove_stale_staging(base: str, max_age_s: float = STALE_STAGING_S) -> list[str]:
    """Removes staging folders left by pushes that died more than max_age_s ago; returns them."""
    root = staging_root(base)
    if not fileio.isdir(root):
        return []
    removed = []
    for name in fileio.listdir(root):
        started = name.split("-", 1)[0]
        if started.isdigit() and time.time() - int(started) > max_age_s:
            path = fileio.join(root, name)
            fileio.remove_tree(path)
            removed.append(path)
            logging.info("Removed %s, left by a push that did not finish.", path)
    return removed


def served_versions(base: str) -> list[str]:
    """The numbered version folders of a TF Serving base directory that hold a whole model, newest first."""
    if not base or not fileio.isdir(base):
        return []
    versions = sorted((int(v) for v in fileio.listdir(base) if v.isdigit()), reverse=True)
    return [fileio.join(base, str(v)) for v in versions if fileio.exists(fileio.join(base, str(v), SAVED_MODEL_FILE))]


def newest_version(base: str) -> str | None:
    """The version TF Serving serves: the highest numbered one that holds a whole model."""
    return next(iter(served_versions(base)), None)


def served_version_of(model_dir: str, base: str) -> str | None:
    """The newest served version holding the same SavedModel as `model_dir`, if any."""
    return next((version for version in served_versions(base) if same_saved_model(model_dir, version)), None)


def same_saved_model(a: str, b: str) -> bool:
    """SavedModels carry a fingerprint.pb of their graph and variables' checksums."""
    paths = [fileio.join(d, FINGERPRINT_FILE) for d in (a, b)]
    if not all(fileio.exists(p) for p in paths):
        return False
    return fileio.read_bytes(paths[0]) == fileio.read_bytes(paths[1])


@contextlib.contextmanager
def readable_copy(model_dir: str) -> Iterator[str]:
    """A path TensorFlow can load the SavedModel from: a local copy of one on S3, else the folder itself."""
    if not fileio.is_s3(model_dir):
        yield model_dir
        return
    with tempfile.TemporaryDirectory(prefix="served-model-") as local:
        yield fileio.download(model_dir, local)
