"""TFX's Pusher, made atomic for filesystem destinations.

The standard executor copies the model straight into `<base>/<version>/`, so a
server polling `<base>` can meet a half-copied version. This one lets it copy
into a staging folder of its own, `<base>/.staging/<unique>/` (TF Serving
ignores non-numeric names), and then renames the finished version into place:
one rename on a local or POSIX filesystem. The version folder is claimed
before the rename (an empty folder made with mkdir, which fails when another
push made it first), so two pushes in the same second get two versions and no
version is ever overwritten. Staging folders of pushes that died are removed
once they are an hour old. A model that is already the newest served version
(same SavedModel fingerprint, as after a cached rerun) is not pushed again.
"""
from __future__ import annotations

import os
import time
import uuid
from typing import Any

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from dataset import fileio

STAGING_DIR = ".staging"
SAVED_MODEL_FILE = "saved_model.pb"
STALE_STAGING_S = 3600


class Executor(pusher_executor.Executor):

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        pushed = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed)
            return
        model_path = self.GetModelPath(input_dict)
        if not tf.io.gfile.exists(os.path.join(model_path, SAVED_MODEL_FILE)):
            raise FileNotFoundError(f"{model_path}: no {SAVED_MODEL_FILE}; a version without a model is not pushed")
        served = newest_version(base)
        if served and _same_saved_model(model_path, served):
            logging.info("The model is already served as %s; not pushing it again.", served)
            self._MarkPushed(pushed, pushed_destination=served, pushed_version=os.path.basename(served))
            return
        remove_stale_staging(base)
        staging = os.path.join(base, STAGING_DIR, f"{int(time.time())}-{uuid.uuid4().hex}")
        destination.filesystem.base_directory = staging
        try:
            super().Do(input_dict, output_dict, {
                **exec_properties,
                standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
            if not pushed.get_int_custom_property("pushed"):
                return
            staged = os.path.join(staging, pushed.get_string_custom_property("pushed_version"))
            final = publish(staged, base, int(pushed.get_string_custom_property("pushed_version")))
        finally:
            if tf.io.gfile.exists(staging):
                tf.io.gfile.rmtree(staging)
        pushed.set_string_custom_property("pushed_destination", final)
        pushed.set_string_custom_property("pushed_version", os.path.basename(final))


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


def _same_saved_model(a: str, b: str) -> bool:
    """SavedModels carry a fingerprint.pb of their graph and variables' checksums."""
    paths = [os.path.join(d, "fingerprint.pb") for d in (a, b)]
    if not all(tf.io.gfile.exists(p) for p in paths):
        return False
    with tf.io.gfile.GFile(paths[0], "rb") as fa, tf.io.gfile.GFile(paths[1], "rb") as fb:
        return fa.read() == fb.read()
