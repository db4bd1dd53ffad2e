"""Fast paths of text helpers that a report runs tens of thousands of times, and of the
PBS content reading (30,000 snapshots a run on 10,000 guests): each must give exactly
what the full computation gives, for any input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pve_backup_report.analysis.pbs_content import StorageContent, _snapshot, parse_content
from pve_backup_report.output.report import _escaped, md
from pve_backup_report.timeutil import iso_utc

SAMPLES = Path(__file__).parent / "fixtures" / "samples"

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


def _group_type_before(archive: str, item: Mapping[str, Any]) -> str | None:
    group = archive.split("/", 1)[0] if "/" in archive else ""
    if group in ("vm", "ct"):
        return "qemu" if group == "vm" else "lxc"
    subtype = item.get("subtype")
    if subtype == "qemu":
        return "qemu"
    return "lxc" if subtype == "lxc" else None


def _finished_before(item: Mapping[str, Any]) -> bool:
    size = item.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 1:
        return True
    verification = item.get("verification")
    return isinstance(verification, Mapping) and bool(verification.get("state"))


def _parse_content_before(storage: str, items: Any) -> StorageContent:
    """What ``parse_content`` computed before its fast path (0b9abd5, copied here with
    its ``_group_type`` and ``_finished`` so that it stays what it was; ``_snapshot``,
    which builds the newest snapshots on both sides, is shared)."""
    best: dict[tuple[int, str], tuple[int, Mapping[str, Any], str]] = {}
    archives: set[str] = set()
    count = unfinished = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        try:
            vmid = int(item["vmid"])
            ctime = int(item["ctime"])
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        volid = str(item.get("volid") or "")
        archive = volid.split(":backup/", 1)[1] if ":backup/" in volid else ""
        guest_type = _group_type_before(archive, item)
        if guest_type is None:
            continue
        count += 1
        if not _finished_before(item):
            unfinished += 1
            continue
        if archive:
            archives.add(archive)
        key = (vmid, guest_type)
        old = best.get(key)
        if old is None or ctime > old[0]:
            best[key] = (ctime, item, archive)
    newest = {k: _snapshot(storage, k, c, i, a) for k, (c, i, a) in best.items()}  # type: ignore[arg-type]
    return StorageContent(storage, newest, frozenset(archives), count, unfinished)


_VOLIDS = st.sampled_from(
    ["s:backup/vm/100/a", "s:backup/ct/100/b", "s:backup/vm", "s:backup/ct/", "s:backup/v/1",
     "s:backup/vm/1:backup/ct/2", "s:vm/1", "", "s:backup/", "s:backup/VM/1", "s:backup/qemu/1"]
)  # fmt: skip
_ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(2**62, 2**64),
    st.floats(allow_nan=True), st.sampled_from(["", "1", "x", "ok", "1e3"]),
)  # fmt: skip
_OPTIONAL = {
    "subtype": st.one_of(st.sampled_from(["qemu", "lxc", "other"]), _ANY_VALUE),
    "size": st.one_of(st.integers(-1, 3), _ANY_VALUE),
    "verification": st.one_of(
        _ANY_VALUE, st.fixed_dictionaries({}, optional={"state": _ANY_VALUE})
    ),
    "encrypted": _ANY_VALUE,
    "protected": _ANY_VALUE,
}
# as PVE writes them (vmid, ctime and volid always there), and anything at all
_USUAL_ITEM = st.fixed_dictionaries(
    {"vmid": st.integers(100, 102), "ctime": st.integers(1, 4), "volid": _VOLIDS},
    optional=_OPTIONAL,
)
_ODD_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "vmid": st.one_of(st.integers(100, 102), _ANY_VALUE),
        "ctime": st.one_of(st.integers(1, 4), _ANY_VALUE),
        "volid": st.one_of(_VOLIDS, _ANY_VALUE),
        **_OPTIONAL,
    },
)
_ITEM = st.one_of(_USUAL_ITEM, _ODD_ITEM)
_CONTENT = st.one_of(
    st.lists(st.one_of(_ITEM, _ITEM.map(MappingProxyType), _ANY_VALUE)),
    _ANY_VALUE,
)


def _one(**item: Any) -> list[dict[str, Any]]:
    return [{"vmid": 100, "ctime": 1, "volid": "s:backup/vm/100/a", **item}]


@settings(max_examples=400)
@given(_CONTENT)
@example(_one(size=1))  # PVE's size of a snapshot without a manifest
@example(_one(size=True))
@example(_one(size=2))
@example(_one(size=2**64))
@example(_one(verification={"state": "ok"}))
@example(_one(size=1, verification={"state": ""}))
@example(_one(volid="s:backup/vm", subtype="lxc"))
@example(_one(volid="s:backup/vm/", subtype="lxc"))
@example(_one(volid="s:backup/vm/1:backup/ct/2", size=5))
@example(_one(volid=123, subtype="qemu", size=5))
def test_parse_content_is_the_full_reading_for_any_answer(items: Any) -> None:
    """pve-storage ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes`` writes ``volid``
    ``<storage>:backup/<vm|ct>/<vmid>/<time>`` and ``subtype`` qemu / lxc (the module
    docstring of ``analysis/pbs_content.py``); anything else takes the full path."""
    assert parse_content("s", items) == _parse_content_before("s", items)


def test_parse_content_is_the_full_reading_of_a_real_answer() -> None:
    """A content list captured from PVE (``tests/fixtures/samples``)."""
    items = json.loads(
        (SAMPLES / "nodes-node-storage-content.pbs.community-proxmox.json").read_text()
    )
    found = parse_content("datastore", items)
    assert found == _parse_content_before("datastore", items)
    assert [s.archive for s in found.newest.values()] == ["vm/931/2023-12-14T19:36:00Z"]
