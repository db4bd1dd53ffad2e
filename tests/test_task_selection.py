"""Predicting from the job schedules which guests a vzdump task holds, and the fallback to
newest-first reading when a log shows the prediction wrong."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pve_backup_report import pipeline
from pve_backup_report.collect_tasks import HistoryCollection, HistoryOptions, collect_history
from pve_backup_report.config import Secret, Settings
from pve_backup_report.coverage import CoverageResult
from pve_backup_report.history import TaskInfo
from pve_backup_report.model import Inventory
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.pve_client import PveClient
from pve_backup_report.simulator import Scenario, Simulator
from pve_backup_report.task_selection import TaskPredictor
from pve_backup_report.timeutil import iso_utc, parse_timestamp

NOW = parse_timestamp("2026-11-20T12:00:00Z")  # a Friday
DAY = 86400


def _local(t: int) -> str:
    return (iso_utc(t) or "").replace("T", " ").rstrip("Z")


def _log(results: dict[int, bool], start: int) -> str:
    """A vzdump log; ``results`` maps each guest to whether its backup succeeded."""
    lines = [f"INFO: starting new backup job: vzdump {' '.join(map(str, results))} --storage pbs"]
    for v, ok in results.items():
        lines += [
            f"INFO: Starting Backup of VM {v} (qemu)",
            f"INFO: Backup started at {_local(start)}",
        ]
        if ok:
            lines += [
                f"INFO: creating Proxmox Backup Server archive 'vm/{v}/{iso_utc(start)}'",
                f"INFO: Finished Backup of VM {v} (00:00:10)",
            ]
        else:
            lines += [f"ERROR: Backup of VM {v} failed - broken pipe"]
    failed = not all(results.values())
    lines.append("TASK ERROR: job errors" if failed else "TASK OK")
    return "\n".join(lines)


def _task(results: dict[int, bool], start: int) -> dict[str, Any]:
    failed = not all(results.values())
    return {
        "node": "pve1", "type": "vzdump", "user": "root@pam",
        "id": str(next(iter(results))) if len(results) == 1 else "",
        "starttime": start, "endtime": start + 60,
        "status": "job errors" if failed else "OK",
        "log": _log(results, start),
    }  # fmt: skip


def _scenario(tasks: list[dict[str, Any]]) -> Scenario:
    return Scenario.from_dict(
        {
            "now": NOW,
            "token": {"id": "monitor@pve!check", "secret": "s"},
            "nodes": [{"node": "pve1", "status": "online", "timezone": "UTC"}],
            "storages": [{"storage": "pbs", "type": "pbs", "server": "x", "datastore": "d",
                          "content": "backup"}],
            "guests": [{"vmid": v, "type": "qemu", "name": f"g{v}", "node": "pve1",
                        "status": "running"} for v in (100, 101, 102)],
            "jobs": [
                {"id": "daily", "type": "vzdump", "schedule": "21:00", "storage": "pbs",
                 "vmid": "100,101"},
                {"id": "weekly", "type": "vzdump", "schedule": "sun 01:00", "storage": "pbs",
                 "vmid": "102"},
            ],
            "tasks": tasks,
        }
    )  # fmt: skip


def _run(sim: Simulator) -> tuple[dict[int, Any], list[str], tuple[Inventory, CoverageResult]]:
    """Assess; the guests by VMID, the logs read, and what the history collection got."""
    seen: list[tuple[Inventory, CoverageResult]] = []

    def spy(
        client: PveClient,
        inventory: Inventory,
        coverage: CoverageResult,
        now: int,
        options: HistoryOptions,
        *rest: Any,
    ) -> HistoryCollection:
        seen.append((inventory, coverage))
        return collect_history(client, inventory, coverage, now, options, *rest)

    settings = Settings(
        hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)
    )
    original = pipeline.collect_history
    pipeline.collect_history = spy  # type: ignore[attr-defined]
    try:
        with PveClient(settings) as client:
            a = run_assessment(settings, RunOptions(now=NOW, use_cache=False), client)
    finally:
        pipeline.collect_history = original  # type: ignore[attr-defined]
    logs = [p for p, n in sim.stats.per_path.items() if p.endswith("/log") for _ in range(n)]
    return {g.guest.vmid: g for g in a.guests}, logs, seen[0]


def _info(start: int, task_id: str = "") -> TaskInfo:
    return TaskInfo(f"UPID:{start}", "pve1", start, start + 60, "OK", "vzdump", task_id, "root@pam")


def _predictor() -> TaskPredictor:
    with Simulator(_scenario([]), tls=False) as sim:
        _, _, (inventory, coverage) = _run(sim)
    return TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)


def test_prediction_of_scheduled_manual_and_single_guest_tasks() -> None:
    daily = NOW - DAY + 9 * 3600 + 30  # Thu 21:00:30, the daily job's run
    late = NOW - 2 * DAY + 9 * 3600 + 301  # Wed 21:05:01: beyond the tolerance, manual
    weekly_single = NOW - 5 * DAY - 11 * 3600 + 5  # Sun 01:00:05, one guest
    noon = NOW - 3 * DAY  # Tue 12:00, manual
    tasks = [_info(daily), _info(late), _info(weekly_single, "102"), _info(noon)]
    predictor = _predictor()
    got = [predictor.guests(tasks, i, "UTC") for i in range(len(tasks))]
    assert got[0] == frozenset({100, 101})  # matched: the daily job's guests
    assert got[1] is None  # unmatched: may hold any guest
    assert got[2] == frozenset({102})  # named by the task id
    assert got[3] is None


def test_two_tasks_at_one_event_may_hold_anything() -> None:
    """A manual run right after the scheduled one: which is which is unknown."""
    first = NOW - DAY + 9 * 3600 + 10
    second = first + 120
    tasks = [_info(second), _info(first)]
    predictor = _predictor()
    assert predictor.guests(tasks, 0, "UTC") is None
    assert predictor.guests(tasks, 1, "UTC") is None
    assert predictor.guests(tasks[1:], 0, "UTC") == frozenset({100, 101})  # alone: the job


def test_schedules_skip_logs_that_cannot_resolve_a_guest() -> None:
    thu = NOW - DAY + 9 * 3600  # Thu 21:00
    tasks = [_task({100: True, 101: True}, thu - d * DAY) for d in range(4)]
    tasks.append(_task({102: True}, NOW - 5 * DAY - 11 * 3600))  # Sun 01:00
    with Simulator(_scenario(tasks), tls=False) as sim:
        guests, logs, _ = _run(sim)
    assert len(logs) == 2  # the newest daily run and the weekly one, not 3 older dailies
    assert guests[102].last_success.started == NOW - 5 * DAY - 11 * 3600
    assert guests[100].last_success.started == thu


def test_wrong_prediction_falls_back_to_newest_first() -> None:
    """The 21:00 runs also backed up 102 (the job was changed since): the newest log shows
    the prediction wrong, so the node's older runs are read newest first and 102's success
    the day before is found, not only the older weekly one."""
    thu = NOW - DAY + 9 * 3600  # Thu 21:00
    tasks = [
        _task({100: True, 101: True, 102: False}, thu),
        _task({100: True, 101: True, 102: True}, thu - DAY),
        _task({100: True, 101: True}, thu - 2 * DAY),
        _task({102: True}, NOW - 5 * DAY - 11 * 3600),  # Sun 01:00
    ]
    with Simulator(_scenario(tasks), tls=False) as sim:
        guests, logs, _ = _run(sim)
    g = guests[102]
    assert g.last_backup.status == "failed" and g.last_backup.started == thu
    assert g.last_success.started == thu - DAY  # the prediction said {100, 101} there
    # round 1: the newest run and the weekly one (predicted to hold 102's success);
    # round 2, newest first: the run before, which holds it
    assert len(logs) == 3


def test_no_schedule_selection_reads_newest_first() -> None:
    thu = NOW - DAY + 9 * 3600
    tasks = [_task({100: True, 101: True}, thu - d * DAY) for d in range(4)]
    tasks.append(_task({102: True}, NOW - 5 * DAY - 11 * 3600))
    with Simulator(_scenario(tasks), tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)
        )
        original = pipeline.collect_history

        def newest(*args: Any) -> HistoryCollection:
            return collect_history(*args[:4], replace(args[4], schedule_selection=False), *args[5:])

        pipeline.collect_history = newest  # type: ignore[attr-defined]
        try:
            with PveClient(settings) as client:
                run_assessment(settings, RunOptions(now=NOW, use_cache=False), client)
        finally:
            pipeline.collect_history = original  # type: ignore[attr-defined]
        logs = sum(n for p, n in sim.stats.per_path.items() if p.endswith("/log"))
    assert logs == 5  # rounds of 1, 2, then 2 more (every daily run precedes the weekly)
