"""Rules of the join in ``analysis/assess.py`` that follow PVE: next-run, PBS content,
verification."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from builders import backup_job, backup_result, guest, storage
from pve_backup_report.analysis.assess import (
    AnalysisOptions,
    Assessment,
    GuestStatus,
    assess,
    schedule_anomalies,
)
from pve_backup_report.analysis.coverage import analyse_coverage
from pve_backup_report.analysis.freshness import Freshness
from pve_backup_report.analysis.history import GuestBackupResult, GuestHistory
from pve_backup_report.analysis.pbs_content import PbsContent, parse_content
from pve_backup_report.model import BackupJob, Inventory, Node, Problem
from pve_backup_report.pve.schedule import next_event

NOW = 1_790_000_000  # 2026-09-21


def _inventory(job: BackupJob) -> Inventory:
    nodes = (
        Node("pve1", "online", timezone="Europe/Paris"),
        Node("pve2", "online", timezone="America/New_York"),
    )
    return Inventory(nodes=nodes, storages=(), jobs=(job,), guests=(), pools=())


def _next_run_anomalies(job: BackupJob) -> list[str]:
    return [a.message for a in schedule_anomalies(_inventory(job)) if "next-run" in a.message]


def test_next_run_of_a_node_restricted_job_is_in_the_answering_nodes_zone() -> None:
    """pve-manager ``PVE/API2/Backup.pm`` ``index``: ``next-run`` is
    ``compute_next_event(time())`` run by the node that answers the API call, in that
    node's local time, whatever the job's ``node``. A job for pve2 (New York) read
    through pve1 (Paris) carries a Paris next-run: that is no anomaly."""
    paris = next_event("02:00", NOW, "Europe/Paris")
    assert paris is not None and paris != next_event("02:00", NOW, "America/New_York")
    assert (
        _next_run_anomalies(
            backup_job("nightly", all=True, schedule="02:00", next_run=paris, node="pve2")
        )
        == []
    )


def test_next_run_matching_no_node_zone_is_an_anomaly() -> None:
    """The same ``index``: a next-run that is an event in no node's zone means a time
    zone problem or a gap in our calendar parser."""
    paris = next_event("02:00", NOW, "Europe/Paris")
    assert paris is not None
    (message,) = _next_run_anomalies(
        backup_job("nightly", all=True, schedule="02:00", next_run=paris + 600, node="pve2")
    )
    assert "Europe/Paris" in message and "America/New_York" in message


# --- PBS content joined with the task history -------------------------------------------

PBS = storage("pbs1", server="pbs", datastore="ds1")
DAY = 86400


def _pbs_item(vmid: int, ctime: int, verification: str | None = None) -> dict[str, Any]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ctime))
    item: dict[str, Any] = {
        "volid": f"pbs1:backup/vm/{vmid}/{stamp}",
        "vmid": vmid,
        "ctime": ctime,
        "size": 4_000_000_000,
        "format": "pbs-vm",
        "subtype": "qemu",
        "content": "backup",
    }
    if verification is not None:
        item["verification"] = {"state": verification, "upid": "UPID:pbs:x"}
    return item


def _success(vmid: int, started: int, archive: str | None = None) -> GuestBackupResult:
    return backup_result(vmid, started=started, took=600, archive=archive)


def _assess(histories: dict[int, GuestHistory], items: list[dict[str, Any]]) -> Assessment:
    job = replace(backup_job("nightly", all=True, schedule="21:00", next_run=None), storage="pbs1")
    inventory = Inventory(
        nodes=(Node("pve1", "online", timezone="UTC"),),
        storages=(PBS,),
        jobs=(job,),
        guests=(guest(100, name="web"),),
        pools=(),
    )
    coverage = analyse_coverage(inventory, (), NOW)
    content = PbsContent({"pbs1": parse_content("pbs1", items)}, ())
    return assess(
        inventory, coverage, histories, frozenset({"pve1"}), content, NOW, AnalysisOptions()
    )


def _guest(a: Assessment) -> GuestStatus:
    (status,) = a.guests
    return status


def test_a_newer_pbs_snapshot_is_the_latest_success() -> None:
    """pve-storage ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes``: ``ctime`` is the
    snapshot's backup time (the guest backup's start). A snapshot newer than every task
    result (its task outside the window, or its log unreadable) is the latest success."""
    older = _success(100, NOW - 3 * DAY)
    a = _assess({100: GuestHistory(older, older)}, [_pbs_item(100, NOW - DAY)])
    status = _guest(a)
    assert status.snapshot is not None and status.last_success is not None
    assert status.last_success.started == NOW - DAY
    assert status.last_success.archive == status.snapshot.archive
    assert status.age_s == DAY


def _failure(vmid: int, started: int) -> GuestBackupResult:
    return backup_result(vmid, started=started, status="failed", message="broken pipe")


def test_a_finished_snapshot_newer_than_the_latest_failure_is_the_latest_result() -> None:
    """pve-storage ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes``: a finished snapshot of
    the guest's own group (``vm/100``), ``ctime`` its backup's start. Newer than the
    latest failed task (its own task outside the window, unreadable, or on a node whose
    history was not read), it proves a later backup: the latest result is that success,
    and freshness is not ``failed`` (finding X5). A snapshot older than the failure, or of
    the failed attempt itself, leaves the failure the latest result."""
    failed = _failure(100, NOW - 2 * DAY)
    success = _success(100, NOW - 3 * DAY)
    history = {100: GuestHistory(failed, success)}
    status = _guest(_assess(history, [_pbs_item(100, NOW - DAY)]))
    assert status.last_backup is not None and status.last_backup.status == "ok"
    assert status.last_backup.started == NOW - DAY
    assert status.freshness is not Freshness.FAILED
    assert Problem.FAILED not in status.problems
    for ctime in (NOW - 3 * DAY, NOW - 2 * DAY + 30):
        status = _guest(_assess(history, [_pbs_item(100, ctime)]))
        assert status.last_backup == failed and status.freshness is Freshness.FAILED


def test_an_other_type_or_unfinished_snapshot_does_not_hide_a_failure() -> None:
    """pve-storage ``PBSPlugin.pm`` ``list_volumes``: ``ct/100`` is another group than
    ``vm/100`` (``subtype``), and a snapshot still being written has no size (proxmox-backup
    ``src/api2/admin/datastore.rs`` ``list_snapshots_blocking``: no manifest yet), which
    ``list_volumes`` serves as ``size: 1``. Neither
    is a success of VM 100, so its latest failure stays its latest result."""
    failed = _failure(100, NOW - 2 * DAY)
    history = {100: GuestHistory(failed, None)}
    vm_item = _pbs_item(100, NOW - DAY)
    other_type = {**vm_item, "subtype": "lxc", "format": "pbs-ct",
                  "volid": vm_item["volid"].replace("/vm/", "/ct/")}  # fmt: skip
    unfinished = {**_pbs_item(100, NOW - DAY), "size": 1}  # ``$item->{size} // 1``
    for item in (other_type, unfinished):
        status = _guest(_assess(history, [item]))
        assert status.last_backup == failed and status.freshness is Freshness.FAILED


def test_only_the_newest_snapshot_verification_counts() -> None:
    """proxmox-backup ``src/api2/admin/datastore.rs`` ``list_snapshots_blocking`` serves
    each snapshot's ``verify_state``; pve-storage ``PBSPlugin.pm`` ``list_volumes`` passes it
    on as ``verification``. A failed verification of the newest snapshot is
    ``verify_failed``; one of an older snapshot is not (a restore takes the newest)."""
    newest_failed = [_pbs_item(100, NOW - 2 * DAY, "ok"), _pbs_item(100, NOW - DAY, "failed")]
    older_failed = [_pbs_item(100, NOW - 2 * DAY, "failed"), _pbs_item(100, NOW - DAY)]
    assert Problem.VERIFY_FAILED in _guest(_assess({}, newest_failed)).problems
    status = _guest(_assess({}, older_failed))
    assert Problem.VERIFY_FAILED not in status.problems and status.verification is None


def test_one_job_without_storage_reads_each_nodes_default_storage() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``get_storage_param``: a job that names no storage
    writes to the vzdump default of the node that runs it. Two guests of one such job on
    two nodes whose defaults are two PBS storages each take their snapshot from their
    own node's storage (the judging remembers storages per jobs and node)."""
    job = replace(backup_job("nightly", all=True, next_run=None), storage=None)
    pbs2 = storage("pbs2", server="pbs", datastore="ds2")
    inventory = Inventory(
        nodes=(Node("pve1", "online", timezone="UTC"), Node("pve2", "online", timezone="UTC")),
        storages=(PBS, pbs2),
        jobs=(job,),
        guests=(guest(100), guest(200, node="pve2")),
        pools=(),
        node_default_storage={"pve1": "pbs1", "pve2": "pbs2"},
    )
    on_pbs2 = {**_pbs_item(200, NOW - DAY), "volid": "pbs2:backup/vm/200/2026-09-20T14:13:20Z"}
    content = PbsContent(
        {
            "pbs1": parse_content("pbs1", [_pbs_item(100, NOW - DAY), _pbs_item(200, NOW - 9)]),
            "pbs2": parse_content("pbs2", [on_pbs2]),
        },
        (),
    )
    a = assess(
        inventory, analyse_coverage(inventory, (), NOW), {}, frozenset({"pve1", "pve2"}),
        content, NOW, AnalysisOptions(),
    )  # fmt: skip
    first, second = a.guests
    assert first.snapshot is not None and first.snapshot.storage == "pbs1"
    assert second.snapshot is not None and second.snapshot.storage == "pbs2"
    assert second.snapshot.ctime == NOW - DAY  # not pbs1's newer one of another cluster


def test_a_success_without_its_snapshot_is_an_anomaly() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``exec_backup_task`` logs the PBS archive
    ``vm/100/<UTC>Z`` that pve-storage ``PBSPlugin.pm`` ``print_volid`` lists after
    ``:backup/``. A latest success whose archive the storage does not list (pruned,
    deleted, another namespace) is an anomaly, not a failure."""
    listed = _pbs_item(100, NOW - 2 * DAY)
    gone = _success(100, NOW - DAY, archive="vm/100/2026-09-20T01:00:00Z")
    a = _assess({100: GuestHistory(gone, gone)}, [listed])
    assert Problem.FAILED not in _guest(a).problems
    assert any("have no such snapshot on the PBS storage" in x.message for x in a.anomalies)
