"""Label maps: the legacy pbtxt convention, the explicit YAML/JSON form, COCO categories, errors."""

from __future__ import annotations

import json

import pytest

from dataset.labelmap import LabelClass, LabelMap, LabelMapError

LEGACY = """
item {
  id: 1
  name: 'speaker076'
}
# a comment
item { id: 2 name: "mug150" }
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_legacy_pbtxt_splits_name_and_pixel_value(tmp_path):
    label_map = LabelMap.load(write(tmp_path, "label.pbtxt", LEGACY))
    assert label_map.classes == (LabelClass(1, "speaker", 76), LabelClass(2, "mug", 150))
    assert label_map.ids == (1, 2)
    assert label_map.names == ("speaker", "mug")
    assert label_map.num_classes == 2
    assert label_map.by_pixel[150].name == "mug"


def test_pbtxt_item_may_give_pixel_value_explicitly(tmp_path):
    path = write(tmp_path, "label_map.pbtxt", "item { id: 1 name: 'cup' pixel_value: 38 }")
    assert LabelMap.load(path).classes == (LabelClass(1, "cup", 38),)


def test_pbtxt_is_protobuf_text_format(tmp_path):
    text = """# label map
item: {  # the colon form
  id: 1
  name: "o\\'brien076"  # an escaped quote
  display_name: "O'Brien"
}
item < id: 2 name: 'caf\\303\\251150' >  # octal escapes: UTF-8 bytes
item: [{id: 3 name: "no # comment 200"}, {id: 4 name: "cup" pixel_value: 38}]
"""
    label_map = LabelMap.load(write(tmp_path, "label.pbtxt", text))
    assert label_map.classes == (
        LabelClass(1, "o'brien", 76),
        LabelClass(2, "café", 150),
        LabelClass(3, "no # comment", 200),
        LabelClass(4, "cup", 38),
    )


def test_pbtxt_errors_name_the_line_of_the_item(tmp_path):
    path = write(tmp_path, "label.pbtxt", "item {\n  id: 1\n  name: 'speaker076'\n}\n\nitem {\n  id: 2\n}\n")
    with pytest.raises(LabelMapError, match=r"label.pbtxt: item at line 6: needs both 'id' and 'name'"):
        LabelMap.load(path)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("item {\n  id: 1\n  colour_name: 'x'\n}", 'parse error at line 3: an item has no field named "colour_name"'),
        ("item {\n  id: 1\n  item { id: 2 }\n}", 'parse error at line 3: an item has no field named "item"'),
        ("id: 1", 'parse error at line 1: the label map has no field named "id"'),
        ("item { id: 1 name: 'a001' }\n}", "parse error at line 2: Expected identifier or number, got }"),
        ("item { id: 1 id: 2 name: 'a001' }", 'parse error at line 1: an item should not have multiple "id" fields'),
        (
            "item { id: 1 name: 'a001' }\n\nitem {\n  id: 2\n",
            "parse error at line 4: item starting at line 3 is not closed",
        ),
        ("item { id: 1 name: 'a001 }", "parse error at line 1: String missing ending quote"),
        ("item { id: 1.5 name: 'a001' }", "parse error at line 1: Couldn't parse integer: 1.5"),
        ("item { id: 1 name:", "parse error at line 1: unexpected end of the file: Expected string"),
    ],
)
def test_pbtxt_parse_errors_name_file_line_and_reason(tmp_path, text, reason):
    path = write(tmp_path, "label.pbtxt", text)
    with pytest.raises(LabelMapError) as error:
        LabelMap.load(path)
    assert str(error.value).startswith(f"{path}: {reason}")


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_explicit_form(tmp_path, suffix):
    data = {"classes": [{"id": 2, "name": "mug", "pixel_value": 150}, {"id": 1, "name": "speaker", "pixel_value": 76}]}
    text = (
        json.dumps(data)
        if suffix == ".json"
        else ("classes:\n  - {id: 2, name: mug, pixel_value: 150}\n  - {id: 1, name: speaker, pixel_value: 76}\n")
    )
    label_map = LabelMap.load(write(tmp_path, f"label_map{suffix}", text))
    assert label_map.names == ("speaker", "mug")  # sorted by id
    assert label_map.by_pixel[76].id == 1


def test_a_stated_colour_gives_the_pixel_value_and_survives_the_json_round_trip(tmp_path):
    path = write(
        tmp_path,
        "label_map.yaml",
        "classes:\n  - {id: 1, name: cup, colour: [0, 0, 230]}\n"
        "  - {id: 2, name: pot, pixel_value: 150, colour: [0, 255, 0]}\n",
    )
    label_map = LabelMap.load(path)
    assert [(c.name, c.pixel_value, c.colour) for c in label_map.classes] == [
        ("cup", 26, (0, 0, 230)),
        ("pot", 150, (0, 255, 0)),
    ]
    assert LabelMap.from_json(label_map.to_json()) == label_map


def test_json_round_trip_and_write(tmp_path):
    label_map = LabelMap.load(write(tmp_path, "label.pbtxt", LEGACY))
    assert LabelMap.from_json(label_map.to_json()) == label_map
    label_map.write(tmp_path / "out.json")
    assert LabelMap.load(tmp_path / "out.json") == label_map


def test_lookup_name_accepts_legacy_suffix(tmp_path):
    label_map = LabelMap.load(write(tmp_path, "label.pbtxt", LEGACY))
    assert label_map.lookup_name("mug").id == 2
    assert label_map.lookup_name("mug150").id == 2
    assert label_map.lookup_name("mug151") is None
    assert label_map.lookup_name("cup") is None


def test_coco_categories_get_contiguous_ids_and_keep_source_ids():
    label_map = LabelMap.from_coco_categories([{"id": 9, "name": "mug"}, {"id": 5, "name": "speaker"}])
    assert label_map.classes == (LabelClass(1, "speaker", None, source_id=5), LabelClass(2, "mug", None, source_id=9))
    assert label_map.by_source_id[9].id == 2
    assert LabelMap.from_json(label_map.to_json()) == label_map


@pytest.mark.parametrize(
    "category",
    [
        {"id": 3},
        {"id": 3, "name": ""},
        {"id": 3, "name": None},
        {"name": "cup"},
        {"id": "three", "name": "cup"},
        {"id": None, "name": "cup"},
        "cup",
    ],
)
def test_a_coco_category_without_an_integer_id_or_a_name_is_named_in_words(category):
    with pytest.raises(LabelMapError) as error:
        LabelMap.from_coco_categories([{"id": 1, "name": "mug"}, category], source="instances_train.json")
    assert str(error.value) == (
        f"instances_train.json: category 2 of 2 ({json.dumps(category)}) needs an integer 'id' and a non-empty 'name'"
    )


@pytest.mark.parametrize(
    "name, text, reason",
    [
        ("label.pbtxt", "item { id: 1 name: 'speaker076' }\nitem { id: 1 name: 'mug150' }", "duplicate class ids [1]"),
        ("label.pbtxt", "item { id: 0 name: 'speaker076' }", "must be positive"),
        ("label.pbtxt", "item { id: -1 name: 'speaker076' }", "must be positive"),
        ("label.pbtxt", "item { id: 2 name: 'speaker076' }", "must start at 1"),
        ("label.pbtxt", "item { id: 1 name: 'speaker076' }\nitem { id: 2 name: 'mug076' }", "duplicate pixel values"),
        ("label.pbtxt", "item { id: 1 name: 'speaker' }", "does not end in three digits"),
        ("label.pbtxt", "item { id: 1 name: '076' }", "no class name"),
        ("label.pbtxt", "item { id: 1 name: 'speaker076' ", "not closed"),
        ("label.pbtxt", "item { id: 1 nme 'speaker076' }", "parse error at line 1"),
        ("label.pbtxt", "", "no 'item"),
        ("label.pbtxt", "item { id: 1 name: 'speaker256' }", "must be 1..255"),
        ("label.pbtxt", "item { id: 1 name: 'speaker000' }", "must be 1..255"),
        (
            "label_map.yaml",
            "classes: [{id: 1, name: a, pixel_value: 3}, {id: 2, name: a, pixel_value: 4}]",
            "duplicate class names",
        ),
        (
            "label_map.yaml",
            "classes: [{id: 1, name: a, pixel_value: 3}, {id: 2, name: b}]",
            "every class has a pixel_value",
        ),
        ("label_map.yaml", "classes: [{id: 1, name: a, shade: 3}]", "unknown keys ['shade']"),
        ("label_map.yaml", "classes: [{id: 1, name: a, colour: 3}]", "'colour' must be [R, G, B] with integers 0-255"),
        (
            "label_map.yaml",
            "classes: [{id: 1, name: a, pixel_value: 77, colour: [255, 0, 0]}]",
            "colour [255, 0, 0] has grey value 76, not the pixel_value 77",
        ),
        ("label_map.yaml", "classes: {a: 1", "not valid YAML"),
        ("label_map.yaml", "things: []", "non-empty list under 'classes'"),
        ("label_map.json", "{classes: []}", "not valid JSON"),
        ("label_map.json", '{"classes": [{"id": "x", "name": "a", "pixel_value": 3}]}', "id must be an integer"),
    ],
)
def test_malformed_label_maps_name_file_and_reason(tmp_path, name, text, reason):
    path = write(tmp_path, name, text)
    with pytest.raises(LabelMapError) as error:
        LabelMap.load(path)
    assert str(path) in str(error.value)
    assert reason in str(error.value)


def test_find_label_map(tmp_path):
    with pytest.raises(LabelMapError, match=r"no label map .*maskrcnn-tfx labelmap"):
        LabelMap.find(tmp_path)
    write(tmp_path, "label.pbtxt", LEGACY)
    assert LabelMap.find(tmp_path) == tmp_path / "label.pbtxt"
    write(tmp_path, "label_map.yaml", "classes: []")
    with pytest.raises(LabelMapError, match="several label maps"):
        LabelMap.find(tmp_path)
