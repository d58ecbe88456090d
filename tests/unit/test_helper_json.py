"""The backend's get/list answers are decoded without the json module; the result must always be json's."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docker_credential_imgpkg.client import _string_object
from docker_credential_imgpkg.client import json_object as _json_object

strings = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
objects = st.dictionaries(strings, strings, max_size=6)


def go_style(doc: dict[str, str]) -> str:
    """What Go's encoding/json writes: compact, and <, >, & (and U+2028/9) as \\u escapes."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text + "\n"


@settings(max_examples=400, deadline=None)
@given(objects, st.sampled_from(["go", "ascii", "spaced", "indented"]))
def test_string_objects_decode_as_json_does(doc: dict[str, str], style: str) -> None:
    text = {
        "go": go_style(doc),
        "ascii": json.dumps(doc),
        "spaced": " \r\n" + json.dumps(doc, separators=(" , ", " : ")) + "\t\n",
        "indented": json.dumps(doc, indent="\t"),
    }[style]
    assert _json_object(text) == json.loads(text) == doc
    escaped_pairs = style != "go" and any(ord(c) > 0xFFFF for item in doc.items() for c in "".join(item))
    if not escaped_pairs:  # \ud83d\ude00-style pairs are left to json, which joins them
        assert _string_object(text) == doc


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='{}[]":,\\ u0123456789abcdefnrtTRUEnull\n\t\x00\x1f\ud83d\ude00é<', max_size=30))
def test_anything_else_is_left_to_json(text: str) -> None:
    found = _string_object(text)
    try:
        expected = json.loads(text)
    except ValueError:
        assert found is None
        with pytest.raises(ValueError):
            _json_object(text)
        return
    assert found is None or found == expected
    assert _json_object(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"Username":"\\ud83d\\ude00"}',  # a surrogate pair: json joins it
        '{"Username":"\\ud83d"}',  # a lone surrogate
        '{"a":"x\u0001"}',  # raw control character: json refuses it
        '{"a":1}',
        '{"a":null}',
        '{"a":"b"} {}',
        '{"a":"b",}',
        '{"a":"\\x41"}',
        '{"a":"\\u00e"}',
        "\ufeff{}",
        "null",
        "",
    ],
)
def test_edge_cases_agree_with_json(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            _json_object(text)
    else:
        assert _json_object(text) == expected
