"""A single-guest run does not tell away the guests another job's run of the same event
holds: its log is not read for them.

pve-manager ``PVE/Jobs.pm`` ``run_jobs`` starts the jobs due in one scheduler pass in
job-id order (``sort keys``); ``PVE/API2/VZDump.pm`` ``vzdump`` names a task by the VMID
when its node has one local guest of the job, else leaves the id empty; ``PVE/VZDump.pm``
``exec_backup`` ends a run in ``job errors`` when a guest's backup fails. So at 21:00 on
pve1 job ``many`` (VMIDs 102, 103) starts an unnamed task and job ``one`` (VMID 101) a
task named 101, one second later.

``collect/tasks.py`` ``_Reader._tells_away``: an unread single-guest task whose jobs
due at its start hold guests still lacking a success on its node is read to start their
search on the other nodes, unless another run of that event holds or may hold them
(``_Reader._may_hold``): that run, read for them anyway, says where they were
(``CrossNodeSearch.evidence`` judges it so too).

Ground truth is the scenario: 102 and 103 fail on the 17th, 18th and 19th; 101 never
fails. What must be read is what the generator's model says holds each guest's latest
result and latest success, and every run of a failing guest's job since its latest
success: ``one`` of the 19th, ``many`` of the 16th to the 19th.
"""

from __future__ import annotations

import json
from typing import Any

from builders import LogGuest as G
from builders import (
    backup,
    pbs_storage,
    scenario,
    sim_guest,
    sim_node,
    snapshot_job,
    vzdump_log,
    vzdump_task,
)
from conftest import SimulatorFactory
from pve_backup_report.pve.upid import parse_upid
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario
from test_check_cli import run
from test_review_search_paths import IO_ERROR

NOW = parse_timestamp("2026-11-20T12:00:00Z")
JOBS = {"many": (102, 103), "one": (101,)}  # started in this (job-id) order
FAILED = {(day, v) for day in (17, 18, 19) for v in (102, 103)}


def at(day: int) -> int:
    return parse_timestamp(f"2026-11-{day:02d}T21:00:00Z")


def _history() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tasks: list[dict[str, Any]] = []
    backups: list[dict[str, Any]] = []
    for day in range(10, 20):
        for k, vmids in enumerate(JOBS.values()):
            start = at(day) + 1 + k
            local = [G(v, error=IO_ERROR if (day, v) in FAILED else None) for v in vmids]
            cmd = f"vzdump {' '.join(map(str, vmids))} --mode snapshot --storage pbs --quiet 1"
            log = vzdump_log(local, start=start, command=cmd, first=1, gap=31, took=30)
            end = start + 2 + 31 * len(local)
            pid, pstart = 5000 + day * 10 + k, 900000 + day * 10 + k
            tasks.append(vzdump_task(start=start, vmids=list(vmids), end=end, log=log,
                                     pid=pid, pstart=pstart))  # fmt: skip
            backups += [backup(g.vmid, ctime=start + 1 + 31 * i, storage="pbs", type="qemu",
                               size=2**30)
                        for i, g in enumerate(local) if g.error is None]  # fmt: skip
    return tasks, backups


def _cluster() -> Scenario:
    tasks, backups = _history()
    return Scenario.from_dict(
        scenario(
            now=NOW,
            privileges={
                "/": ["Sys.Audit", "VM.Audit", "Datastore.Audit", "Pool.Audit"],
                "/storage": ["Datastore.Allocate"],
            },
            nodes=[sim_node("pve1")],
            storages=[pbs_storage(server="192.0.2.10", datastore="main")],
            guests=[sim_guest(v, node="pve1") for v in (101, 102, 103)],
            jobs=[snapshot_job(job, vmid=",".join(map(str, v))) for job, v in JOBS.items()],
            tasks=tasks,
            backups=backups,
        )
    )


def test_single_guest_run_is_not_read_for_the_guests_of_another_job_of_its_event(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(_cluster())
    proc = run(sim, "--dump-coverage", "--format", "json", "--now", str(NOW), "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    guests = {g["vmid"]: g for g in json.loads(proc.stdout)["guests"]}
    for vmid, status, ok_day in ((101, "ok", 19), (102, "failed", 16), (103, "failed", 16)):
        g = guests[vmid]
        assert (g["last_backup"]["status"], g["last_backup"]["started"] >= at(19)) == (
            status, True), (vmid, g["last_backup"])  # fmt: skip
        assert at(ok_day) <= g["last_success"]["started"] < at(ok_day) + 3600, vmid
    read = sorted(
        (parse_upid(p.split("/")[4]).starttime, parse_upid(p.split("/")[4]).id)
        for p, n in sim.stats.per_path.items()
        for _ in range(n)
        if p.endswith("/log")
    )
    # was also ``one`` of the 16th, 17th and 18th: read to start a search for 102 and 103
    assert read == [(at(16) + 1, ""), (at(17) + 1, ""), (at(18) + 1, ""), (at(19) + 1, ""),
                    (at(19) + 2, "101")]  # fmt: skip
