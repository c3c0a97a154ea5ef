"""Every step's entrypoint (kubeflow/entrypoint.py) on the compiled package's arguments: artifacts typed as declared,
the launcher's local copies given to the executors, and an executor output the launcher would refuse refused."""

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from kubeflow_package import BEAM_ARGS, step_containers


@pytest.mark.parametrize(
    "written, message",
    [
        ('{"artifacts": {"blessing": {"artifacts": [{"metadata": {"score": NaN}}]}}}', "NaN is not JSON"),
        ('{"artifacts": {}, "parameters": {}, "logs": "x"}', 'no field named "logs"'),
    ],
)
def test_an_executor_output_the_launcher_would_refuse_is_refused_naming_the_file(tmp_path, written, message):
    """KFP's launcher reads it with protojson.Unmarshal (launcher_v2.go getExecutorOutputFile, 2.2.0 and 2.17.0)."""
    from kubeflow import entrypoint

    output = tmp_path / "output_metadata.json"
    output.write_text(written)
    with pytest.raises(entrypoint.ExecutorOutputError, match=message) as error:
        entrypoint.restore_remote_uris(str(output), {})
    assert str(output) in str(error.value)


@pytest.mark.parametrize(
    "given",
    [
        {"instanceSchema": ""},
        {"schemaTitle": "system.Dataset"},
        {"schemaTitle": "system.Artifact"},
        {"schemaTitle": "tfx.Examples"},
    ],
)
def test_the_entrypoint_types_artifacts_as_declared_and_gives_executors_the_launchers_local_copies(
    package, tmp_path, given, monkeypatch
):
    """Types as KFP 2.17's driver (an empty instance schema), other backends and kfp.local give them."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

    from kubeflow import entrypoint

    container = step_containers(package["spec"])["MaskEvaluator"]
    args, beam_args = entrypoint.parse_flags(["entrypoint", *container["args"]])
    assert beam_args == BEAM_ARGS
    (tmp_path / "minio").mkdir()
    roots = {"minio": str(tmp_path / "minio"), "s3": str(tmp_path / "s3")}  # /s3 not mounted here
    monkeypatch.setattr(entrypoint, "LOCAL_ROOTS", roots)  # the launcher's volumes, here
    executor_input = {
        "inputs": {
            "artifacts": {
                "examples": {
                    "artifacts": [
                        {
                            "name": "12",
                            "uri": "minio://mlpipeline/v2/r/ImageMaskExampleGen/u/examples",
                            "type": given,
                            "metadata": {"split_names": '["train", "eval"]', "span": 0.0, "display_name": "examples"},
                        }
                    ]
                },
                "model": {"artifacts": [{"name": "15", "uri": "s3://bucket/r/Trainer/u/model", "type": given}]},
            }
        },
        "outputs": {
            "artifacts": {
                "blessing": {
                    "artifacts": [
                        {"name": "blessing", "uri": "minio://mlpipeline/v2/r/MaskEvaluator/u/blessing", "type": given}
                    ]
                },
                "executor-logs": {
                    "artifacts": [
                        {
                            "name": "executor-logs",
                            "uri": "minio://mlpipeline/logs",
                            "type": {"schemaTitle": "system.Artifact"},
                        }
                    ]
                },
            },
            "outputFile": str(tmp_path / "minio" / "output_metadata.json"),
        },
    }
    remote = entrypoint.prepare(
        executor_input,
        json.loads(args.json_serialized_inputs_spec_args),
        json.loads(args.json_serialized_outputs_spec_args),
    )
    inputs = executor_input["inputs"]["artifacts"]
    assert (
        inputs["examples"]["artifacts"][0]["uri"] == f"{roots['minio']}/mlpipeline/v2/r/ImageMaskExampleGen/u/examples"
    )
    assert inputs["model"]["artifacts"][0]["uri"] == "s3://bucket/r/Trainer/u/model"  # no volume: left as it is
    assert list(executor_input["outputs"]["artifacts"]) == ["blessing"]  # the launcher's own output left out
    parsed = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(
        json_format.ParseDict(executor_input["inputs"], pipeline_spec_pb2.ExecutorInput.Inputs()).artifacts
    )
    examples = parsed["examples"][0]
    assert type(examples).__name__ == "Examples" and examples.split_names == '["train", "eval"]'
    assert examples.span == 0 and type(parsed["model"][0]).__name__ == "Model"

    Path(executor_input["outputs"]["outputFile"]).write_text(
        json.dumps(
            {
                "artifacts": {
                    "blessing": {
                        "artifacts": [
                            {
                                "uri": executor_input["outputs"]["artifacts"]["blessing"]["artifacts"][0]["uri"],
                                "metadata": {"blessed": 1},
                            }
                        ]
                    }
                }
            }
        )
    )
    entrypoint.restore_remote_uris(executor_input["outputs"]["outputFile"], remote)
    written = json.loads(Path(executor_input["outputs"]["outputFile"]).read_text())["artifacts"]["blessing"]
    assert written["artifacts"][0] == {
        "uri": "minio://mlpipeline/v2/r/MaskEvaluator/u/blessing",
        "metadata": {"blessed": 1},
    }
