"""TFX's Pusher, made atomic for filesystem destinations.

The standard executor copies the model straight into `<base>/<version>/`, so a
server polling `<base>` can meet a half-copied version. This one lets it copy
into a staging folder of its own, `<base>/.staging/<unique>/` (TF Serving ignores non-numeric names; on gs://
beside the base, out of what a copy of its prefix takes: serving.py), and then renames the finished version into place:
one rename on a local or POSIX filesystem. The version folder is claimed
before the rename (an empty folder made with mkdir, which fails when another
push made it first), so two pushes in the same second get two versions and no
version is ever overwritten. Staging folders of pushes that died are removed
once they are an hour old. On S3 the version is staged on local disk and
uploaded with its `saved_model.pb` last (serving.py). A model that is already
served (the same SavedModel fingerprint in a version folder, as when KFP's cache
serves a second run the same Trainer's model) is not pushed again: the push
says so, naming the version, and reports that version as its destination.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.util import serving
from storage import fileio

ALREADY_SERVED_KEY = "already_served"  # the PushedModel's property: the version that already held the model


class Executor(pusher_executor.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        pushed = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed)
            return
        model_path = self.GetModelPath(input_dict)
        if not fileio.exists(fileio.join(model_path, serving.SAVED_MODEL_FILE)):
            raise FileNotFoundError(
                f"{model_path}: no {serving.SAVED_MODEL_FILE}; a version without a model is not pushed"
            )
        served = serving.served_version_of(model_path, base)
        if served:
            newest = serving.newest_version(base)
            logging.warning(
                "%s is already served as version %s (%s)%s; no second version is pushed.",
                model_path,
                os.path.basename(served),
                served,
                "" if newest == served else f", and a newer version, {os.path.basename(newest)}, is served",
            )
            self._MarkPushed(pushed, pushed_destination=served, pushed_version=os.path.basename(served))
            pushed.set_string_custom_property(ALREADY_SERVED_KEY, os.path.basename(served))
            return
        serving.remove_stale_staging(base)
        # TFX's copy writes through tf.io.gfile, which has no S3: there the version is staged on local disk.
        with tempfile.TemporaryDirectory(prefix="push-") as local:
            staging = os.path.join(local, "version") if fileio.is_s3(base) else serving.staging_dir(base)
            destination.filesystem.base_directory = staging
            try:
                super().Do(
                    input_dict,
                    output_dict,
                    {
                        **exec_properties,
                        standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination),
                    },
                )
                if not pushed.get_int_custom_property("pushed"):
                    return
                version = pushed.get_string_custom_property("pushed_version")
                final = serving.publish(fileio.join(staging, version), base, int(version))
            finally:
                if fileio.exists(staging):
                    fileio.remove_tree(staging)
        pushed.set_string_custom_property("pushed_destination", final)
        pushed.set_string_custom_property("pushed_version", os.path.basename(final))
