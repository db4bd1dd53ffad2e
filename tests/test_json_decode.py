"""``collect/json_decode.py``: orjson, when installed, decodes to ``json.loads``'s values;
what it refuses goes to the standard decoder."""

from __future__ import annotations

import json
from typing import Any

import orjson  # in the dev extra: the suite runs the fast path
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pve_backup_report.collect import http, json_decode
from pve_backup_report.collect.json_decode import UNDECODED, decode_fast, loads


def _outcome(decode: Any, data: bytes) -> tuple[str, Any]:
    try:
        value = decode(data)
    except (ValueError, RecursionError) as exc:
        return "raises", type(exc)
    return repr(value), type(value)  # repr: nan == nan, and 1 is not 1.0


ODD = [
    b'{"a": 1, "a": 2}',  # the last duplicate wins in both
    b"-0",
    b"1E400",
    b"-1e400",
    b"NaN",
    b"[Infinity, -Infinity]",
    b"18446744073709551615",
    b"-9223372036854775808",
    b'"\\ud800"',  # a lone surrogate escape
    b'"\\ud83d\\ude00"',
    "\ufeff[1]".encode(),  # a byte-order mark
    "[1]".encode("utf-16"),
    "[1]".encode("utf-32"),
    b'"\xff"',  # invalid UTF-8
    b'"caf\xc3\xa9"',
    b"1.5e-320",
    b" [ ] ",
    b"[1,]",
    b'"\x01"',
    b'"\\u0000"',
    b"123456789012345678901234567890.5",
    b"\t{}\r\n",
    b"",
    b"[" * 2000 + b"]" * 2000,  # deeper than orjson's limit
]


def _json_loads(data: bytes) -> Any:
    """``json.loads``, its RecursionError (a document nested deeper than it recurses)
    raised as the ValueError ``loads`` gives for it."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


@pytest.mark.parametrize("data", ODD, ids=range(len(ODD)))
def test_odd_json_decodes_as_json_loads_did(json_decoder: str, data: bytes) -> None:
    assert _outcome(loads, data) == _outcome(_json_loads, data)


def test_json_nested_too_deeply_is_a_value_error(json_decoder: str) -> None:
    """A damaged task cache is rebuilt and such an answer is 'not JSON' (their callers
    catch ValueError), not an internal error."""
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(deep)
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(deep)
    with pytest.raises(ValueError, match="nested too deeply"):
        http.decode_json(deep, "application/json;charset=UTF-8")


def test_an_integer_beyond_64_bits_is_the_one_difference() -> None:
    """PVE's Perl ``to_json`` (pve-http-server ``PVE/APIServer/Formatter/Standard.pm``)
    and PBS's ``serde_json`` never write one; orjson reads it as a float (or refuses it:
    then ``json`` answers)."""
    big = str(2**64).encode()
    fast = decode_fast(big)
    assert fast is UNDECODED or (type(fast) is float and fast == 2**64)
    assert repr(json.loads(big)) == str(2**64)  # an int
    assert repr(loads(big)) == repr(2**64 if fast is UNDECODED else fast)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=25,
)


@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_any_json_text_decodes_to_json_loads_value(value: Any, ascii_only: bool) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert _outcome(loads, data) == _outcome(json.loads, data)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(json_decode, "orjson", None)
        assert _outcome(loads, data) == _outcome(json.loads, data)


@given(value=JSON_VALUES)
def test_dumps_reads_back_as_the_value_with_or_without_orjson(value: Any) -> None:
    """The task cache's encoder (``json_decode.dumps``): compact, and read back as the
    value it was given, through orjson or ``json``."""
    assert json.loads(json_decode.dumps(value)) == value
    with pytest.MonkeyPatch.context() as m:
        m.setattr(json_decode, "orjson", None)
        text = json_decode.dumps(value)
        assert text == json.dumps(value, separators=(",", ":"))
        assert json.loads(text) == value


def test_dumps_hands_what_orjson_refuses_to_json() -> None:
    """A lone surrogate (a log line ``json`` decoded from an escape) and an integer
    beyond 64 bits: orjson refuses them, ``json`` writes them (escaped, so the file
    stays valid UTF-8)."""
    for value in ({"m": "broken \ud800 pipe"}, [2**64 + 1]):
        text = json_decode.dumps(value)
        assert text == json.dumps(value, separators=(",", ":"))
        text.encode("utf-8")
        assert json.loads(text) == value
    assert json_decode.dumps({"m": "café"}) == '{"m":"café"}'  # orjson: UTF-8 as is


def test_orjson_decodes_what_it_takes_and_hands_back_the_rest() -> None:
    assert json_decode.orjson is orjson  # type: ignore[attr-defined]
    assert decode_fast(b'{"data": [1, "a"]}') == {"data": [1, "a"]}
    assert decode_fast(b"NaN") is UNDECODED
    assert decode_fast(b'"\xff"') is UNDECODED


def test_a_body_over_the_limit_goes_to_json() -> None:
    """orjson holds its parse tree, about twice the text, before it builds the objects:
    the largest answers (PBS content, ``/cluster/resources``, the task cache) go to
    ``json``, which holds one copy. A padded body at the limit is still orjson's, one
    byte over is ``json``'s (its 2**64 stays an int)."""
    pad = json_decode.FAST_MAX_BYTES - len(b'{"n": , "p": ""}') - len(str(2**64))
    at_limit = b'{"n": %d, "p": "%s"}' % (2**64, b"x" * pad)
    assert len(at_limit) == json_decode.FAST_MAX_BYTES
    over = at_limit.replace(b'"p": "', b'"p": "x')
    fast = decode_fast(at_limit)
    assert fast is UNDECODED or type(fast["n"]) is float  # orjson's reading, or refused
    assert decode_fast(over) is UNDECODED
    assert loads(over)["n"] == 2**64 and type(loads(over)["n"]) is int


def test_without_orjson_nothing_is_decoded_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_decode, "orjson", None)
    assert decode_fast(b"[1]") is UNDECODED
    assert loads(b"[1]") == [1]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        # PVE's answer (``application/json;charset=UTF-8``), invalid bytes replaced
        (b'{"data": "caf\xc3\xa9"}', "application/json;charset=UTF-8", {"data": "café"}),
        (b'{"data": "bad \xff"}', "application/json;charset=UTF-8", {"data": "bad \ufffd"}),
        # a text type without charset is ISO-8859-1 (requests): never the UTF-8 decoder
        (b'{"data": "caf\xc3\xa9"}', "text/plain", {"data": "cafÃ©"}),
        (b'{"data": "caf\xe9"}', "application/json; charset=latin-1", {"data": "café"}),
        ('{"data": 1}'.encode("utf-16"), None, {"data": 1}),
    ],
)
def test_the_body_charset_decides_as_before(
    json_decoder: str, body: bytes, content_type: str | None, expected: Any
) -> None:
    assert http.decode_json(body, content_type) == expected
