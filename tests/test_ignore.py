from __future__ import annotations

import datetime as dt

import pytest
import yaml

from builders import guest
from pve_backup_report.analysis.ignore import (
    IgnoreMatch,
    IgnoreRule,
    IgnoreRuleError,
    expired_rule_anomalies,
    match_ignore,
    parse_ignore_rules,
)
from pve_backup_report.model import Guest, Severity

UTC = dt.timezone.utc


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def parse_yaml(text: str) -> tuple[IgnoreRule, ...]:
    return parse_ignore_rules(yaml.safe_load(text)["ignore"])


def test_parse_all_matchers_from_yaml() -> None:
    rules = parse_yaml(
        """
ignore:
  - vmid: 100
    reason: scratch VM
  - name: "test-*"
    reason: test machines
    until: 2026-12-31
  - tag: no-backup
    reason: tagged by owner
    until: "2026-06-30T12:00:00+02:00"
  - pool: lab
    reason: lab pool
    until: 2026-01-15T08:30:00Z
"""
    )
    assert [r.matcher for r in rules] == [
        "vmid=100",
        "name=test-*",
        "tag=no-backup",
        "pool=lab",
    ]
    assert [r.index for r in rules] == [0, 1, 2, 3]
    assert rules[0].until is None and rules[0].until_text is None
    # date: inclusive end of that day in UTC
    assert rules[1].until == epoch(2027, 1, 1) - 1
    assert rules[1].until_text == "2026-12-31"
    # datetime with zone: that instant
    assert rules[2].until == epoch(2026, 6, 30, 10, 0, 0)
    assert rules[2].until_text == "2026-06-30T10:00:00Z"
    # YAML timestamp object (PyYAML builds a datetime)
    assert rules[3].until == epoch(2026, 1, 15, 8, 30)
    assert rules[3].label == "ignore[3] (pool=lab)"


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("2026-03-01", epoch(2026, 3, 2) - 1),
        (dt.date(2026, 3, 1), epoch(2026, 3, 2) - 1),
        ("2026-03-01T10:00:00", epoch(2026, 3, 1, 10)),  # naive = UTC
        ("2026-03-01T10:00:00z", epoch(2026, 3, 1, 10)),
        ("2026-03-01 10:00", epoch(2026, 3, 1, 10)),
        (dt.datetime(2026, 3, 1, 10, 0, 0, 900000), epoch(2026, 3, 1, 10)),
    ],
)
def test_until_formats(until: object, expected: int) -> None:
    (rule,) = parse_ignore_rules([{"vmid": 1, "reason": "x", "until": until}])
    assert rule.until == expected


def test_vmid_normalisation() -> None:
    (rule,) = parse_ignore_rules([{"vmid": "0100", "reason": "r"}])
    assert rule.vmid == 100


def test_none_and_empty() -> None:
    assert parse_ignore_rules(None) == ()
    assert parse_ignore_rules([]) == ()


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"vmid": 1}, "ignore: expected a list"),
        ("vmid: 1", "ignore: expected a list"),
        (["vmid"], "ignore[0]: expected a mapping"),
        ([{"reason": "r"}], "ignore[0]: needs one matcher"),
        ([{"vmid": 1}], "ignore[0].reason: is required"),
        ([{"vmid": 1, "reason": None}], "ignore[0].reason: is required"),
        ([{"vmid": 1, "reason": "  "}], "ignore[0].reason: must not be empty"),
        ([{"vmid": 1, "reason": 5}], "ignore[0].reason: expected a non-empty string"),
        ([{"vmid": 1, "reason": "r", "comment": "x"}], "ignore[0].comment: unknown key"),
        ([{"vmid": 1, "reason": "r"}, {"nmae": "x", "reason": "r"}], "ignore[1].nmae: unknown"),
        ([{"vmid": 1, "name": "x", "reason": "r"}], "ignore[0].name: only one matcher"),
        ([{"name": "", "reason": "r"}], "ignore[0].name: must not be empty"),
        ([{"name": None, "reason": "r"}], "ignore[0].name: must not be empty"),
        ([{"tag": "  ", "reason": "r"}], "ignore[0].tag: must not be empty"),
        ([{"pool": 3, "reason": "r"}], "ignore[0].pool: expected a non-empty string"),
        ([{"vmid": "abc", "reason": "r"}], "ignore[0].vmid: expected a VMID"),
        ([{"vmid": 0, "reason": "r"}], "ignore[0].vmid: expected a VMID"),
        ([{"vmid": True, "reason": "r"}], "ignore[0].vmid: expected a VMID"),
        ([{"vmid": 1, "reason": "r", "until": "2026-13-01"}], "ignore[0].until: invalid date"),
        ([{"vmid": 1, "reason": "r", "until": "tomorrow"}], "ignore[0].until: invalid date"),
        ([{"vmid": 1, "reason": "r", "until": "2026-01-01Tx"}], "ignore[0].until: invalid"),
        ([{"vmid": 1, "reason": "r", "until": 20261231}], "ignore[0].until: expected YYYY"),
    ],
)
def test_parse_errors(raw: object, fragment: str) -> None:
    with pytest.raises(IgnoreRuleError) as info:
        parse_ignore_rules(raw)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_rule_requires_exactly_one_matcher_when_built_directly() -> None:
    with pytest.raises(ValueError):
        IgnoreRule(index=0, reason="r")
    with pytest.raises(ValueError):
        IgnoreRule(index=0, reason="r", vmid=1, tag="x")


