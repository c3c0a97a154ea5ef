"""The TF Serving layout the Pusher writes: `<base>/<version>/`, each version claimed before it is renamed
into place, staging in `<base>/.staging/<time>-<random>/` (TF Serving ignores non-numeric names)."""
from __future__ import annotations

import os
import time

import tensorflow as tf
from absl import logging

from dataset import fileio

STAGING_DIR = ".staging"
STALE_STAGING_S = 3600
SAVED_MODEL_FILE = "saved_model.pb"


def staging_dir(base: str) -> str:
    """A staging folder of its own for one push (its name starts with the time, for remove_stale_staging)."""
    import uuid

    return os.path.join(base, STAGING_DIR, f"{int(time.time())}-{uuid.uuid4().hex}")


def publish(staged: str, base: str, version: int) -> str:
    """Renames a finished version folder to `<base>/<version>`, or the next free version; returns its path."""
    while True:
        final = os.path.join(base, str(version))
        if fileio.is_uri(base):  # object stores: no atomic claim, a rename is a copy of each object
            if not tf.io.gfile.exists(final):
                tf.io.gfile.rename(staged, final)
                return final
        else:
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
    staging_root = os.path.join(base, STAGING_DIR)
    if not tf.io.gfile.isdir(staging_root):
        return []
    removed = []
    for name in tf.io.gfile.listdir(staging_root):
        started = name.rstrip("/").split("-", 1)[0]
        if started.isdigit() and time.time() - int(started) > max_age_s:
            path = os.path.join(staging_root, name.rstrip("/"))
            tf.io.gfile.rmtree(path)
            removed.append(path)
            logging.info("Removed %s, left by a push that did not finish.", path)
    return removed


def newest_version(base: str) -> str | None:
    """The highest numbered version folder of a TF Serving base directory."""
    if not tf.io.gfile.isdir(base):
        return None
    versions = [v.rstrip("/") for v in tf.io.gfile.listdir(base) if v.rstrip("/").isdigit()]
    return os.path.join(base, max(versions, key=int)) if versions else None


def same_saved_model(a: str, b: str) -> bool:
    """SavedModels carry a fingerprint.pb of their graph and variables' checksums."""
    paths = [os.path.join(d, "fingerprint.pb") for d in (a, b)]
    if not all(tf.io.gfile.exists(p) for p in paths):
        return False
    with tf.io.gfile.GFile(paths[0], "rb") as fa, tf.io.gfile.GFile(paths[1], "rb") as fb:
        return fa.read() == fb.read()
