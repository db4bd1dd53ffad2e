"""Fast paths of text helpers that a report runs tens of thousands of times: each must
give exactly what the full computation gives, for any input."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from pve_backup_report.output.report import _escaped, md
from pve_backup_report.timeutil import iso_utc

# the characters that decide which path md() takes, plus any other text
_TRICKY = st.sampled_from(list(" \t\r\n\x0b\x85\u2028\x00\x1f\x7f&<>|`*_[]~$\\éa1-.:'()%#"))
_TEXT = st.one_of(st.text(), st.lists(_TRICKY).map("".join))


@given(_TEXT, st.one_of(st.none(), st.integers(1, 40)))
def test_md_is_the_full_escaping_for_any_text(text: str, limit: int | None) -> None:
    assert md(text, limit) == _escaped(text, limit)


def test_md_is_the_full_escaping_around_every_character() -> None:
    """Each character of the Basic Multilingual Plane, alone and inside plain text: a
    character wrongly taken as plain would be left unescaped."""
    for code in range(0x10000):
        c = chr(code)
        for text in (c, f" web-01 {c}(x) "):
            assert md(text) == _escaped(text, None), repr(text)


def test_md_leaves_plain_text_alone_and_escapes_the_rest() -> None:
    assert md("  web-01 (prod), pool=a/b  ") == "web-01 (prod), pool=a/b"
    assert md("db_1 | *x*") == "db\\_1 \\| \\*x\\*"
    assert md("a<b & c") == "a&lt;b &amp; c"
    assert md("abcdef", 4) == "abc…"


def _datetime_iso(epoch: int) -> str:
    """What ``iso_utc`` computed before it used ``time.gmtime``."""
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"@{epoch}"


@given(st.integers(-(2**64), 2**64))
def test_iso_utc_is_datetimes_text_for_any_epoch(epoch: int) -> None:
    assert iso_utc(epoch) == _datetime_iso(epoch)


def test_iso_utc_at_the_ends_of_what_datetime_represents() -> None:
    first, last = -62135596800, 253402300799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z
    # (the C library may write year 1 without leading zeros: both take the same strftime)
    assert iso_utc(first) == _datetime_iso(first) != f"@{first}"
    assert iso_utc(last) == "9999-12-31T23:59:59Z" == _datetime_iso(last)
    assert iso_utc(first - 1) == f"@{first - 1}" == _datetime_iso(first - 1)
    assert iso_utc(last + 1) == f"@{last + 1}" == _datetime_iso(last + 1)
    assert iso_utc(None) is None
