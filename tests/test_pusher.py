"""The atomic pusher: a version is claimed before the rename, never overwritten, staging never left behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import tensorflow as tf
from tfx.components.evaluator import constants as evaluator_constants
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.pusher import executor as pusher
from components.serving_check import executor as check_executor
from components.util import serving


def staging(base: Path) -> Path:
    return Path(serving.staging_root(str(base)))


def saved_model(path: Path, value: float) -> Path:
    """A real (tiny) SavedModel, with a distinct fingerprint per value."""
    module = tf.Module()
    module.v = tf.Variable(value)
    module.f = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(path / "Format-Serving"))
    return path


def push(model_dir: Path, base: Path, tmp: Path, blessed: bool = True, infra_blessed: bool | None = None):
    model = standard_artifacts.Model()
    model.uri = str(model_dir)
    model.id = 1
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp / f"blessing-{time.monotonic_ns()}")
    blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY, int(blessed))
    blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp / f"pushed-{time.monotonic_ns()}")
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(base)))
    inputs = {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]}
    if infra_blessed is not None:  # what the serving check writes (components/serving_check/executor.py)
        infra = standard_artifacts.InfraBlessing()
        infra.uri = str(tmp / f"infra-{time.monotonic_ns()}")
        infra.set_int_custom_property(check_executor.BLESSED_PROPERTY, int(infra_blessed))
        inputs[standard_component_specs.INFRA_BLESSING_KEY] = [infra]
    pusher.Executor().Do(
        inputs,
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)},
    )
    return pushed


def versions(base: Path) -> list[str]:
    return sorted((v for v in os.listdir(base) if v.isdigit()), key=int)


def test_taken_versions_are_never_overwritten(tmp_path):
    base = tmp_path / "serving"
    now = int(time.time())
    for version in range(now - 1, now + 30):  # every version the next pushes could take by the clock
        (base / str(version)).mkdir(parents=True)
        (base / str(version) / "marker").write_text(str(version))
    first = push(saved_model(tmp_path / "a", 1.0), base, tmp_path)
    second = push(saved_model(tmp_path / "b", 2.0), base, tmp_path)
    assert int(first.get_string_custom_property("pushed_version")) >= now + 30
    assert int(second.get_string_custom_property("pushed_version")) > int(
        first.get_string_custom_property("pushed_version")
    )
    for version in range(now - 1, now + 30):
        assert (base / str(version) / "marker").read_text() == str(version)
    for pushed in (first, second):
        assert os.path.exists(os.path.join(pushed.get_string_custom_property("pushed_destination"), "saved_model.pb"))
    assert os.listdir(staging(base)) == []


def test_pushes_at_the_same_time_get_their_own_versions(tmp_path):
    base = tmp_path / "serving"
    models = [saved_model(tmp_path / f"m{i}", float(i)) for i in range(3)]
    results, errors = [], []

    def run(model):
        try:
            results.append(push(model, base, tmp_path))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    destinations = {r.get_string_custom_property("pushed_destination") for r in results}
    assert len(destinations) == 3 and sorted(os.path.basename(d) for d in destinations) == versions(base)
    values = sorted(float(tf.saved_model.load(d).v.numpy()) for d in destinations)
    assert values == [0.0, 1.0, 2.0]  # each version holds a whole model, none holds another's
    assert os.listdir(staging(base)) == []


def test_staging_of_a_dead_push_is_removed_and_a_failed_push_leaves_none(tmp_path):
    base = tmp_path / "serving"
    dead = staging(base) / f"{int(time.time()) - 2 * serving.STALE_STAGING_S}-dead"
    running = staging(base) / f"{int(time.time())}-running"
    for folder in (dead, running):
        (folder / "123").mkdir(parents=True)
    push(saved_model(tmp_path / "a", 1.0), base, tmp_path)
    assert sorted(os.listdir(staging(base))) == [running.name]  # another push may still be writing that one

    with pytest.raises(FileNotFoundError, match=r"no saved_model\.pb"):
        push(tmp_path / "no-such-model", base, tmp_path)
    broken = saved_model(tmp_path / "b", 2.0)
    os.symlink(tmp_path / "gone", broken / "Format-Serving" / "assets" / "gone.txt")  # the copy fails midway
    with pytest.raises((OSError, tf.errors.OpError)):  # the local copy's error, or TensorFlow's file layer's
        push(broken, base, tmp_path)
    assert sorted(os.listdir(staging(base))) == [running.name]
    assert len(versions(base)) == 1


def test_a_model_not_blessed_is_not_pushed(tmp_path):
    base = tmp_path / "serving"
    pushed = push(saved_model(tmp_path / "a", 1.0), base, tmp_path, blessed=False)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not os.path.exists(base) or versions(base) == []


def test_pushing_a_served_model_again_makes_no_second_version_and_says_which_serves_it(tmp_path, caplog):
    """Two runs with the same inputs (KFP's cache serves the second the same Trainer's model): one version."""
    base = tmp_path / "serving"
    model = saved_model(tmp_path / "a", 1.0)
    first = push(model, base, tmp_path)
    version = first.get_string_custom_property("pushed_version")
    newer = push(saved_model(tmp_path / "b", 2.0), base, tmp_path)
    with caplog.at_level("WARNING"):
        again = push(model, base, tmp_path)
    assert versions(base) == [version, newer.get_string_custom_property("pushed_version")]
    assert again.get_int_custom_property("pushed") == 1
    assert again.get_string_custom_property("pushed_version") == version
    assert again.get_string_custom_property(pusher.ALREADY_SERVED_KEY) == version
    assert again.get_string_custom_property("pushed_destination") == first.get_string_custom_property(
        "pushed_destination"
    )
    assert f"is already served as version {version}" in caplog.text and "no second version is pushed" in caplog.text


def test_a_model_the_serving_check_did_not_bless_is_not_pushed(tmp_path):
    base = tmp_path / "serving"
    refused = push(saved_model(tmp_path / "a", 1.0), base, tmp_path, infra_blessed=False)
    assert not refused.get_int_custom_property("pushed") and not base.exists()
    pushed = push(saved_model(tmp_path / "a", 1.0), base, tmp_path, infra_blessed=True)
    assert pushed.get_int_custom_property("pushed") and len(versions(base)) == 1
