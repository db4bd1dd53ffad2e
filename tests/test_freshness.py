"""Schedule-aware freshness: weekly jobs, a stopped hourly job, a missed night, DST."""

from __future__ import annotations

from typing import Any

import pytest

from builders import LogGuest, backup_result, scenario, sim_guest, sim_node, vzdump_job, vzdump_run
from pve_backup_report.analysis.freshness import Freshness, expected_run, judge
from pve_backup_report.analysis.history import GuestBackupResult
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

T = parse_timestamp
H = 3600


def ok(started: int) -> GuestBackupResult:
    return backup_result(started=started, upid="UPID:x")


def failed(started: int) -> GuestBackupResult:
    return backup_result(started=started, status="failed", upid="UPID:y", message="boom")


def test_expected_run_is_the_latest_event_older_than_grace() -> None:
    now = T("2026-11-20T12:00:00Z")  # a Friday
    assert expected_run(["21:00"], "Europe/Paris", now, 3 * H) == T("2026-11-19T20:00:00Z")
    # weekly: last Sunday, not yesterday
    assert expected_run(["sun 03:00"], "Europe/Paris", now, 3 * H) == T("2026-11-15T02:00:00Z")
    # the newest of several jobs wins; an invalid schedule is skipped
    assert expected_run(["sun 03:00", "21:00", "bogus"], "UTC", now, 3 * H) == T(
        "2026-11-19T21:00:00Z"
    )
    # within the grace period the previous run is still the expected one
    assert expected_run(["11:00"], "UTC", now, 3 * H) == T("2026-11-19T11:00:00Z")
    assert expected_run(["2020-01-01"], "UTC", T("2019-06-01T00:00:00Z"), 0) is None


@pytest.mark.parametrize(
    ("expected", "last", "success", "readable", "want"),
    [
        (1000, ok(1010), ok(1010), True, Freshness.FRESH),
        (1000, ok(500), ok(500), True, Freshness.STALE),
        (1000, ok(1000 - 30), ok(1000 - 30), True, Freshness.FRESH),  # tolerance
        (1000, failed(1010), ok(500), True, Freshness.FAILED),
        (1000, None, None, True, Freshness.NEVER),
        (None, None, None, True, Freshness.PENDING),
        (1000, None, None, False, Freshness.UNKNOWN),
        (None, ok(10), ok(10), True, Freshness.FRESH),
    ],
)
def test_judge(
    expected: int | None,
    last: GuestBackupResult | None,
    success: GuestBackupResult | None,
    readable: bool,
    want: Freshness,
) -> None:
    r = judge(now=2000, expected=expected, history_readable=readable, last_backup=last,
              last_success=success)  # fmt: skip
    assert r.freshness is want
    assert r.age_s == (None if success is None else 2000 - (success.started or 0))


# ----------------------------------------------------------------- through the simulator


def _freshness(now: str, schedule: str, starts: list[str], tz_offset_h: int = 1) -> Any:
    """Guest 100 of job ``j``, backed up at each of ``starts`` (node pve1, UTC + offset)."""
    tasks = [
        vzdump_run([LogGuest(100)], start=T(s), end=T(s) + 30, took=20,
                   tz_offset=tz_offset_h * H, end_stamps=False)
        for s in starts
    ]  # fmt: skip
    data = scenario(
        now=now,
        nodes=[sim_node(timezone="Europe/Paris")],
        guests=[sim_guest(100, name="g")],
        jobs=[vzdump_job("j", schedule=schedule, vmid="100")],
        tasks=tasks,
    )
    with Simulator(Scenario.from_dict(data), tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)
        )
        with PveClient(settings) as client:
            a = run_assessment(settings, RunOptions(now=T(now), use_cache=False), client)
    return a.guests[0]


def test_weekly_job_is_fresh_six_days_later() -> None:
    g = _freshness("2026-11-20T12:00:00Z", "sun 03:00", ["2026-11-15T02:00:00Z"])
    assert g.freshness is Freshness.FRESH
    assert g.expected_run == T("2026-11-15T02:00:00Z")
    assert g.age_s == T("2026-11-20T12:00:00Z") - T("2026-11-15T02:00:00Z")
    assert not g.problems  # well under the default --max-age of 8 days


def test_hourly_job_that_stopped_is_stale() -> None:
    starts = [f"2026-11-20T0{h}:00:00Z" for h in range(0, 6)]  # stopped after 05:00
    g = _freshness("2026-11-20T12:00:00Z", "hourly", starts)
    assert g.freshness is Freshness.STALE
    assert g.expected_run == T("2026-11-20T09:00:00Z")  # 3 h grace


def test_a_missed_night_is_stale() -> None:
    g = _freshness("2026-11-20T12:00:00Z", "21:00", ["2026-11-18T20:00:00Z"])
    assert g.freshness is Freshness.STALE
    assert g.expected_run == T("2026-11-19T20:00:00Z")


def test_job_across_a_dst_change() -> None:
    # 02:30 Paris does not exist on 2026-03-29 (clocks jump 02:00 -> 03:00): the run is
    # skipped that day, so the Saturday backup is still the latest expected one.
    g = _freshness("2026-03-29T10:00:00Z", "02:30", ["2026-03-28T01:30:00Z"])
    assert g.expected_run == T("2026-03-28T01:30:00Z")
    assert g.freshness is Freshness.FRESH
    # the next day 02:30 CEST (00:30Z) exists again and was missed
    g = _freshness("2026-03-30T10:00:00Z", "02:30", ["2026-03-28T01:30:00Z"], tz_offset_h=2)
    assert g.expected_run == T("2026-03-30T00:30:00Z")
    assert g.freshness is Freshness.STALE
