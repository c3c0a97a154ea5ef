"""ML Metadata's value conversion as KFP's launcher and driver do it (tests/kfp_metadata.py: converter.go at 2.2.0 and
2.17.0), on known values and on what the project's executors published in a contract run
(tests/data/kfp-2.17.0-executor-output-metadata.json, each step's output metadata as the launcher read it); the
entrypoint leaves a null out (kubeflow/entrypoint.py), since the launcher would fail the step on it."""

from __future__ import annotations

import json

import pytest

import kfp_metadata
from kfp_driver import DATA
from kubeflow import entrypoint

KNOWN = {"s": "a", "n": 3, "f": 0.5, "b": True, "l": [1, "x", None, False], "st": {"a": 2, "n": None, "t": True}}


def test_values_are_stored_and_returned_as_converter_go_does():
    assert kfp_metadata.store(KNOWN) == {
        "s": {"string_value": "a"},
        "n": {"double_value": 3.0},
        "f": {"double_value": 0.5},
        "b": {"int_value": 1},
        "l": {"struct_value": {"list": [1.0, "x", None, False]}},
        "st": {"struct_value": {"struct": {"a": 2.0, "n": None, "t": True}}},
    }
    returned = kfp_metadata.round_trip(KNOWN)
    assert returned == {
        "s": "a",
        "n": 3.0,
        "f": 0.5,
        "b": 1.0,
        "l": {"list": [1.0, "x", None, False]},
        "st": {"struct": {"a": 2.0, "n": None, "t": True}},
    }  # the wrappers stay
    assert all(type(returned[k]) is float for k in ("n", "b"))
    assert kfp_metadata.round_trip({"big": 2**53 + 1})["big"] == 2**53  # a double's digits


@pytest.mark.parametrize("tag", ["2.2.0", "2.17.0"])
def test_a_null_fails_the_publish_in_converter_gos_words(tag):
    with pytest.raises(
        kfp_metadata.ConversionError, match=r"unknown/unsupported value type \*structpb.Value_NullValue"
    ):
        kfp_metadata.round_trip({"reason": None}, tag)
    assert (kfp_metadata.WORKSPACE_KEY in kfp_metadata.round_trip({kfp_metadata.WORKSPACE_KEY: True}, tag)) == (
        tag == "2.2.0"
    )


def test_what_the_executors_publish_survives_ml_metadata():
    published = json.loads((DATA / "kfp-2.17.0-executor-output-metadata.json").read_text())
    assert len(published) == 11
    for output, metadata in published.items():
        returned = kfp_metadata.round_trip(metadata)
        for key, value in metadata.items():
            if isinstance(value, dict):
                assert returned[key] == {"struct": value}, output
            else:
                assert returned[key] == value and type(returned[key]) is type(value), output
    # The Pusher reads the blessings' ints back as numbers: TFX's entrypoint takes 1.0 for 1.
    assert kfp_metadata.round_trip(published["MaskEvaluator.blessing"])["blessed"] in (0.0, 1.0)


def test_the_entrypoint_leaves_a_null_out_of_the_output_metadata(tmp_path, capsys):
    output_file = tmp_path / "output_metadata.json"
    output_file.write_text(
        json.dumps(
            {
                "artifacts": {
                    "blessing": {
                        "artifacts": [{"uri": "/minio/b/k", "metadata": {"blessed": 1, "reason": None, "l": [None]}}]
                    }
                }
            }
        )
    )
    entrypoint.restore_remote_uris(str(output_file), {})
    written = json.loads(output_file.read_text())["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    assert written == {"blessed": 1, "l": [None]}
    assert kfp_metadata.round_trip(written) == {"blessed": 1.0, "l": {"list": [None]}}
    assert "blessing.reason" in capsys.readouterr().out


def test_tfxs_entrypoint_reads_what_ml_metadata_returns():
    """kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict, as the next step's entrypoint reads its inputs: the
    blessing the Pusher checks is still the int 1 or 0; a struct comes back wrapped (nothing here reads one)."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

    published = json.loads((DATA / "kfp-2.17.0-executor-output-metadata.json").read_text())
    read = {}
    for output, title in (
        ("MaskEvaluator.blessing", "tfx.ModelBlessing"),
        ("ExampleValidator.anomalies", "tfx.ExampleAnomalies"),
    ):
        inputs = json_format.ParseDict(
            {
                "artifacts": {
                    "a": {
                        "artifacts": [
                            {
                                "name": "7",
                                "uri": "/minio/b/k",
                                "type": {"schemaTitle": title},
                                "metadata": kfp_metadata.round_trip(published[output]),
                            }
                        ]
                    }
                }
            },
            pipeline_spec_pb2.ExecutorInput.Inputs(),
        )
        read[output] = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(inputs.artifacts)["a"][0]
    assert read["MaskEvaluator.blessing"].get_int_custom_property("blessed") == int(
        published["MaskEvaluator.blessing"]["blessed"]
    )
    assert read["ExampleValidator.anomalies"].get_json_value_custom_property("blessed") == {
        "struct": published["ExampleValidator.anomalies"]["blessed"]
    }
