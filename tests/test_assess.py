"""Rules of the join in ``assess.py`` that follow PVE: next-run, PBS content, verification."""

from __future__ import annotations

from pve_backup_report.assess import schedule_anomalies
from pve_backup_report.model import BackupJob, Inventory, Node, Selection
from pve_backup_report.schedule import next_event

NOW = 1_790_000_000  # 2026-09-21


def _job(schedule: str, next_run: int | None, node: str | None = None) -> BackupJob:
    return BackupJob(
        id="nightly",
        enabled=True,
        storage="pbs1",
        schedule=schedule,
        mode="snapshot",
        selection=Selection.ALL,
        vmid_raw=None,
        exclude_raw=None,
        all_flag=True,
        pool=None,
        node=node,
        next_run=next_run,
    )


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
    assert _next_run_anomalies(_job("02:00", paris, node="pve2")) == []


def test_next_run_matching_no_node_zone_is_an_anomaly() -> None:
    """The same ``index``: a next-run that is an event in no node's zone means a time
    zone problem or a gap in our calendar parser."""
    paris = next_event("02:00", NOW, "Europe/Paris")
    assert paris is not None
    (message,) = _next_run_anomalies(_job("02:00", paris + 600, node="pve2"))
    assert "Europe/Paris" in message and "America/New_York" in message
