"""``label.pbtxt`` read with protobuf's text_format, without TensorFlow and without a .proto file.

The messages follow TF Object Detection's StringIntLabelMap (same field numbers for
name, id and display_name) plus this project's ``pixel_value``; like
dataset/example_proto.py they live in a private descriptor pool. ``parse`` turns
the items into classes, applying the legacy naming convention: without
``pixel_value``, ``name: 'speaker076'`` is class ``speaker`` with pixel value 76.
"""

from __future__ import annotations

import dataclasses
import re

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
_ITEM_FIELDS = (
    ("name", 1, _F.TYPE_STRING),
    ("id", 2, _F.TYPE_INT32),
    ("display_name", 3, _F.TYPE_STRING),
    ("pixel_value", 4, _F.TYPE_INT32),
)
_LEGACY_NAME = re.compile(r"^(?P<name>.*?)(?P<digits>\d{3})$")
# text_format names the messages by type; the user knows them as these.
_MESSAGE_WORDS = {'Message type "LabelMapItem"': "an item", 'Message type "LabelMap"': "the label map"}


class PbtxtError(ValueError):
    """A label.pbtxt that cannot be used; the message gives the line and the reason, not the file."""


@dataclasses.dataclass(frozen=True)
class PbtxtClass:
    id: int
    name: str
    pixel_value: int


def _build_pool() -> descriptor_pool.DescriptorPool:
    # proto2: optional fields keep their presence, so a missing id or name can be told from 0 or ''.
    file = descriptor_pb2.FileDescriptorProto(name="maskrcnn_tfx/label_map.proto", syntax="proto2")
    item = file.message_type.add(name="LabelMapItem")
    for name, number, type_ in _ITEM_FIELDS:
        item.field.add(name=name, number=number, type=type_, label=_F.LABEL_OPTIONAL)
    label_map = file.message_type.add(name="LabelMap")
    label_map.field.add(name="item", number=1, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED, type_name=".LabelMapItem")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool


_POOL = _build_pool()
LabelMapMessage = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("LabelMap"))


def parse(text: str) -> list[PbtxtClass]:
    """The classes of a label.pbtxt, in file order; PbtxtError names the line and the reason."""
    label_map = _parse_message(text)
    if not label_map.item:
        raise PbtxtError("no 'item { id: ... name: ... }' entries")
    return [
        _class_of(item, f"item at line {line}") for item, line in zip(label_map.item, _item_lines(text), strict=True)
    ]


def _parse_message(text: str) -> Message:
    label_map = LabelMapMessage()
    try:
        text_format.Parse(text, label_map, descriptor_pool=_POOL)
    except text_format.ParseError as e:
        raise PbtxtError(f"parse error at line {e.GetLine()}: {_reason(e, text)}") from e
    return label_map


def _reason(error: text_format.ParseError, text: str) -> str:
    """The error in words: without the "line:column : " and the echo of the line that text_format puts first."""
    line, reason = error.GetLine(), str(error)
    if line:
        reason = reason.partition(" : ")[2]
        if reason.startswith("'': "):  # the echo of the end of the text
            reason = "unexpected end of the file: " + reason.removeprefix("'': ")
        echoed = text.split("\n")[line - 1]
        reason = reason.removeprefix(f"'{echoed}': ")
    if reason in ('Expected "}".', 'Expected ">".'):  # only said at the end of the text
        return f"item starting at line {_item_lines(text)[-1]} is not closed"
    for type_name, words in _MESSAGE_WORDS.items():
        reason = reason.replace(type_name, words)
    return reason


def _item_lines(text: str) -> list[int]:
    """The line of each item's opening brace, in order: the parsed message keeps no positions."""
    tokenizer = text_format.Tokenizer(text.split("\n"))  # split as text_format.Parse does
    lines, depth = [], 0
    while not tokenizer.AtEnd():
        if tokenizer.token in ("{", "<"):
            if depth == 0:
                # The tokenizer keeps its position private; the error it would raise here carries the line.
                lines.append(tokenizer.ParseError("").GetLine())
            depth += 1
        elif tokenizer.token in ("}", ">"):
            depth -= 1
        tokenizer.NextToken()
    return lines


def _class_of(item: Message, where: str) -> PbtxtClass:
    if not (item.HasField("id") and item.HasField("name")):
        raise PbtxtError(f"{where}: needs both 'id' and 'name'")
    name = item.name.strip()
    if item.HasField("pixel_value"):
        return PbtxtClass(item.id, name, item.pixel_value)
    legacy = _LEGACY_NAME.match(name)
    if not legacy:
        raise PbtxtError(
            f"{where}: name {name!r} does not end in three digits; the legacy convention is "
            f"<class name><3-digit mask pixel value> (e.g. 'speaker076'), or give 'pixel_value'"
        )
    class_name = legacy.group("name").rstrip("_- ")
    if not class_name:
        raise PbtxtError(f"{where}: name {item.name!r} has digits but no class name before them")
    return PbtxtClass(item.id, class_name, int(legacy.group("digits")))
