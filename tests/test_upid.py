"""The upstream UPID vectors (pve-common ``test/upid-test.pl``, pve-facts §3.1)."""

from __future__ import annotations

import pytest

from pve_backup_report.pve.upid import Upid, UpidError, format_upid, parse_upid

VECTORS = [
    (
        "UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:",
        Upid("example-node", 49990, 375000292, 1758930844, "aptupdate", "", "root@pam"),
    ),
    (
        "UPID:example-node:000934AF:0D015579:68BF3A41:hastart:100:root@pam:",
        Upid("example-node", 603311, 218191225, 1757362753, "hastart", "100", "root@pam"),
    ),
    (
        "UPID:example-node:000934AF:0D015579:68BF3A41:vzdump:100:"
        "91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token:",
        Upid(
            "example-node",
            603311,
            218191225,
            1757362753,
            "vzdump",
            "100",
            "91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token",
        ),
    ),
    (
        "UPID:example-node:000934AF:FFFFFFFFF:68BF3A41:fake-but-valid-type:100:root@pam:",
        Upid(
            "example-node",
            603311,
            68719476735,
            1757362753,
            "fake-but-valid-type",
            "100",
            "root@pam",
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_upstream_vectors_decode(text: str, expected: Upid) -> None:
    assert parse_upid(text) == expected


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_upstream_vectors_round_trip(text: str, expected: Upid) -> None:
    assert format_upid(parse_upid(text)) == text
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    [
        "UPID:example-node:000934AF:0D015579:68BF3A41:broken type string:100:root@pam:",
        "invalid garbage",
        "",
        "UPID:example-node:000934AF:0D015579:68BF3A41:vzdump:100:root@pam",  # no trailing colon
        "UPID:-node:000934AF:0D015579:68BF3A41:vzdump:100:root@pam:",
        "UPID:node:934AF:0D015579:68BF3A41:vzdump:100:root@pam:",  # pid not 8 digits
        "UPID:node:000934AF:0D015579:68BF3A41::100:root@pam:",  # empty type
        "UPID:node:000934AF:0D015579:68BF3A41:vzdump:1/0:root@pam:",
    ],
)
def test_invalid_upids_are_rejected(text: str) -> None:
    with pytest.raises(UpidError):
        parse_upid(text)


def test_lower_case_hex_decodes_and_encodes_upper_case() -> None:
    u = parse_upid("UPID:pve1:0000c346:165a0ce4:68d7279c:vzdump::root@pam:")
    assert (u.pid, u.pstart, u.starttime) == (49990, 375000292, 1758930844)
    assert str(u) == "UPID:pve1:0000C346:165A0CE4:68D7279C:vzdump::root@pam:"


def test_vmid_property() -> None:
    assert parse_upid(VECTORS[1][0]).vmid == 100
    assert parse_upid(VECTORS[0][0]).vmid is None