def test_matching() -> None:
    rules = parse_ignore_rules(
        [
            {"vmid": 100, "reason": "by id"},
            {"name": "Test-*", "reason": "by name"},
            {"tag": "No-Backup", "reason": "by tag"},
            {"pool": "lab", "reason": "by pool"},
        ]
    )
    now = epoch(2026, 1, 1)

    def reason(g: Guest) -> str | None:
        m = match_ignore(g, rules, now)
        return None if m is None else m.reason

    assert reason(guest(100, name="test-x")) == "by id"  # first rule wins
    assert reason(guest(101, name="test-db")) == "by name"
    assert reason(guest(101, name="TEST-db")) == "by name"  # case-insensitive glob
    assert reason(guest(101, name="mytest-db")) is None
    assert reason(guest(102, tags=("prod", "no-backup"), name="web-01")) == "by tag"
    assert reason(guest(102, tags=("no-backup-later",), name="web-01")) is None
    assert reason(guest(103, pool="lab", name="web-01")) == "by pool"
    assert reason(guest(103, pool="lab/child", name="web-01")) is None  # direct pool only
    assert reason(guest(104, name="web-01")) is None


def test_name_glob_character_class() -> None:
    rules = parse_ignore_rules([{"name": "db-[0-9]?", "reason": "r"}])
    assert match_ignore(guest(100, name="db-12"), rules, 0) is not None
    assert match_ignore(guest(100, name="db-a2"), rules, 0) is None


def test_expiry_is_inclusive_end_of_day_utc() -> None:
    rules = parse_ignore_rules([{"vmid": 100, "reason": "r", "until": "2026-12-31"}])
    last_second = epoch(2026, 12, 31, 23, 59, 59)
    assert match_ignore(guest(100, name="web-01"), rules, last_second) is not None
    assert match_ignore(guest(100, name="web-01"), rules, last_second + 1) is None
    assert rules[0].expired(last_second + 1)
    assert not rules[0].expired(last_second)


def test_expired_rule_falls_through_to_next() -> None:
    rules = parse_ignore_rules(
        [
            {"vmid": 100, "reason": "old", "until": "2020-01-01"},
            {"name": "web-*", "reason": "current"},
        ]
    )
    match = match_ignore(guest(100, name="web-01"), rules, epoch(2026, 1, 1))
    assert match is not None
    assert match.reason == "current"
    assert match.rule.index == 1


def test_match_to_json() -> None:
    rules = parse_ignore_rules([{"tag": "scratch", "reason": "temp", "until": "2026-02-03"}])
    match = match_ignore(guest(100, tags=("scratch",), name="web-01"), rules, epoch(2026, 1, 1))
    assert isinstance(match, IgnoreMatch)
    assert match.to_json() == {"reason": "temp", "rule": "tag=scratch", "until": "2026-02-03"}
    assert match.until == "2026-02-03"


def test_expired_rule_anomalies() -> None:
    rules = parse_ignore_rules(
        [
            {"vmid": 100, "reason": "old", "until": "2025-06-30"},
            {"name": "web-*", "reason": "forever"},
            {"pool": "lab", "reason": "later", "until": "2030-01-01"},
        ]
    )
    now = epoch(2026, 1, 1)
    anomalies = expired_rule_anomalies(
        rules, now, [guest(100, name="web-01"), guest(101, name="x")]
    )
    assert len(anomalies) == 1
    (a,) = anomalies
    assert a.severity is Severity.INFO
    assert a.component == "config"
    assert a.message == (
        "ignore rule ignore[0] (vmid=100) expired on 2025-06-30 and no longer applies"
    )
    assert a.details["vmids"] == [100]
    assert expired_rule_anomalies(rules, epoch(2025, 6, 30, 12)) == ()
