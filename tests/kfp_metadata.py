"""ML Metadata's keeping of an output artifact's metadata, as KFP's launcher stores it and the driver hands it to the
next step (kubeflow/pipelines `backend/src/v2/metadata/converter.go`, the same at 2.2.0 and 2.17.0):

- toMLMDArtifact / StructValueToMLMDValue (launcher, client.go RecordArtifact): each top-level value of the
  metadata Struct becomes a custom property: a string a string_value, a number a double_value, a bool an
  int_value (1 or 0), a list a struct_value `{"list": [...]}`, a struct a struct_value `{"struct": {...}}`;
  anything else, a null included ("// TODO: support null"), is the error "unknown/unsupported value type
  *structpb.Value_NullValue", which fails the step at publish time, after its work. At 2.17.0 the key
  `_kfp_workspace` is not stored.
- toRuntimeArtifact (driver, GetOutputArtifactsByExecutionId): string_value -> string, double_value and
  int_value -> number, struct_value -> that struct as it is: the `{"list": ...}` / `{"struct": ...}` wrapper is
  not taken off. What is inside a list or a struct is a google.protobuf.Value kept as it is, nulls included.
Numbers are doubles (JSON numbers; an integer over 2**53 loses digits). Values here are JSON values as Python
reads them; a number comes back as a float.
"""

from __future__ import annotations

WORKSPACE_KEY = "_kfp_workspace"  # converter.go toMLMDArtifact at 2.17.0 (not at 2.2.0)


class ConversionError(ValueError):
    """converter.go's error, in its words."""


def _numbers_as_doubles(value):
    """A google.protobuf.Value's own reading: every number a double (inside lists and structs too)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_numbers_as_doubles(v) for v in value]
    return {k: _numbers_as_doubles(v) for k, v in value.items()}


def to_mlmd_value(value) -> dict:
    """StructValueToMLMDValue: one metadata value as an ml_metadata.Value (its JSON field name and value)."""
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, bool):
        return {"int_value": int(value)}
    if isinstance(value, (int, float)):
        return {"double_value": float(value)}
    if isinstance(value, list):
        return {"struct_value": {"list": _numbers_as_doubles(value)}}
    if isinstance(value, dict):
        return {"struct_value": {"struct": _numbers_as_doubles(value)}}
    kind = "NullValue" if value is None else type(value).__name__
    raise ConversionError(
        f"failed to convert RuntimeArtifact to MLMD artifact: unknown/unsupported value type *structpb.Value_{kind}"
    )


def from_mlmd_value(value: dict):
    """toRuntimeArtifact: an ml_metadata.Value back as a metadata value."""
    ((kind, held),) = value.items()
    if kind == "string_value":
        return held
    if kind in ("double_value", "int_value"):
        return float(held)
    if kind == "struct_value":
        return held
    raise ConversionError(
        f"failed to convert MLMD artifact to RuntimeArtifact: unknown property type in MLMD artifact: {kind}"
    )


def store(metadata: dict, tag: str = "2.17.0") -> dict:
    """toMLMDArtifact's custom properties of an artifact's metadata."""
    return {k: to_mlmd_value(v) for k, v in metadata.items() if not (tag != "2.2.0" and k == WORKSPACE_KEY)}


def round_trip(metadata: dict, tag: str = "2.17.0") -> dict:
    """The metadata the next step's executor input carries for an artifact a step published with `metadata`."""
    return {k: from_mlmd_value(v) for k, v in store(metadata, tag).items()}
