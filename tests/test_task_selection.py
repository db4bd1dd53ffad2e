"""Predicting from the job schedules which guests a vzdump task holds, and the fallback to
newest-first reading when a log shows the prediction wrong."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from builders import (
    LogGuest,
    guest,
    pbs_storage,
    scenario,
    sim_guest,
    storage,
    task_info,
    vzdump_job,
    vzdump_log,
    vzdump_run,
    vzdump_task,
)
from history_runs import assess_with, newest_first
from pve_backup_report.analysis.coverage import CoverageResult, analyse_coverage
from pve_backup_report.analysis.history import TaskInfo
from pve_backup_report.collect.inventory import normalise_job
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.task_selection import (
    TOLERANCE_S,
    RunPairing,
    TaskPredictor,
    runs_job,
)
from pve_backup_report.collect.tasks import HistoryCollection, HistoryOptions, collect_history
from pve_backup_report.model import Inventory, Node
from pve_backup_report.pve.vzdump_command import parse_vzdump_command
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

NOW = parse_timestamp("2026-11-20T12:00:00Z")  # a Friday
DAY = 86400


def _guests(results: dict[int, bool]) -> list[LogGuest]:
    """``results`` maps each guest to whether its backup succeeded (else: broken pipe)."""
    return [LogGuest(v, error=None if ok else "broken pipe") for v, ok in results.items()]


def _task(results: dict[int, bool], start: int) -> dict[str, Any]:
    """A 60 s run on pve1 at ``start``, its log without end stamps nor job summary."""
    return vzdump_run(
        _guests(results), start=start, end=start + 60, end_stamps=False, summary=False
    )


def _scenario(tasks: list[dict[str, Any]]) -> Scenario:
    """100, 101 in the ``daily`` job (21:00), 102 in the ``weekly`` one (sun 01:00)."""
    return Scenario.from_dict(
        scenario(
            now=NOW,
            guests=[sim_guest(v) for v in (100, 101, 102)],
            jobs=[
                vzdump_job("daily", vmid="100,101"),
                vzdump_job("weekly", schedule="sun 01:00", vmid="102"),
            ],
            tasks=tasks,
        )
    )


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

    a = assess_with(sim, NOW, spy)
    logs = [p for p, n in sim.stats.per_path.items() if p.endswith("/log") for _ in range(n)]
    return {g.guest.vmid: g for g in a.guests}, logs, seen[0]


def _info(start: int, task_id: str = "") -> TaskInfo:
    return task_info(start=start, end=start + 60, task_id=task_id, upid=f"UPID:{start}")


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
        assess_with(sim, NOW, newest_first)
        logs = sum(n for p, n in sim.stats.per_path.items() if p.endswith("/log"))
    assert logs == 5  # rounds of 1, 2, then 2 more (every daily run precedes the weekly)


# --------------------------------------------------------------------------------------
# Jobs sharing an event, and the node-wide vzdump lock


def _pair_dict(
    tasks: list[dict[str, Any]],
    beta_storage: str = "pbs",
    alpha: str = "21:00 100,101,102",
    beta: str = "21:00 103,104,105",
) -> dict[str, Any]:
    """Jobs ``alpha`` and ``beta``, each given as "<schedule> <vmids>"."""
    (a_schedule, a_vmids), (b_schedule, b_vmids) = alpha.split(), beta.split()
    local = {"storage": "local", "type": "dir", "path": "/var/lib/vz", "content": "backup"}
    return scenario(
        now=NOW,
        storages=[pbs_storage(), local],
        guests=[sim_guest(v) for v in range(100, 106)],
        jobs=[
            vzdump_job("alpha", schedule=a_schedule, vmid=a_vmids),
            vzdump_job("beta", schedule=b_schedule, storage=beta_storage, vmid=b_vmids),
        ],
        tasks=tasks,
    )


def _pair_scenario(tasks: list[dict[str, Any]], **jobs: str) -> Scenario:
    return Scenario.from_dict(_pair_dict(tasks, **jobs))


def _job_task(
    job: str,
    results: dict[int, bool],
    start: int,
    pstart: int,
    ran: tuple[int, int],
    storage: str = "pbs",
) -> dict[str, Any]:
    """A run of ``job`` started at ``start`` whose backups ran from ``ran[0]`` to ``ran[1]``
    (after waiting for the lock)."""
    ids = " ".join(map(str, results))
    log = vzdump_log(_guests(results), start=ran[0], command=f"vzdump {ids} --storage {storage}",
                     end_stamps=False, summary=False)  # fmt: skip
    return vzdump_task(start=start, end=ran[1], log=log, pid=4000 + pstart % 1000, pstart=pstart)


ALPHA_OK = {100: True, 101: True, 102: True}
BETA_OK = {103: True, 104: True, 105: True}


def _pairs(
    newest_alpha: dict[int, bool], *, alpha_first: bool = True, beta_storage: str = "pbs"
) -> list[dict[str, Any]]:
    """Three nights of both jobs at Thu/Wed/Tue 21:00:05, started in one scheduler pass;
    the first task started holds the lock and the other waits for it."""
    tasks = []
    for d in range(3):
        start = NOW - DAY + 9 * 3600 + 5 - d * DAY  # Thu 21:00:05 and the nights before
        pstart = 50_000_000 - d * 8_640_000
        alpha = newest_alpha if d == 0 else ALPHA_OK
        first, second = ("alpha", "beta") if alpha_first or d else ("beta", "alpha")
        results = {"alpha": alpha, "beta": BETA_OK}
        storage = {"alpha": "pbs", "beta": beta_storage}
        tasks.append(_job_task(first, results[first], start, pstart, (start, start + 600),
                               storage[first]))  # fmt: skip
        tasks.append(_job_task(second, results[second], start, pstart + 1,
                               (start + 601, start + 1200), storage[second]))  # fmt: skip
    return tasks


def test_a_run_is_paired_with_the_job_due_at_its_start() -> None:
    """For a run whose log names no guest (pve-manager ``PVE/API2/VZDump.pm``: it died in
    ``PVE::VZDump->new`` or ``getlock``, before ``exec_backup`` logged the command line)."""
    daily = NOW - DAY + 9 * 3600 + 30  # Thu 21:00:30
    predictor = _predictor()
    assert predictor.run_of([_info(daily)], 0, "UTC") == RunPairing("daily", ("daily",))
    noon = predictor.run_of([_info(NOW - 3 * DAY)], 0, "UTC")  # no job due: manual
    assert noon == RunPairing(None, ()) and not noon.ambiguous
    # a manual run two minutes after the scheduled one: which is the job's is not known
    two = [_info(daily + 120), _info(daily)]
    for i in range(2):
        assert predictor.run_of(two, i, "UTC") == RunPairing(None, ("daily",))
        assert predictor.run_of(two, i, "UTC").ambiguous


def test_a_job_pve_refuses_makes_no_task_to_pair_with() -> None:
    """pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` dies in ``get_included_guests``
    (``check_vmids`` on ``exclude``: ``strange VM ID 'x'``) before ``fork_worker``: an
    ``all`` job that never makes a task on any node, so a run at its event belongs to the
    other job due then, not to an ambiguous pair."""
    common = {"type": "vzdump", "enabled": 1, "schedule": "21:00", "storage": "pbs"}
    jobs = tuple(normalise_job(j) for j in (
        {"id": "aaa-refused", "all": 1, "exclude": "101,x", **common},
        {"id": "daily", "vmid": "100", **common},
    ))  # fmt: skip
    inventory = Inventory(
        nodes=(Node("pve1", "online", "UTC"),),
        storages=(storage("pbs"),),
        jobs=jobs,
        guests=(guest(100, name="web"),),
        pools=(),
    )
    coverage = analyse_coverage(inventory, (), NOW)
    assert coverage.jobs[0].refused is not None
    predictor = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
    daily = NOW - DAY + 9 * 3600 + 30  # Thu 21:00:30
    assert predictor.run_of([_info(daily)], 0, "UTC") == RunPairing("daily", ("daily",))


def test_at_a_shared_event_runs_are_paired_in_job_id_order_until_a_log_says_otherwise() -> None:
    """pve-manager ``PVE/Jobs.pm`` ``run_jobs`` starts the jobs due together in job-id
    order; a read log with another job's command line in that place makes it ambiguous
    (a log without a command line does not: it cannot say)."""
    thu = NOW - DAY + 9 * 3600 + 5
    with Simulator(_pair_scenario([]), tls=False) as sim:
        _, _, (inventory, coverage) = _run(sim)
    predictor = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
    later, first = (
        replace(_info(thu), upid=f"UPID:pve1:{pid}:{pstart:08X}:{thu:08X}:vzdump::root@pam:")
        for pid, pstart in ((2, 50_000_001), (1, 50_000_000))
    )  # fmt: skip
    tasks = [later, first]
    assert predictor.run_of(tasks, 1, "UTC") == RunPairing("alpha", ("alpha", "beta"))
    assert predictor.run_of(tasks, 0, "UTC") == RunPairing("beta", ("alpha", "beta"))
    predictor.guests(tasks, 1, "UTC")
    predictor.checked(first, None, frozenset({100, 101, 102}))  # a lock timeout's log
    assert predictor.run_of(tasks, 0, "UTC").job == "beta"
    beta_line = "INFO: starting new backup job: vzdump 103 104 105 --storage pbs"
    predictor.checked(first, parse_vzdump_command([beta_line]), frozenset({100, 101, 102}))
    assert predictor.run_of(tasks, 0, "UTC") == RunPairing(None, ("alpha", "beta"))


def test_jobs_sharing_an_event_are_told_apart_by_start_order() -> None:
    """pvescheduler starts the jobs due together in job-id order: the first task is
    alpha's. 100 failed in Thursday's alpha run, so Wednesday's alpha run is read for its
    success, and not Wednesday's beta run."""
    thu = NOW - DAY + 9 * 3600 + 5
    with Simulator(_pair_scenario(_pairs({100: False, 101: True, 102: True})), tls=False) as sim:
        guests, logs, (inventory, coverage) = _run(sim)
    assert guests[100].last_backup.status == "failed"
    assert guests[100].last_backup.started == thu
    assert guests[100].last_success.started == thu - DAY
    assert guests[104].last_success.started == thu + 601
    assert len(logs) == 3  # Thursday's two runs and Wednesday's alpha run, not beta's
    # the same from the predictor: the task started first (lower pstart) is alpha's
    predictor = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
    later, first = (
        replace(_info(thu), upid=f"UPID:pve1:{pid}:{pstart:08X}:{thu:08X}:vzdump::root@pam:")
        for pid, pstart in ((2, 50_000_001), (1, 50_000_000))
    )  # fmt: skip
    tasks = [later, first]
    assert predictor.guests(tasks, 0, "UTC") == frozenset({103, 104, 105})
    assert predictor.guests(tasks, 1, "UTC") == frozenset({100, 101, 102})


def test_a_peek_predicts_as_a_plain_call_and_pairs_nothing() -> None:
    """A look ahead (``guests(peek=True)``, ``_Reader._fetch_ahead``) gives what a plain
    call gives for the same task and list, remembered apart from it: it records no
    pairing, so a log read later is judged as if never peeked (``checked``), and a plain
    call after it still pairs. Once a log shows the event's pairing wrong, the peek
    answers anew (the key holds whether the event is distrusted)."""
    thu = NOW - DAY + 9 * 3600 + 5
    with Simulator(_pair_scenario([]), tls=False) as sim:
        _, _, (inventory, coverage) = _run(sim)
    later, first = (
        replace(_info(thu), upid=f"UPID:pve1:{pid}:{pstart:08X}:{thu:08X}:vzdump::root@pam:")
        for pid, pstart in ((2, 50_000_001), (1, 50_000_000))
    )  # fmt: skip
    tasks = [later, first]
    plain = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
    expected = [plain.guests(tasks, i, "UTC") for i in (0, 1)]
    peeker = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
    for _ in range(2):  # the second time from what it remembered
        assert [peeker.guests(tasks, i, "UTC", peek=True) for i in (0, 1)] == expected
    wrong = frozenset({100, 101, 102})
    beta_line = "INFO: starting new backup job: vzdump 103 104 105 --storage pbs"
    # never paired: a log read after a peek is checked against the prediction it came with
    assert peeker.checked(first, parse_vzdump_command([beta_line]), wrong) == wrong
    assert peeker.guests(tasks, 1, "UTC") == expected[1]  # a plain call pairs
    assert peeker.checked(first, parse_vzdump_command([beta_line]), wrong) == frozenset(
        {100, 101, 102, 103, 104, 105}
    )  # paired now, and the log is the other job's: the event is unpaired
    assert peeker.guests(tasks, 1, "UTC", peek=True) == frozenset({100, 101, 102, 103, 104, 105})


@pytest.mark.parametrize("beta_storage", ["local", "pbs"])
def test_siblings_started_out_of_job_order_are_all_read(beta_storage: str) -> None:
    """Thursday's first task is beta's; it was predicted to be alpha's. Its log shows
    another job's command line, so the other task of that event is read too: it is alpha's,
    and holds 100's newest (failed) backup. Believing the pairing would have taken
    Wednesday's success as 100's latest result when beta writes to a local storage (its
    log is then not looked at further); with beta on PBS, its guests in a log paired with
    alpha are explained by the unpairing and do not switch the node to newest first."""
    thu = NOW - DAY + 9 * 3600 + 5
    tasks = _pairs({100: False, 101: True, 102: True}, alpha_first=False, beta_storage=beta_storage)
    with Simulator(_pair_scenario(tasks, beta_storage=beta_storage), tls=False) as sim:
        guests, logs, _ = _run(sim)
    assert guests[100].last_backup.status == "failed"
    assert guests[100].last_backup.started == thu + 601
    assert guests[100].last_success.started == thu - DAY
    assert guests[101].last_success.started == thu + 601
    assert len(logs) == 3  # Thursday's two tasks, one after the other, and Wednesday's alpha


def test_a_sibling_without_command_line_unpairs_its_event() -> None:
    """Thursday's alpha task gave up waiting for the lock: no command line. As the first
    task of the event it is alpha's run (pvescheduler's job-id order), so alpha's guests
    fail with its error (pve-manager ``PVE/VZDump.pm`` ``getlock``). Its pairing cannot be
    checked from its log, so beta's task is read as well, and Wednesday's alpha run for
    the latest success."""
    thu = NOW - DAY + 9 * 3600 + 5
    tasks = _pairs(ALPHA_OK)
    tasks[0]["log"] = (
        "INFO: trying to get global lock - waiting...\n"
        "ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout"
    )
    tasks[0]["status"] = "unexpected status"
    with Simulator(_pair_scenario(tasks), tls=False) as sim:
        guests, logs, _ = _run(sim)
    for v in (100, 101, 102):
        assert guests[v].last_success.started == thu - DAY
        failed = guests[v].last_backup
        assert (failed.status, failed.ended) == ("failed", tasks[0]["endtime"])
        assert failed.message == "can't acquire lock '/var/run/vzdump.lock' - got timeout"
    assert guests[103].last_success.started == thu + 601
    assert len(logs) == 3  # both of Thursday's tasks and Wednesday's alpha run


def test_a_run_that_waited_for_the_lock_hides_the_older_run() -> None:
    """alpha (22:00, 100-104) starts while beta's 21:00 run (103-104) holds the node's
    vzdump lock, so it backs its guests up after beta's run ended. beta's run cannot hold a
    newer result than alpha's for 103 or 104, and its log is not read, although it ended
    after alpha's task started."""
    thu = NOW - DAY + 9 * 3600  # Thu 21:00
    tasks = []
    for d in range(2):
        beta_start = thu + 5 - d * DAY
        tasks.append(
            _job_task(
                "beta",
                {103: True, 104: True},
                beta_start,
                60_000_000 - d * 8_640_000,
                (beta_start, beta_start + 7200),
            )
        )
        alpha_start = thu + 3600 + 5 - d * DAY  # 22:00:05, waits until 23:00:05
        tasks.append(
            _job_task(
                "alpha",
                {**ALPHA_OK, 103: True, 104: True},
                alpha_start,
                60_360_000 - d * 8_640_000,
                (beta_start + 7201, beta_start + 7800),
            )
        )
    scenario = _pair_scenario(tasks, alpha="22:00 100,101,102,103,104", beta="21:00 103,104")
    with Simulator(scenario, tls=False) as sim:
        guests, logs, _ = _run(sim)
    assert guests[103].last_success.started == thu + 7206  # alpha's, after the lock wait
    assert len(logs) == 1  # Thursday's alpha run holds every guest's newest result


THU = NOW - DAY + 9 * 3600  # Thu 21:00
OVERLAP_JOBS = {"alpha": "22:00 100,101,102,103,104", "beta": "21:00 103,104"}


def _overlap() -> list[dict[str, Any]]:
    """beta's 21:00 run, without the lock's order, runs on after alpha's 22:00 run and
    fails 103 after alpha's success."""
    beta_start = THU + 5
    return [
        _job_task("beta", {103: False, 104: True}, beta_start, 60_000_000,
                  (beta_start + 4000, beta_start + 7900)),
        _job_task("alpha", {**ALPHA_OK, 103: True, 104: True}, THU + 3605, 60_360_000,
                  (THU + 3605, THU + 3900)),
    ]  # fmt: skip


def test_an_older_run_that_ended_later_is_read() -> None:
    """beta's run ended after alpha's: it may hold a newer result for 103, and is read."""
    with Simulator(_pair_scenario(_overlap(), **OVERLAP_JOBS), tls=False) as sim:
        guests, logs, _ = _run(sim)
    assert guests[103].last_backup.status == "failed"
    assert guests[103].last_success.started == THU + 3605
    assert len(logs) == 2


TASKLOGS = Path(__file__).parent / "fixtures" / "tasklogs"


@pytest.mark.parametrize(
    ("log", "job", "runs"),
    [
        # real logs (tests/fixtures/tasklogs), each against its job and a changed one
        ("vzdump-pbs-qemu-lxc-multi-guest-success.2021-04-15.checkmk.log",
         {"all": 1, "storage": "pbs-fi-backup1"}, True),
        ("vzdump-pbs-qemu-lxc-multi-guest-success.2021-04-15.checkmk.log",
         {"all": 1, "storage": "pbs-other"}, False),
        ("vzdump-pbs-qemu-lxc-multi-guest-2failed-interrupted.2021-04-11.checkmk.log",
         {"all": 1, "exclude": "112, 123", "storage": "pbs-fi-backup1"}, True),
        ("vzdump-pbs-qemu-lxc-multi-guest-2failed-interrupted.2021-04-11.checkmk.log",
         {"all": 1, "exclude": "112", "storage": "pbs-fi-backup1"}, False),
        ("vzdump-nfs-qemu-pool-success-prune.2023-09-23.checkmk.log",
         {"pool": "infr", "storage": "backup"}, True),
        ("vzdump-nfs-qemu-pool-success-prune.2023-09-23.checkmk.log",
         {"pool": "prod", "storage": "backup"}, False),
        ("vzdump-cifs-lxc-2guests-job-errors.2021-01-17.checkmk.log",
         {"vmid": "112,119,120,123", "storage": "StorageBox-219063"}, True),
        ("vzdump-cifs-lxc-2guests-job-errors.2021-01-17.checkmk.log",
         {"vmid": "112,119", "storage": "StorageBox-219063"}, False),
        ("vzdump-cifs-lxc-2guests-job-errors.2021-01-17.checkmk.log",
         {"all": 1, "storage": "StorageBox-219063"}, False),
    ],
)  # fmt: skip
def test_a_logged_command_line_is_matched_with_its_job(
    log: str, job: dict[str, Any], runs: bool
) -> None:
    command = parse_vzdump_command((TASKLOGS / log).read_text().splitlines())
    assert command is not None
    item = {"id": "backup-x", "type": "vzdump", "enabled": 1, "schedule": "21:00", **job}
    assert runs_job(command, normalise_job(item)) is runs


def test_a_finished_task_without_end_time_does_not_hide_older_runs() -> None:
    """Odd data: the task list gives alpha's newer run no end time. As the holder of 103's
    success it counts as ending when it started, so beta's older run (which ended later
    and failed 103 after alpha's success) is still read."""
    params: dict[str, str | int] = {"typefilter": "vzdump", "source": "all", "limit": 1000}
    with Simulator(_pair_scenario(_overlap(), **OVERLAP_JOBS), tls=False) as sim:
        listed = requests.get(
            f"{sim.api_url}/nodes/pve1/tasks", headers=sim.auth_header, timeout=10,
            params=params,
        ).json()  # fmt: skip
    for item in listed["data"]:
        if item["starttime"] == THU + 3605:
            del item["endtime"]
    fault = {"path": "/nodes/pve1/tasks", "body": json.dumps(listed)}
    odd = Scenario.from_dict({**_pair_dict(_overlap(), **OVERLAP_JOBS), "faults": [fault]})
    with Simulator(odd, tls=False) as sim:
        guests, logs, _ = _run(sim)
    assert guests[103].last_backup.status == "failed"
    assert len(logs) == 2


def test_tasks_and_events_of_the_same_jobs_share_one_prediction_set() -> None:
    """A large cluster has tens of thousands of tasks and scheduled events but few
    distinct job sets per node: their predictions are one shared set each (on a cold
    30,000-guest run, one set per task and event was about 40 MB of the peak)."""
    thursday = NOW - DAY + 9 * 3600 + 30  # Thu 21:00:30, the daily job's run
    wednesday = thursday - DAY
    tasks = [_info(thursday), _info(wednesday)]
    predictor = _predictor()
    first, second = (predictor.guests(tasks, i, "UTC") for i in range(2))
    assert first == frozenset({100, 101}) and first is second
    due = [held for _event, held in predictor.due("pve1", "UTC")]
    daily = [held for held in due if held == frozenset({100, 101})]
    assert len(daily) >= 14 and all(held is first for held in daily)


def test_a_task_matches_each_jobs_latest_event_within_the_tolerance() -> None:
    """``TaskPredictor._matches`` searches one list of all the node's job events (merged)
    instead of one list per job: for every start it gives what the search per job gives,
    each job's latest event at or before the start when within ``TOLERANCE_S``, in the
    jobs' order, also for a job whose events are closer together than the tolerance."""
    jobs = [
        vzdump_job("daily", vmid="100,101"),
        vzdump_job("often", schedule="*:0/2", vmid="100"),
        vzdump_job("also", schedule="21:00", vmid="102"),
    ]
    with Simulator(
        Scenario.from_dict(
            scenario(now=NOW, guests=[sim_guest(v) for v in (100, 101, 102)], jobs=jobs)
        ),
        tls=False,
    ) as sim:
        _, _, (inventory, coverage) = _run(sim)
    predictor = TaskPredictor(inventory, coverage, NOW - 3 * DAY, NOW)
    per_job = predictor._node_jobs("pve1", "UTC")
    assert {job_id for job_id, _ in per_job} == {"daily", "often", "also"}

    def by_job(start: int) -> list[tuple[str, int]]:
        found = []
        for job_id, events in per_job:
            before = [t for t in events if t <= start]
            if before and start <= before[-1] + TOLERANCE_S:
                found.append((job_id, before[-1]))
        return found

    evening = NOW - DAY + 9 * 3600  # Thu 21:00
    starts = [evening + d for d in range(-400, 700, 7)] + [NOW - 2 * DAY + 61, NOW]
    for start in starts:
        assert predictor._matches(_info(start), "UTC") == by_job(start), start
    assert [j for j, _ in predictor._matches(_info(evening + 30), "UTC")] == [j for j, _ in per_job]


def test_the_tasks_of_one_event_are_sorted_once_and_predict_as_if_alone() -> None:
    """``TaskPredictor._event_tasks`` works out the tasks of an event once per window
    and jobs (L: up to 60 tasks an event). For every task of a list mixing paired runs
    (pve-manager ``PVE/Jobs.pm`` ``run_jobs``: the jobs due together start in job-id
    order), an event with one task too many (a manual run: ambiguous), a run named by
    its guest and a start no job explains, a predictor that saw the other tasks first
    predicts and pairs what a new one, asked about that task alone, does."""
    thu = NOW - DAY + 9 * 3600 + 5
    with Simulator(_pair_scenario([]), tls=False) as sim:
        _, _, (inventory, coverage) = _run(sim)

    def run(start: int, pstart: int, task_id: str = "") -> TaskInfo:
        upid = f"UPID:pve1:{pstart % 1000:08X}:{pstart:08X}:{start:08X}:vzdump:{task_id}:root@pam:"
        return replace(_info(start, task_id), upid=upid)

    tasks = [run(thu + 2, 50_000_101, "104"), run(thu, 50_000_100), run(thu, 50_000_099)]
    tasks += [run(thu - DAY + 1, 40_000_001), run(thu - DAY, 40_000_000)]
    tue = thu - 2 * DAY
    tasks += [run(tue + 9, 30_000_003), run(tue + 1, 30_000_002), run(tue, 30_000_001)]
    tasks.append(run(tue - 3 * 3600, 30_000_000))
    shared = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
    got = [shared.guests(tasks, i, "UTC") for i in range(len(tasks))]
    for i, task in enumerate(tasks):
        alone = TaskPredictor(inventory, coverage, NOW - 15 * DAY, NOW)
        assert got[i] == alone.guests(tasks, i, "UTC"), i
        assert shared._paired.get(task.upid) == alone._paired.get(task.upid), i
    assert got[3:5] == [frozenset({103, 104, 105}), frozenset({100, 101, 102})]
    assert got[5:8] == [None, None, None]  # three tasks, two jobs due
    assert got[0] == frozenset({104})
