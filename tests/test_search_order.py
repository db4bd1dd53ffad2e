"""A warm check searches a migrated guest at its newest event first, even when an older
run of its home node is already known (cached) and the newer one is still unread.

``collect/tasks.py`` ``_Reader._visit``: a home run taken only because another guest's
search wants it counts, until read, as holding the guests predicted for it, as any other
unread run does. Without that, the cached run of the 18th started 100's search at the
18th, ``CrossNodeSearch.may_start`` then refused the search at the 19th, and 100's
successful single-guest run of the 19th on pve2 (skipped unread by ``_told_by_id``) was
never read: the check said "failed" (the 18th) while the last backup had succeeded.

Three nodes pve1, pve2, pve3 (UTC). One job ``daily``: VMIDs 100, 200, 300 at 21:00 to
PBS ``pbs``. A VMID job makes a task only on nodes where it selects a local guest
(pve-manager ``PVE/API2/VZDump.pm`` ``vzdump``), its task id is the VMID when that node
has one local guest, and the guests on other nodes are logged ``skip external VMs``.

Where each guest was at each run (the ground truth; nothing here comes from the plugin):

    night      100            200          300
    10..17     pve3 ok        pve1 ok      pve3 ok
    18         pve2 FAILED    pve1 ok      pve3 ok
    19         pve2 ok        pve3 ok      pve3 ok      (pve1 has no task that night)

Migrations: 100 pve3->pve2 on the 18th 08:00; 200 pve1->pve3 on the 19th 14:00; 100
pve2->pve3 and 200 pve3->pve1 on the 20th 08:00.

Check 1 runs on the 19th at 12:00 (placement then: 100 pve2, 200 pve1, 300 pve3) with a
task cache file; check 2 on the 20th at 12:00 (100 pve3, 200 pve1, 300 pve3) with the same
file. PVE's answer at check 2: 100's latest result is the 19th on pve2, a success
(fresh); its latest success the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builders import LogGuest as G
from builders import (
    backup,
    migration_task,
    pbs_storage,
    scenario,
    sim_guest,
    sim_node,
    snapshot_job,
    vzdump_log,
    vzdump_task,
)
from conftest import SimulatorFactory
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario
from test_check_cli import run

NODES = ("pve1", "pve2", "pve3")
CMD = "vzdump 100 200 300 --mode snapshot --storage pbs --quiet 1"
IO_ERROR = "job failed with err -5 - Input/output error"
NOW1 = parse_timestamp("2026-11-19T12:00:00Z")
NOW2 = parse_timestamp("2026-11-20T12:00:00Z")


def at(day: int, hhmm: str = "21:00") -> int:
    return parse_timestamp(f"2026-11-{day:02d}T{hhmm}:00Z")


def where(day: int) -> dict[int, str]:
    """The node of each guest at the 21:00 run of November ``day``."""
    if day <= 17:
        return {100: "pve3", 200: "pve1", 300: "pve3"}
    if day == 18:
        return {100: "pve2", 200: "pve1", 300: "pve3"}
    return {100: "pve2", 200: "pve3", 300: "pve3"}  # the 19th


def history(last_night: str = "ok") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every vzdump task (fixed pid/pstart, so both scenarios give the same UPIDs) and
    every PBS snapshot, nights 10 to 19, plus the migrations."""
    failed = {(18, 100)} | ({(19, 100)} if last_night == "failed" else set())
    tasks: list[dict[str, Any]] = []
    backups: list[dict[str, Any]] = []
    for day in range(10, 20):
        placed = where(day)
        for k, node in enumerate(NODES):
            local = [G(v, error=IO_ERROR if (day, v) in failed else None)
                     for v in sorted(placed) if placed[v] == node]  # fmt: skip
            if not local:
                continue  # a VMID job makes no task where it selects no local guest
            start = at(day) + 1 + k
            external = sorted(v for v, n in placed.items() if n != node)
            log = vzdump_log(local, start=start, command=CMD, external=external, first=1,
                             gap=31, took=30)  # fmt: skip
            ids = {"pid": 5000 + day * 10 + k, "pstart": 900000 + day * 10 + k}
            tasks.append(vzdump_task(node=node, start=start, vmids=[g.vmid for g in local],
                                     end=start + 2 + 31 * len(local), log=log, **ids))  # fmt: skip
            t = start + 1
            for g in local:
                if g.error is None:
                    backups.append(backup(g.vmid, ctime=t, storage="pbs", type="qemu",
                                          size=2**30))  # fmt: skip
                t += 31
    moves = [
        (100, "pve3", "pve2", at(18, "08:00")),
        (200, "pve1", "pve3", at(19, "14:00")),
        (100, "pve2", "pve3", at(20, "08:00")),
        (200, "pve3", "pve1", at(20, "08:02")),
    ]
    for n, (vmid, src, dst, when) in enumerate(moves):
        tasks.append(migration_task(vmid, node=src, start=when, target=dst, took=70,
                                    pid=7000 + n, pstart=800000 + n))  # fmt: skip
    return tasks, backups


