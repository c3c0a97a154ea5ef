"""TFX's Pusher, made atomic for filesystem destinations.

The standard executor copies the model straight into `<base>/<version>/`, so a
server polling `<base>` can meet a half-copied version. This one lets it copy
into `<base>/.staging/` (TF Serving ignores non-numeric names) and then renames
the finished version into place: one rename on a local or POSIX filesystem.
A model that is already the newest served version (same SavedModel
fingerprint, as after a cached rerun) is not pushed a second time.
"""
from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

STAGING_DIR = ".staging"


class Executor(pusher_executor.Executor):

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        pushed = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        served = newest_version(base)
        if served and self.CheckBlessing(input_dict) and _same_saved_model(self.GetModelPath(input_dict), served):
            logging.info("The model is already served as %s; not pushing it again.", served)
            self._MarkPushed(pushed, pushed_destination=served, pushed_version=os.path.basename(served))
            return
        staging = os.path.join(base, STAGING_DIR)
        destination.filesystem.base_directory = staging
        super().Do(input_dict, output_dict, {
            **exec_properties,
            standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})

        if not pushed.get_int_custom_property("pushed"):
            return
        version = pushed.get_string_custom_property("pushed_version")
        final = os.path.join(base, version)
        if tf.io.gfile.exists(final):
            raise FileExistsError(f"{final} exists already: a model was pushed in the same second")
        tf.io.gfile.rename(os.path.join(staging, version), final)
        pushed.set_string_custom_property("pushed_destination", final)


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
