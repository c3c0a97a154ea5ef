"""tf.train.Example built without importing TensorFlow.

Importing TensorFlow costs each Beam worker process 8-9 s warm (`import
tensorflow` in the image; this module 0.03 s),
as long as converting 700 images here (85 images/s); the workers only need to serialize
Examples. Model Garden's own writer, `official.vision.data.tf_example_builder`,
imports TensorFlow and, on the image's Python 3.13, does not import at all (its
`image_utils` imports `imghdr`, removed in Python 3.13: ModuleNotFoundError).
This declares the same messages as tensorflow/core/example/{example,feature}.proto
(same package, names and field numbers, so the bytes are tf.train.Example's) in
a private descriptor pool, which cannot clash with TensorFlow's own when both
are loaded; `tests/test_ingest.py` checks the bytes against TensorFlow's.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    name: str, number: int, type_: int, label: int = _F.LABEL_OPTIONAL, type_name: str = "", oneof: int | None = None
) -> _F:
    field = _F(name=name, number=number, type=type_, label=label)
    if type_name:
        field.type_name = type_name
    if oneof is not None:
        field.oneof_index = oneof
    return field


def _build_pool() -> descriptor_pool.DescriptorPool:
    file = descriptor_pb2.FileDescriptorProto(name="maskrcnn_tfx/example.proto", package="tensorflow", syntax="proto3")
    for name, type_ in (("BytesList", _F.TYPE_BYTES), ("FloatList", _F.TYPE_FLOAT), ("Int64List", _F.TYPE_INT64)):
        message = file.message_type.add(name=name)
        message.field.append(_field("value", 1, type_, _F.LABEL_REPEATED))  # proto3: numbers packed
    feature = file.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (name, type_name) in enumerate(
        (("bytes_list", "BytesList"), ("float_list", "FloatList"), ("int64_list", "Int64List")), start=1
    ):
        feature.field.append(_field(name, number, _F.TYPE_MESSAGE, type_name=f".tensorflow.{type_name}", oneof=0))
    features = file.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.append(_field("key", 1, _F.TYPE_STRING))
    entry.field.append(_field("value", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.Feature"))
    features.field.append(
        _field("feature", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, type_name=".tensorflow.Features.FeatureEntry")
    )
    example = file.message_type.add(name="Example")
    example.field.append(_field("features", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.Features"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool


_POOL = _build_pool()
Example = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("tensorflow.Example"))


def serialize(features: dict[str, tuple[str, list]]) -> bytes:
    """{key: ("bytes"|"float"|"int64", values)} -> serialized tf.train.Example (keys sorted)."""
    example = Example()
    for key, (kind, values) in features.items():
        values_list = getattr(example.features.feature[key], f"{kind}_list")
        values_list.SetInParent()  # an empty list keeps its kind (a negative example's per-instance features)
        values_list.value.extend(values)
    return example.SerializeToString(deterministic=True)
