"""A log read once in the thread that fetched it (``scan_log``), then judged by the
reader against the guests its run was to back up (``parse_task``), gives what reading
and judging it at once gave: real logs from ``fixtures/tasklogs`` and the edge cases
(no log, empty, ``no content``, a line that is no string, a time zone that is none).

The split follows what the parse needs: the lines and the node's time zone for the
reading; the command line (pve-guest-common ``PVE/VZDump/Common.pm`` ``command_line``)
or the job paired with a run that died before it (pve-manager ``PVE/API2/VZDump.pm``
``vzdump``) only for the guests expected, which only the reader knows.
"""

from __future__ import annotations

from typing import Any

import pytest

from builders import task_info
from pve_backup_report.analysis.history import (
    HistoryDataError,
    parse_task,
    scan_log,
)
from test_history import BERLIN, FIXTURES, load

LOGS = sorted(p.name for p in FIXTURES.glob("*.log"))


@pytest.mark.parametrize("name", LOGS)
@pytest.mark.parametrize("tz", [BERLIN, "UTC", None, "Not/AZone"])
@pytest.mark.parametrize("expected", [None, frozenset(), frozenset({100, 101, 112, 999})])
def test_a_log_scanned_apart_is_judged_as_one_read_at_once(
    name: str, tz: str | None, expected: frozenset[int] | None
) -> None:
    task = task_info(start=1618437600, end=1618441200, status="OK")
    log = load(name)
    at_once = parse_task(task, log, expected, tz)
    assert parse_task(task, log, expected, tz, scan_log(log, tz)) == at_once
    assert at_once.results or at_once.anomalies  # the logs say something


@pytest.mark.parametrize("log", [None, [], ["no content"], ["", "   "], ["TASK OK"]])
def test_edge_logs_scanned_apart(log: list[str] | None) -> None:
    task = task_info(start=1618437600, end=1618441200, status="OK")
    expected = frozenset({100})
    at_once = parse_task(task, log, expected, BERLIN)
    assert parse_task(task, log, expected, BERLIN, scan_log(log, BERLIN)) == at_once


@pytest.mark.parametrize(
    ("log", "tz"), [(["INFO: starting new backup job", 7], BERLIN), (["TASK OK"], 3)]
)
def test_unusable_inputs_raise_the_same_error(log: list[Any], tz: Any) -> None:
    task = task_info(start=1618437600, end=1618441200, status="OK")
    with pytest.raises(HistoryDataError) as at_once:
        parse_task(task, log, None, tz)
    with pytest.raises(HistoryDataError) as apart:
        parse_task(task, log, None, tz, scan_log(log, tz))
    assert str(apart.value) == str(at_once.value)