def cluster(now: int, placement: dict[int, str], last_night: str = "ok") -> Scenario:
    """The cluster as the API shows it at ``now``: the tasks started before then."""
    tasks, backups = history(last_night)
    data = scenario(
        now=now,
        # the PBS content is listed only with Datastore.Allocate on /storage (as in
        # tests/test_review_issue13.py)
        privileges={
            "/": ["Sys.Audit", "VM.Audit", "Datastore.Audit", "Pool.Audit"],
            "/storage": ["Datastore.Allocate"],
        },
        nodes=[sim_node(n) for n in NODES],
        storages=[pbs_storage(server="192.0.2.10", datastore="main")],
        guests=[sim_guest(v, node=n) for v, n in sorted(placement.items())],
        jobs=[snapshot_job("daily", vmid="100,200,300")],
        tasks=[t for t in tasks if t["starttime"] < now],
        backups=[b for b in backups if b["ctime"] < now],
    )
    return Scenario.from_dict(data)


def check(sim: Any, now: int, cache: list[str], pbs: bool) -> dict[int, Any]:
    env = {} if pbs else {"PVE_PBS_CONTENT": "false"}
    proc = run(sim, "--dump-coverage", "--format", "json", "--now", str(now), *cache, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {g["vmid"]: g for g in json.loads(proc.stdout)["guests"]}


def _truth_100(g: dict[str, Any], last_night: str) -> None:
    """PVE's answer at check 2 (from ``where`` and the failures): 100 was backed up on
    pve2 at the run of the 19th, with ``last_night``'s result."""
    last = g["last_backup"] or {}
    assert (last.get("status"), last.get("node")) == (last_night, "pve2"), g["last_backup"]
    assert (last.get("started") or 0) >= at(19), g["last_backup"]
    if last_night == "ok":
        assert g["freshness"] == "fresh" and g["problems"] == [], g
        assert (g["last_success"] or {}).get("started", 0) >= at(19), g["last_success"]
    else:
        assert (g["last_success"] or {}).get("started") == at(17) + 4, g["last_success"]


PBS = pytest.mark.parametrize("pbs", [False, True], ids=["history-only", "with-pbs-content"])
LAST = pytest.mark.parametrize("last_night", ["ok", "failed"])
PLACED_1 = {100: "pve2", 200: "pve1", 300: "pve3"}  # at check 1 (the 19th, noon)
PLACED_2 = {100: "pve3", 200: "pve1", 300: "pve3"}  # at check 2 (the 20th, noon)


@PBS
@LAST
def test_cold_check_finds_last_nights_result(simulator_factory: SimulatorFactory,
                                             pbs: bool, last_night: str) -> None:  # fmt: skip
    """Control: check 2 without a cache."""
    sim = simulator_factory(cluster(NOW2, PLACED_2, last_night))
    _truth_100(check(sim, NOW2, ["--no-cache"], pbs)[100], last_night)


def _warm(simulator_factory: SimulatorFactory, tmp_path: Path, pbs: bool, last_night: str
          ) -> tuple[Any, list[str]]:  # fmt: skip
    """Check 1 (the 19th, noon) fills the cache; the simulator of the 20th, noon."""
    cache = ["--cache-file", str(tmp_path / "tasks.json")]
    sim1 = simulator_factory(cluster(NOW1, PLACED_1, last_night))
    check(sim1, NOW1, cache, pbs)
    return simulator_factory(cluster(NOW2, PLACED_2, last_night)), cache


@PBS
@LAST
def test_warm_check_finds_last_nights_result(simulator_factory: SimulatorFactory,
                                             tmp_path: Path, pbs: bool, last_night: str
                                             ) -> None:  # fmt: skip
    """Check 2 after check 1 must still find 100's run of the 19th on pve2."""
    sim2, cache = _warm(simulator_factory, tmp_path, pbs, last_night)
    guests = check(sim2, NOW2, cache, pbs)
    for vmid in (200, 300):
        assert guests[vmid]["freshness"] == "fresh", guests[vmid]
    _truth_100(guests[100], last_night)


@PBS
def test_the_next_warm_check_finds_it(simulator_factory: SimulatorFactory, tmp_path: Path,
                                      pbs: bool) -> None:  # fmt: skip
    """A third check at the same time, after check 2 cached pve3's run of the 19th."""
    sim2, cache = _warm(simulator_factory, tmp_path, pbs, "ok")
    check(sim2, NOW2, cache, pbs)
    _truth_100(check(sim2, NOW2, cache, pbs)[100], "ok")
