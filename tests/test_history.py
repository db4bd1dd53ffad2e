"""Tests of analysis/history.py: vzdump tasks and logs -> per-guest backup results."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import task_info
from pve_backup_report.analysis.history import (
    GUEST_STATUSES,
    JOB_STATUSES,
    GuestBackupResult,
    HistoryDataError,
    ResultStatus,
    TaskInfo,
    latest_results,
    parse_task,
    task_from_api,
    task_status_kind,
)
from pve_backup_report.model import Severity
from pve_backup_report.pve.upid import Upid, format_upid

FIXTURES = Path(__file__).parent / "fixtures" / "tasklogs"
BERLIN = "Europe/Berlin"


def load(name: str) -> list[str]:
    """A fixture log as the collector hands it over: one string per API line."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def utc(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp())


def by_vmid(results: tuple[GuestBackupResult, ...]) -> dict[int, GuestBackupResult]:
    out = {r.vmid: r for r in results}
    assert len(out) == len(results), "one result per guest expected"
    return out


def archive_name(r: GuestBackupResult) -> str:
    kind = "ct" if r.guest_type == "lxc" else "vm"
    assert r.started is not None
    stamp = datetime.fromtimestamp(r.started, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{kind}/{r.vmid}/{stamp}"


# --------------------------------------------------------------------------- real logs


SUCCESS_LOG = "vzdump-pbs-qemu-lxc-multi-guest-success.2021-04-15.checkmk.log"
INTERRUPTED_LOG = "vzdump-pbs-qemu-lxc-multi-guest-2failed-interrupted.2021-04-11.checkmk.log"
CIFS_LOG = "vzdump-cifs-lxc-2guests-job-errors.2021-01-17.checkmk.log"
POOL_LOG = "vzdump-nfs-qemu-pool-success-prune.2023-09-23.checkmk.log"
TEMPLATE_LOG = "vzdump-nfs-qemu-template-stop-mode-guest-section.2023-10-01.checkmk.log"
CEPH_LOG = "vzdump-pbs-ceph-lxc-single-ok-but-job-errors.2021-05-17.checkmk.log"


def test_fixture_logs_all_present_and_documented() -> None:
    logs = sorted(p.name for p in FIXTURES.glob("*.log"))
    assert logs == sorted(
        [SUCCESS_LOG, INTERRUPTED_LOG, CIFS_LOG, POOL_LOG, TEMPLATE_LOG, CEPH_LOG]
    )
    source = (FIXTURES / "SOURCE.md").read_text(encoding="utf-8")
    for name in logs:
        assert name in source


def test_real_multi_guest_success() -> None:
    task = task_info(start=utc("2021-04-15T18:00:01"), end=utc("2021-04-15T18:25:24"))
    parse = parse_task(task, load(SUCCESS_LOG), tz=BERLIN)

    durations = {
        101: 86, 102: 26, 105: 47, 110: 68, 117: 286, 126: 56, 130: 33, 131: 54, 132: 94,
        135: 97, 136: 48, 137: 125, 141: 21, 142: 63, 144: 36, 145: 286, 150: 8, 156: 18,
        157: 52, 158: 14,
    }  # fmt: skip
    assert [r.vmid for r in parse.results] == list(durations)
    assert parse.job_status == "ok"
    assert parse.job_error is None
    assert parse.anomalies == ()
    assert parse.log_available
    for r in parse.results:
        assert r.status == "ok"
        assert r.message is None
        assert r.duration_s == durations[r.vmid]
        assert r.guest_type == ("lxc" if r.vmid in (110, 142, 144) else "qemu")
        assert r.node == "pve1"
        assert r.upid == task.upid
        # the PBS snapshot name is the (UTC) start time: checks the Europe/Berlin conversion
        assert r.archive == archive_name(r)
        assert r.started is not None and r.ended is not None
        assert r.ended - r.started == r.duration_s
    first = parse.results[0]
    assert (first.started, first.ended) == (utc("2021-04-15T18:00:02"), utc("2021-04-15T18:01:28"))
    assert first.archive == "vm/101/2021-04-15T18:00:02Z"
    assert parse.skipped_external == (
        100, 103, 104, 106, 107, 108, 109, 111, 112, 113, 114, 115, 116, 118, 119, 120, 121,
        122, 123, 124, 125, 127, 128, 129, 133, 134, 138, 139, 140, 143, 146, 147, 148, 149,
        151, 152, 153, 154, 155, 159, 601, 602, 603, 996, 997, 998, 999, 9000,
    )  # fmt: skip


def test_real_multi_guest_two_failed_then_interrupted() -> None:
    task = task_info(
        start=utc("2021-04-11T10:15:01"),
        end=utc("2021-04-11T13:05:07"),
        status="interrupted by signal",
    )
    # 158 is a local guest the job never reached; 100 lives on another node
    parse = parse_task(task, load(INTERRUPTED_LOG), expected_vmids={100, 101, 158}, tz=BERLIN)
    res = by_vmid(parse.results)

    ok_durations = {
        101: 547, 102: 109, 105: 339, 110: 288, 130: 573, 131: 291, 132: 491, 135: 250,
        136: 1510, 141: 234, 142: 158, 144: 72, 145: 1193, 150: 149, 156: 82,
    }  # fmt: skip
    assert list(res) == [
        101, 102, 105, 110, 117, 126, 130, 131, 132, 135, 136, 137, 141, 142, 144, 145,
        150, 156, 157, 158,
    ]  # fmt: skip
    for vmid, duration in ok_durations.items():
        assert res[vmid].status == "ok", vmid
        assert res[vmid].duration_s == duration
        assert res[vmid].message is None
        assert res[vmid].archive == archive_name(res[vmid])

    # a non-fatal ERROR line inside a guest that still finished -> warning
    assert res[137].status == "warning"
    assert res[137].duration_s == 2302
    assert res[137].message == (
        "VM 137 qmp command 'guest-fsfreeze-thaw' failed - got wrong command id "
        "'25315026' (expected 22126031)"
    )

    assert res[117].status == "failed"
    assert res[117].message == "VM 117 qmp command 'backup' failed - got timeout"
    assert (res[117].started, res[117].ended) == (
        utc("2021-04-11T10:36:26"),
        utc("2021-04-11T10:37:27"),
    )
    assert res[117].duration_s == 61
    assert res[117].archive == "vm/117/2021-04-11T10:36:26Z"
    assert res[126].status == "failed"
    assert res[126].message == "VM 126 qmp command 'backup' failed - got timeout"
    assert res[126].duration_s == 66

    assert res[157].status == "failed"
    assert res[157].message == "interrupted by signal"
    assert res[157].ended == utc("2021-04-11T13:05:06")
    assert res[157].duration_s == 1487

    # never reached because the job was killed: failed with the job error
    assert res[158].status == "failed"
    assert res[158].message == "interrupted by signal"
    assert (res[158].started, res[158].ended) == (None, task.endtime)
    assert 100 not in res and 100 in parse.skipped_external

    assert parse.job_status == "failed"
    assert parse.job_error == "interrupted by signal"
    assert parse.anomalies == ()


def test_real_cifs_two_guests_failed() -> None:
    task = task_info(
        start=utc("2021-01-17T01:30:01"), end=utc("2021-01-17T03:47:38"), status="job errors"
    )
    parse = parse_task(task, load(CIFS_LOG), expected_vmids={112, 119, 120, 123}, tz=BERLIN)
    res = by_vmid(parse.results)
    assert list(res) == [119, 120]
    for vmid in (119, 120):
        r = res[vmid]
        assert r.status == "failed"
        assert r.guest_type == "lxc"
        assert r.archive is None  # not a PBS storage
        assert r.message is not None
        assert r.message.startswith("command 'set -o pipefail && lxc-usernsexec")
        assert r.message.endswith(
            f"vzdump-lxc-{vmid}-2021_01_17-"
            + ("02_30_02" if vmid == 119 else "02_45_53")
            + ".tar.dat' failed: exit code 1"
        )
    assert (res[119].started, res[119].ended, res[119].duration_s) == (
        utc("2021-01-17T01:30:02"),
        utc("2021-01-17T01:45:52"),
        950,
    )
    assert (res[120].started, res[120].ended, res[120].duration_s) == (
        utc("2021-01-17T01:45:53"),
        utc("2021-01-17T03:47:37"),
        7304,
    )
    assert parse.skipped_external == (112, 123)
    assert parse.job_status == "failed"
    assert parse.job_error == "job errors"
    assert parse.anomalies == ()


def test_real_cifs_without_time_zone_reads_utc_and_says_so() -> None:
    task = task_info(
        start=utc("2021-01-17T01:30:01"), end=utc("2021-01-17T03:47:38"), status="job errors"
    )
    parse = parse_task(task, load(CIFS_LOG))
    assert parse.results[0].started == utc("2021-01-17T02:30:02")
    assert [(a.severity, a.component) for a in parse.anomalies] == [(Severity.INFO, "tasks")]
    assert "read as UTC" in parse.anomalies[0].message
    assert task.upid in parse.anomalies[0].message


def test_real_pool_job_single_guest_task() -> None:
    task = task_info(
        start=utc("2023-09-23T02:35:00"), end=utc("2023-09-23T02:35:30"), task_id="255"
    )
    parse = parse_task(task, load(POOL_LOG), tz=BERLIN)
    (r,) = parse.results
    assert (r.vmid, r.status, r.guest_type, r.message, r.archive) == (255, "ok", "qemu", None, None)
    assert r.duration_s == 0
    assert r.started == r.ended == utc("2023-09-23T02:35:29")
    assert parse.skipped_external == (666,)
    assert parse.job_status == "ok"
    assert parse.job_error is None
    assert parse.anomalies == ()


def test_real_template_guest_section_only() -> None:
    task = task_info(
        start=utc("2023-10-01T05:00:00"), end=utc("2023-10-01T05:00:48"), task_id="9001"
    )
    parse = parse_task(task, load(TEMPLATE_LOG), tz=BERLIN)
    (r,) = parse.results
    assert (r.vmid, r.status, r.guest_type, r.duration_s) == (9001, "ok", "qemu", 46)
    assert (r.started, r.ended) == (utc("2023-10-01T05:00:01"), utc("2023-10-01T05:00:47"))
    assert parse.job_status == "ok"
    # no TASK line although the task status is known: the log is incomplete
    assert len(parse.anomalies) == 1
    assert "incomplete" in parse.anomalies[0].message


def test_real_template_section_with_unexpected_status_keeps_finished_guest() -> None:
    task = task_info(
        start=utc("2023-10-01T05:00:00"),
        end=utc("2023-10-01T05:00:48"),
        task_id="9001",
        status="unexpected status",
    )
    parse = parse_task(task, load(TEMPLATE_LOG), expected_vmids=[9001], tz=BERLIN)
    (r,) = parse.results
    assert r.status == "ok"
    assert parse.job_status == "unknown"
    assert parse.job_error is None
    assert parse.anomalies == ()


def test_real_ceph_single_ok_but_job_errors() -> None:
    task = task_info(
        start=utc("2021-05-17T18:15:01"), end=utc("2021-05-17T18:15:37"), status="job errors"
    )
    parse = parse_task(task, load(CEPH_LOG), expected_vmids={103, 100}, tz=BERLIN)
    (r,) = parse.results  # 100 is external (skip line), nothing filled in
    assert (r.vmid, r.status, r.guest_type, r.duration_s) == (103, "ok", "lxc", 34)
    assert r.archive == "ct/103/2021-05-17T18:15:02Z" == archive_name(r)
    assert r.ended == utc("2021-05-17T18:15:36")
    assert len(parse.skipped_external) == 38
    assert parse.skipped_external[:3] == (100, 101, 102) and parse.skipped_external[-1] == 9000
    assert parse.job_status == "failed"
    assert parse.job_error == "job errors"
    messages = [a.message for a in parse.anomalies]
    assert len(messages) == 2
    assert "incomplete" in messages[0]
    assert "names no failed guest" in messages[1]


# --------------------------------------------------------------------------- synthetic logs


def guest_ok(vmid: int, t: str = "02:00", kind: str = "qemu", dur: str = "00:00:10") -> list[str]:
    return [
        f"INFO: Starting Backup of VM {vmid} ({kind})",
        f"INFO: Backup started at 2024-01-01 {t}:00",
        "INFO: status = running",
        f"INFO: creating Proxmox Backup Server archive '{'vm' if kind == 'qemu' else 'ct'}/"
        f"{vmid}/2024-01-01T{t}:00Z'",
        f"INFO: Finished Backup of VM {vmid} ({dur})",
        f"INFO: Backup finished at 2024-01-01 {t}:10",
    ]


HEADER = ["INFO: starting new backup job: vzdump --all 1 --storage pbs1 --mode snapshot"]


def test_pre_check_failure_without_starting_line() -> None:
    log = [
        *HEADER,
        "ERROR: Backup of VM 999 failed - unable to find VM '999'",
        "INFO: Failed at 2024-01-01 02:00:01",
        *guest_ok(100, "02:01"),
        "INFO: Backup job finished with errors",
        "",
        "TASK ERROR: job errors",
    ]
    parse = parse_task(task_info(end=1704067300, status="job errors"), log, [100, 999, 101])
    res = by_vmid(parse.results)
    assert list(res) == [999, 100]  # 101 not in the log, but the job ran to its end
    assert res[999].status == "failed"
    assert res[999].message == "unable to find VM '999'"
    assert (res[999].started, res[999].ended, res[999].duration_s) == (
        None,
        utc("2024-01-01T02:00:01"),
        None,
    )
    assert res[999].guest_type is None and res[999].archive is None
    assert res[100].status == "ok"
    assert parse.job_status == "failed"
    assert parse.job_error == "job errors"


def test_multi_line_guest_error() -> None:
    log = [
        "INFO: Starting Backup of VM 100 (qemu)",
        "ERROR: Backup of VM 100 failed - first line of the error",
        "ERROR: second line",
        "INFO: Failed at 2024-01-01 02:00:05",
        "ERROR: Backup job failed - something else later",
        "TASK ERROR: job errors",
    ]
    parse = parse_task(task_info(status="job errors"), log)
    (r,) = parse.results
    assert r.message == "first line of the error second line"
    assert parse.job_error == "something else later"


@pytest.mark.parametrize(
    "task_line", [None, "TASK ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout"]
)
def test_lock_timeout_fails_expected_guests(task_line: str | None) -> None:
    lock_msg = "can't acquire lock '/var/run/vzdump.lock' - got timeout"
    log = ["INFO: trying to get global lock - waiting...", f"ERROR: {lock_msg}"]
    status = "unexpected status"
    if task_line is not None:
        log.append(task_line)
        status = lock_msg
    task = task_info(start=1704067200, end=1704078000, status=status)
    parse = parse_task(task, log, expected_vmids={101, 100})
    assert [(r.vmid, r.status, r.message) for r in parse.results] == [
        (100, "failed", lock_msg),
        (101, "failed", lock_msg),
    ]
    assert all(r.started is None and r.ended == 1704078000 for r in parse.results)
    assert parse.job_status == "failed"
    assert parse.job_error == lock_msg


def test_storage_activation_failure_multi_guest() -> None:
    err = "could not activate storage 'pbs1': pbs1: error fetching datastores - 500 Can't connect"
    task = task_info(end=1704067203, status=err)
    parse = parse_task(task, [f"TASK ERROR: {err}"], expected_vmids=[102, 100, 101])
    assert [(r.vmid, r.status, r.message) for r in parse.results] == [
        (100, "failed", err),
        (101, "failed", err),
        (102, "failed", err),
    ]
    assert parse.job_status == "failed"
    assert parse.job_error == err
    assert parse.anomalies == ()


def test_storage_activation_failure_single_guest_task_needs_no_expected_list() -> None:
    err = "could not activate storage 'pbs1': pbs1: error fetching datastores"
    task = task_info(start=1704067200, end=1704067203, status=err, task_id="100")
    (r,) = parse_task(task, [f"TASK ERROR: {err}"]).results
    assert (r.vmid, r.status, r.message) == (100, "failed", err)
    assert (r.started, r.ended) == (1704067200, 1704067203)


def test_a_dead_runs_reason_is_the_task_error_not_an_earlier_error_line() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``new``: when activating the storage fails it first
    calls ``send_notification`` and, when that fails too, logs ``ERROR: <notification
    error>`` (``debugmsg('err', $@)``), then dies with the storage error, which the worker
    writes as ``TASK ERROR:`` (pve-common ``src/PVE/RESTEnvironment.pm`` ``fork_worker``).
    The reason PVE gives is the ``TASK ERROR`` text (finding X4)."""
    err = (
        "could not activate storage 'pbs1': pbs1: error fetching datastores - "
        "500 Can't connect to 192.0.2.10:8007 (Connection timed out)"
    )
    log = [
        "ERROR: could not notify via target `mail-to-root`: failed to run 'sendmail'",
        f"TASK ERROR: {err}",
    ]
    task = task_info(end=1704067263, status=err)
    parse = parse_task(task, log, expected_vmids=[100, 101])
    assert {(r.vmid, r.status, r.message) for r in parse.results} == {
        (100, "failed", err),
        (101, "failed", err),
    }
    assert parse.job_error == err


@pytest.mark.parametrize("status", ["0", "unexpected status", ""])
def test_a_perl_false_or_unexpected_task_status_is_never_ok(status: str) -> None:
    """pve-common ``src/PVE/Tools.pm`` ``upid_normalize_status_type``: ``!$status`` (``""``,
    ``"0"``) and ``unexpected status`` are ``unknown``, never ``ok``: a guest whose section
    never ended fails, a single-guest task without a log fails."""
    assert task_status_kind(status) == "unknown"
    log = [*HEADER, "INFO: Starting Backup of VM 100 (qemu)"]
    (r,) = parse_task(task_info(end=1704070800, status=status), log).results
    assert r.status == "failed"
    task = task_info(end=1704070800, status=status, task_id="100")
    (r,) = parse_task(task, None).results
    assert r.status == "failed"


def test_running_task() -> None:
    log = [
        *HEADER,
        *guest_ok(100, "02:00"),
        "INFO: Starting Backup of VM 101 (lxc)",
        "INFO: Backup started at 2024-01-01 02:01:00",
        "INFO: creating Proxmox Backup Server archive 'ct/101/2024-01-01T02:01:00Z'",
    ]
    for task in (task_info(status="RUNNING", end=None), task_info(status=None, end=None)):
        parse = parse_task(task, log, expected_vmids={100, 101, 102}, tz="UTC")
        res = by_vmid(parse.results)
        assert list(res) == [100, 101]  # 102 not reached yet: no result
        assert res[100].status == "ok" and res[100].duration_s == 10
        assert res[101].status == "running"
        assert (res[101].started, res[101].ended, res[101].duration_s) == (
            utc("2024-01-01T02:01:00"),
            None,
            None,
        )
        assert res[101].archive == "ct/101/2024-01-01T02:01:00Z"
        assert parse.job_status == "running"
        assert parse.job_error is None
        assert parse.anomalies == ()


def test_running_status_but_log_already_has_task_line() -> None:
    parse = parse_task(task_info(status="RUNNING"), [*guest_ok(100), "TASK OK"], tz="UTC")
    assert parse.job_status == "ok"
    assert parse.results[0].status == "ok"


def test_no_task_line_task_over() -> None:
    log = [
        *HEADER,
        *guest_ok(100, "02:00"),
        "INFO: Starting Backup of VM 101 (qemu)",
        "INFO: Backup started at 2024-01-01 02:01:00",
    ]
    parse = parse_task(task_info(status="unexpected status", end=1704078000), log, tz="UTC")
    res = by_vmid(parse.results)
    assert res[100].status == "ok"
    assert res[101].status == "failed"
    assert res[101].message == "backup did not finish (task ended: unexpected status)"
    assert res[101].ended is None  # multi-guest task: no fallback to the task end
    assert parse.job_status == "failed"
    assert parse.job_error is None

    parse = parse_task(task_info(status=None, end=1704078000), log, tz="UTC")
    assert by_vmid(parse.results)[101].message == (
        "backup did not finish (task ended: unexpected status)"
    )


def test_unfinished_guest_in_a_task_that_ended_ok_takes_the_task_verdict() -> None:
    log = [*HEADER, *guest_ok(100), "INFO: Starting Backup of VM 101 (qemu)"]  # log cut off
    parse = parse_task(task_info(status="OK", end=1704078000), log, tz="UTC")
    res = by_vmid(parse.results)
    assert res[101].status == "ok"
    assert res[101].message == "log incomplete; result taken from the task status"
    assert parse.job_status == "ok"
    assert len(parse.anomalies) == 1 and "incomplete" in parse.anomalies[0].message


def test_warn_lines_make_a_finished_guest_warning() -> None:
    log = [
        *HEADER,
        "INFO: Starting Backup of VM 100 (qemu)",
        "INFO: Backup started at 2024-01-01 02:00:00",
        "WARN: EFI disk without 'ms-cert=2023w' option, suggesting that not all UEFI 2023 "
        "certificates",
        "INFO: some progress",
        "WARN: second warning",
        "INFO: Finished Backup of VM 100 (00:01:00)",
        "INFO: Backup finished at 2024-01-01 02:01:00",
        *guest_ok(101, "02:02"),
        "WARN: job-level warning after the guests",
        "INFO: Backup job finished successfully",
        "TASK WARNINGS: 3",
    ]
    parse = parse_task(task_info(status="WARNINGS: 3"), log, tz="UTC")
    res = by_vmid(parse.results)
    assert res[100].status == "warning"
    assert res[100].message == (
        "EFI disk without 'ms-cert=2023w' option, suggesting that not all UEFI 2023 "
        "certificates (+1 more)"
    )
    assert res[101].status == "ok"
    assert parse.job_status == "warning"
    assert parse.job_error is None


def test_three_digit_hours_in_duration() -> None:
    log = [
        "INFO: Starting Backup of VM 100 (qemu)",
        "INFO: Finished Backup of VM 100 (123:04:05)",
        "TASK OK",
    ]
    (r,) = parse_task(task_info(status="OK"), log).results
    assert r.duration_s == 123 * 3600 + 4 * 60 + 5
    assert r.started is None and r.ended is None  # multi-guest task, no time lines


def test_unprefixed_and_blank_lines_are_ignored() -> None:
    log = [
        *HEADER,
        "",
        "INFO: Starting Backup of VM 100 (lxc)",
        "/dev/rbd12",
        "   ",
        "Starting Backup of VM 555 (qemu)",  # no prefix: tool output, not a section
        "Removing snap: 100% complete...done.",
        "INFO: Finished Backup of VM 100 (00:00:34)",
        "",
        "TASK OK",
    ]
    parse = parse_task(task_info(), log)
    assert [(r.vmid, r.status) for r in parse.results] == [(100, "ok")]


def test_crlf_and_trailing_spaces_tolerated() -> None:
    log = [line + " \r" for line in guest_ok(100)] + ["TASK OK\r"]
    (r,) = parse_task(task_info(), log, tz="UTC").results
    assert (r.status, r.duration_s, r.started) == ("ok", 10, utc("2024-01-01T02:00:00"))


def test_single_guest_times_fall_back_to_the_task() -> None:
    log = ["INFO: Starting Backup of VM 100 (qemu)", "INFO: Finished Backup of VM 100 (00:00:20)"]
    task = task_info(start=1704067200, end=1704067230, task_id="100")
    (r,) = parse_task(task, [*log, "TASK OK"]).results
    assert (r.started, r.ended, r.duration_s) == (1704067200, 1704067230, 20)
    # no Finished duration either: endtime - starttime
    log = ["INFO: Starting Backup of VM 100 (qemu)", "ERROR: Backup of VM 100 failed - boom"]
    (r,) = parse_task(task, [*log, "TASK ERROR: job errors"]).results
    assert (r.status, r.message, r.duration_s) == ("failed", "boom", 30)


def test_skip_external_vms_and_expected_guests_on_other_nodes() -> None:
    log = [*HEADER, "INFO: skip external VMs: 200, 201", "ERROR: Backup job failed - hook failed"]
    parse = parse_task(task_info(status="hook failed", end=1704067300), log, {100, 200})
    assert parse.skipped_external == (200, 201)
    assert [(r.vmid, r.status, r.message) for r in parse.results] == [
        (100, "failed", "hook failed")
    ]


def test_dst_and_time_zones() -> None:
    log = [
        "INFO: Starting Backup of VM 100 (qemu)",
        "INFO: Backup started at 2024-01-15 02:00:00",  # CET (+1)
        "INFO: Finished Backup of VM 100 (00:00:01)",
        "INFO: Backup finished at 2024-01-15 02:00:01",
        "INFO: Starting Backup of VM 101 (qemu)",
        "INFO: Backup started at 2024-07-15 02:00:00",  # CEST (+2)
        "INFO: Finished Backup of VM 101 (00:00:01)",
        "TASK OK",
    ]
    res = by_vmid(parse_task(task_info(), log, tz=BERLIN).results)
    assert res[100].started == utc("2024-01-15T01:00:00")
    assert res[101].started == utc("2024-07-15T00:00:00")
    bad = parse_task(task_info(), log, tz="Mars/Olympus_Mons")
    assert by_vmid(bad.results)[100].started == utc("2024-01-15T02:00:00")
    assert [a.severity for a in bad.anomalies] == [Severity.WARNING]
    assert "Mars/Olympus_Mons" in bad.anomalies[0].message


def test_unparseable_time_is_ignored() -> None:
    log = [
        "INFO: Starting Backup of VM 100 (qemu)",
        "INFO: Backup started at 2024-13-45 25:61:61",
        "INFO: Finished Backup of VM 100 (00:00:01)",
        "TASK OK",
    ]
    (r,) = parse_task(task_info(), log, tz="UTC").results
    assert r.started is None and r.status == "ok"


# --------------------------------------------------------------------------- log unavailable

UNAVAILABLE = [
    None,
    [],
    ["no content"],
    ["unable to open file - No such file or directory"],
    ["", "  "],
]


@pytest.mark.parametrize("log", UNAVAILABLE)
@pytest.mark.parametrize(
    ("status", "end", "want_status", "want_message", "job_status"),
    [
        ("OK", 1704067260, "ok", None, "ok"),
        ("WARNINGS: 2", 1704067260, "warning", "task ended with WARNINGS: 2", "warning"),
        ("some error", 1704067260, "failed", "some error", "failed"),
        ("RUNNING", None, "running", None, "running"),
        ("unexpected status", 1704067260, "failed", "task ended: unexpected status", "unknown"),
    ],
)
def test_log_unavailable_single_guest(
    log: list[str] | None,
    status: str,
    end: int | None,
    want_status: str,
    want_message: str | None,
    job_status: str,
) -> None:
    task = task_info(start=1704067200, end=end, status=status, task_id="100")
    parse = parse_task(task, log)
    (r,) = parse.results
    assert (r.vmid, r.status, r.message) == (100, want_status, want_message)
    assert r.started == 1704067200
    assert r.ended == end
    assert r.duration_s == (None if end is None else 60)
    assert parse.job_status == job_status
    assert not parse.log_available
    (a,) = parse.anomalies
    assert (a.severity, a.component) == (Severity.WARNING, "tasks")
    assert task.upid in a.message and "unavailable" in a.message


@pytest.mark.parametrize("log", UNAVAILABLE)
def test_log_unavailable_multi_guest(log: list[str] | None) -> None:
    ok = parse_task(task_info(end=1704067900), log, expected_vmids={101, 100})
    assert [(r.vmid, r.status, r.started, r.ended, r.duration_s) for r in ok.results] == [
        (100, "ok", 1704067200, 1704067900, None),
        (101, "ok", 1704067200, 1704067900, None),
    ]
    assert len(ok.anomalies) == 1

    warn = parse_task(task_info(end=1704067900, status="WARNINGS: 1"), log, expected_vmids={100})
    assert [(r.status, r.message) for r in warn.results] == [
        ("warning", "task ended with WARNINGS: 1 (guest unknown)")
    ]

    failed = parse_task(task_info(end=1704067900, status="job errors"), log, expected_vmids={100})
    assert failed.results == ()  # cannot tell which guest failed
    assert failed.job_status == "failed" and failed.job_error == "job errors"
    (a,) = failed.anomalies
    assert "unknown" in a.message and a.details["upid"] == failed.task.upid

    unknown = parse_task(task_info(end=1704067900), log)  # no expected guests at all
    assert unknown.results == ()
    assert len(unknown.anomalies) == 1


# --------------------------------------------------------------------------- task records


def test_task_status_kind() -> None:
    assert task_status_kind("OK") == "ok"
    assert task_status_kind("WARNINGS: 2") == "warning"
    assert task_status_kind("WARNINGS: x") == "error"
    assert task_status_kind(None) == "unknown"
    assert task_status_kind("") == "unknown"
    assert task_status_kind("unexpected status") == "unknown"
    assert task_status_kind("RUNNING") == "running"
    assert task_status_kind("job errors") == "error"
    assert task_status_kind("interrupted by signal") == "error"


def test_task_from_api_item() -> None:
    item = {
        "upid": "UPID:pve1:000003E8:00001B58:6B09491D:vzdump:100:root@pam:",
        "node": "pve1",
        "pid": 1000,
        "pstart": 7000,
        "starttime": 1795770653,
        "type": "vzdump",
        "id": "100",
        "user": "root@pam",
        "endtime": 1795770660,
        "status": "OK",
    }
    t = task_from_api(item)
    assert t == TaskInfo(
        str(item["upid"]), "pve1", 1795770653, 1795770660, "OK", "vzdump", "100", "root@pam"
    )
    assert t.vmid == 100 and not t.is_running


def test_task_from_api_fills_missing_fields_from_the_upid() -> None:
    t = task_from_api(
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "status": "RUNNING"}
    )
    assert (t.node, t.starttime, t.endtime, t.type, t.id, t.user) == (
        "pve2", 0x6955B900, None, "vzdump", "", "root@pam",
    )  # fmt: skip
    assert t.vmid is None and t.is_running
    t = task_from_api(
        {
            "upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump:100:root@pam:",
            "id": 100,
            "starttime": "1767225600",
        }
    )
    assert (t.id, t.starttime) == ("100", 1767225600)


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"upid": 5},
        {"upid": "not a upid"},
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "endtime": "soon"},
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "endtime": True},
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "starttime": -1},
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "status": 3},
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "node": "pve9"},
        {"upid": "UPID:pve2:0000ABCD:00001234:6955B900:vzdump::root@pam:", "id": [1]},
    ],
)
def test_task_from_api_rejects_bad_items(item: dict[str, Any]) -> None:
    with pytest.raises(HistoryDataError):
        task_from_api(item)


def test_parse_task_rejects_bad_input() -> None:
    with pytest.raises(HistoryDataError, match="not 'vzdump'"):
        parse_task(task_info(task_type="srvreload"), ["TASK OK"])
    with pytest.raises(HistoryDataError):
        parse_task(task_info(), ["TASK OK", 5])  # type: ignore[list-item]
    with pytest.raises(HistoryDataError):
        parse_task(task_info(), ["TASK OK"], expected_vmids=["100"])  # type: ignore[list-item]


def test_to_json_keys() -> None:
    (r,) = parse_task(task_info(), [*guest_ok(100), "TASK OK"], tz="UTC").results
    assert r.to_json() == {
        "status": "ok",
        "started": utc("2024-01-01T02:00:00"),
        "ended": utc("2024-01-01T02:00:10"),
        "duration_s": 10,
        "node": "pve1",
        "upid": r.upid,
        "message": None,
        "archive": "vm/100/2024-01-01T02:00:00Z",
    }


# --------------------------------------------------------------------------- latest_results


def result(
    vmid: int, status: ResultStatus, started: int | None, task_start: int, node: str = "pve1"
) -> GuestBackupResult:
    upid = format_upid(Upid(node, 1, 1, task_start, "vzdump", "", "root@pam"))
    return GuestBackupResult(vmid, status, started, None, None, node, upid, None)


def test_latest_results() -> None:
    old_ok = result(100, "ok", 1000, 900)
    newer_warn = result(100, "warning", 2000, 1900)
    newest_fail = result(100, "failed", 3000, 2900)
    precheck_fail = result(101, "failed", None, 5000)  # no start time: the task start counts
    ok_101 = result(101, "ok", 4000, 3900)
    running = result(102, "running", 6000, 5900)
    hist = latest_results([old_ok, newest_fail, newer_warn, ok_101, precheck_fail, running])
    assert list(hist) == [100, 101, 102]
    assert hist[100].last_backup == newest_fail
    assert hist[100].last_success == newer_warn
    assert hist[101].last_backup == precheck_fail
    assert hist[101].last_success == ok_101
    assert hist[102].last_backup == running
    assert hist[102].last_success is None
    assert hist[100].to_json()["last_success"]["status"] == "warning"
    assert latest_results([]) == {}


def test_latest_results_ties_are_deterministic() -> None:
    a = result(100, "ok", 1000, 900, node="pve1")
    b = result(100, "failed", 1000, 900, node="pve2")  # same times, other node's task
    c = result(100, "ok", 1000, 950, node="pve1")  # same start, later task
    answers = {
        (latest_results(p)[100].last_backup, latest_results(p)[100].last_success)
        for p in itertools.permutations([a, b, c])
    }
    assert answers == {(c, c)}
    assert {latest_results(p)[100].last_backup for p in itertools.permutations([a, b])} == {
        max(a, b, key=lambda r: r.upid)
    }


# --------------------------------------------------------------------------- properties

_LINE_TEMPLATES = st.sampled_from(
    [
        "INFO: Starting Backup of VM {v} (qemu)",
        "INFO: Starting Backup of VM {v} (lxc)",
        "INFO: Finished Backup of VM {v} ({h}:07:09)",
        "ERROR: Backup of VM {v} failed - {t}",
        "INFO: Backup started at 20{y}-0{m}-1{m} 0{m}:00:00",
        "INFO: Backup finished at 20{y}-12-31 23:59:{y}",
        "INFO: Failed at 99{y}-0{m}-3{m} 24:00:00",
        "INFO: creating Proxmox Backup Server archive '{t}'",
        "INFO: skip external VMs: {v}, {t}, {h}",
        "ERROR: Backup job failed - {t}",
        "ERROR: {t}",
        "WARN: {t}",
        "TASK OK",
        "TASK WARNINGS: {h}",
        "TASK ERROR: {t}",
        "INFO: Backup job finished with errors",
        "INFO: Backup job finished successfully",
        "no content",
        "unable to open file - {t}",
        "{t}",
        "",
    ]
)


@st.composite
def log_line(draw: st.DrawFn) -> str:
    template = draw(_LINE_TEMPLATES)
    return template.format(
        v=draw(st.integers(min_value=0, max_value=10**12)),
        h=draw(st.sampled_from(["0", "00", "123", "9" * 20, "-1"])),
        y=draw(st.sampled_from(["00", "24", "99"])),
        m=draw(st.sampled_from(["0", "1", "9"])),
        t=draw(st.text(max_size=30)),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.one_of(log_line(), st.text(max_size=60)), max_size=40),
    status=st.one_of(
        st.none(),
        st.sampled_from(["OK", "WARNINGS: 1", "job errors", "RUNNING", "unexpected status", ""]),
        st.text(max_size=10),
    ),
    end=st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)),
    task_id=st.sampled_from(["", "100", "0", "1" * 12, "abc"]),
    expected=st.one_of(st.none(), st.sets(st.integers(min_value=1, max_value=200), max_size=5)),
    tz=st.sampled_from([None, "", "UTC", BERLIN, "Not/AZone", "../etc"]),
)
def test_arbitrary_logs_never_raise(
    lines: list[str],
    status: str | None,
    end: int | None,
    task_id: str,
    expected: set[int] | None,
    tz: str | None,
) -> None:
    task = task_info(start=1704067200, end=end, status=status, task_id=task_id)
    try:
        parse = parse_task(task, lines, expected, tz)
    except HistoryDataError:  # allowed by the contract (never happens for string lines)
        return
    assert parse.job_status in JOB_STATUSES
    for r in parse.results:
        assert r.status in GUEST_STATUSES
        assert r.upid == task.upid and r.node == task.node
        assert r.duration_s is None or r.duration_s >= 0
        assert r.message is None or len(r.message) <= 2100
    assert all(0 < v < 10**9 for v in parse.skipped_external)
    latest_results(parse.results)


def test_large_log_parses_every_result() -> None:
    """~105,000 lines: every guest section is parsed (speed is bench/run.py's business)."""
    lines = load(INTERRUPTED_LOG)
    big = lines[:-3] * 100 + lines[-3:]  # ~105,000 lines
    task = task_info(start=utc("2021-04-11T10:15:01"), end=utc("2021-04-11T13:05:07"))
    parse = parse_task(task, big, tz=BERLIN)
    assert len(parse.results) == 19 * 100


_ZONES = ("Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Africa/Monrovia",
          "Asia/Kathmandu", "Pacific/Chatham", "UTC")  # fmt: skip


@given(
    st.sampled_from(_ZONES),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2045, 12, 31)),
)
def test_local_log_times_read_as_datetime_reads_them(zone_name: str, local: datetime) -> None:
    """``Backup started at`` is node-local wall time (pve-manager ``PVE/VZDump.pm``
    ``exec_backup_task``: ``strftime("%F %H:%M:%S", localtime())``). ``_local_epoch``
    asks the zone once per minute; it gives what ``datetime(..., tzinfo=zone)
    .timestamp()`` gives (fold 0) for every second, through daylight-saving changes,
    half-hour ones (Lord Howe) and odd historical offsets (Monrovia, Kathmandu)."""
    from zoneinfo import ZoneInfo

    from pve_backup_report.analysis.history import _local_epoch

    zone = ZoneInfo(zone_name)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    expected = int(local.replace(microsecond=0, tzinfo=zone).timestamp())
    assert _local_epoch(text, zone) == expected
    # a second time in that minute: the zone's answer for the minute is reused
    later = local.replace(second=59 - local.second, microsecond=0)
    again = later.strftime("%Y-%m-%d %H:%M:%S")
    assert _local_epoch(again, zone) == int(later.replace(tzinfo=zone).timestamp())


def test_a_minute_read_before_keeps_bad_seconds_bad() -> None:
    """After a minute was read (the zone asked once for it, ``_minute_start``), the
    seconds of later times are still checked: no second 60, no non-digit, and what
    follows the time is ignored (``re.match``)."""
    from zoneinfo import ZoneInfo

    from pve_backup_report.analysis.history import _local_epoch

    zone = ZoneInfo("Europe/Paris")
    base = _local_epoch("2026-11-20 21:00:00", zone)
    assert base is not None
    assert _local_epoch("2026-11-20 21:00:59", zone) == base + 59
    assert _local_epoch("2026-11-20 21:00:59 (end)", zone) == base + 59
    assert _local_epoch("2026-11-20 21:00:60", zone) is None
    assert _local_epoch("2026-11-20 21:00:5x", zone) is None
    assert _local_epoch("2026-11-20 21:00-59", zone) is None
    assert _local_epoch("2026-11-20 21:00", zone) is None
