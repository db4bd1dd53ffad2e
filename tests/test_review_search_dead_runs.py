"""Independent review of the cross-node search beside dead runs (today's history-reading
changes), scenarios written from Proxmox's code and run through the CLI.

Same conventions as ``tests/test_review_issue13.py`` (whose builders are reused): every log
is written by hand in the shape of pve-manager ``PVE/VZDump.pm`` / ``PVE/API2/VZDump.pm``
output, nodes are in UTC, the check runs on Friday 2026-11-20 at 12:00 UTC and the jobs
are due at 21:00. Each test states PVE's answer and compares the plugin's
``--dump-coverage --format json`` with it, cold (empty task cache) and warm (same cache).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from builders import LogGuest as G
from builders import snapshot_job, vzdump_task
from conftest import SimulatorFactory
from test_check_cli import run
from test_review_issue13 import (
    LOCK_TIMEOUT,
    NOW,
    PBS_DOWN,
    Cluster,
    _failed_last_night,
    at,
    dead,
    latest,
    snapshot,
    vzdump,
)

PROD = "vzdump --pool prod --mode snapshot --storage pbs --quiet 1"
SOLO = "vzdump 150 --mode snapshot --storage pbs --quiet 1"


def _cold_and_warm(sim: Any, cache: Path) -> list[dict[int, dict[str, Any]]]:
    """The coverage dump per guest, first with an empty task cache, then with it."""
    out = []
    for _ in range(2):
        proc = run(sim, "--dump-coverage", "--format", "json", "--now", str(NOW),
                   "--cache-file", str(cache))  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out.append({g["vmid"]: g for g in json.loads(proc.stdout)["guests"]})
    return out


def _prod_and_solo_nights(c: Cluster) -> None:
    """The nights of the 14th to the 19th: ``prod``'s run on pve1 backs up 100 and 101
    (102 and 200 external) every night; until the 18th ``solo``'s run on pve1 backs up
    150 and ``prod``'s run on pve2 backs up 102 and 200."""
    for day in range(14, 20):
        c.tasks.append(vzdump("pve1", at(day) + 1, PROD, [G(100), G(101)], [102, 200]))
        c.backups += [snapshot(100, at(day) + 2), snapshot(101, at(day) + 33)]
        if day == 19:
            continue
        c.tasks.append(vzdump("pve1", at(day) + 2, SOLO, [G(150, "lxc")]))
        c.tasks.append(vzdump("pve2", at(day) + 1, PROD, [G(102), G(200)], [100, 101]))
        c.backups += [snapshot(150, at(day) + 70, "lxc"), snapshot(102, at(day) + 2),
                      snapshot(200, at(day) + 33)]  # fmt: skip


def _moved_guest_beside_a_dead_single_guest_run() -> Cluster:
    """Pool job ``prod`` (100, 101 on pve1; 102, 200 on pve2 until this morning) and job
    ``solo`` (VMID 150, on pve1) are both due at 21:00; pvescheduler starts them in job-id
    order (pve-manager ``PVE/Jobs.pm`` ``run_jobs``). pve1 makes ``prod``'s run (two local
    guests: empty task id) and ``solo``'s (task id ``150``, pve-manager
    ``PVE/API2/VZDump.pm`` ``vzdump``: ``$taskid = $local_vmids->[0]`` for one local
    guest). Last night PBS was unreachable for ``solo``'s run on pve1 and for ``prod``'s
    run on pve2: both died in ``PVE::VZDump::new`` (only a ``TASK ERROR`` line). This
    morning pve2 crashed and HA recovered 102 onto pve1 (pve-ha-manager moves the config:
    no migration task tells it)."""
    jobs = [snapshot_job("prod", pool="prod"), snapshot_job("solo", vmid="150")]
    c = Cluster({100: ("qemu", "pve1"), 101: ("qemu", "pve1"), 102: ("qemu", "pve1"),
                 150: ("lxc", "pve1"), 200: ("qemu", "pve2")}, jobs=jobs)  # fmt: skip
    _prod_and_solo_nights(c)
    c.tasks += [dead("pve1", at(19) + 2, PBS_DOWN, taskid="150"),
                dead("pve2", at(19) + 1, PBS_DOWN)]  # fmt: skip
    c.extra["pools"] = [{"poolid": "prod", "members": [100, 101, 102, 200]}]
    return c


def test_moved_guest_failed_elsewhere_beside_a_dead_single_guest_run(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    """PVE's answer: 102 was on pve2 last night (pve1's ``prod`` run logged it as
    external) and pve2's run died: 102 failed last night, as did 150 and 200; 100 and
    101 are fresh.

    pve1's dead ``solo`` run is paired with its job (the second task of the event,
    pvescheduler's job-id order) and its error names the storage: it counts as
    ``solo``'s run of 150 and, like the ``prod`` run, leaves 102 out, so the search of
    pve2's runs of that event starts, finds 102 in none, and pve2's run of ``prod`` died
    (``guest_search``, "Dead runs")."""
    sim = simulator_factory(_moved_guest_beside_a_dead_single_guest_run().scenario())
    for guests in _cold_and_warm(sim, tmp_path / "tasks.json"):
        for vmid in (102, 150, 200):
            g = guests[vmid]
            assert _failed_last_night(g, "could not activate storage"), (vmid, g)
        assert latest(guests[102])[1] == "pve2", guests[102]
        for vmid in (100, 101):
            assert guests[vmid]["freshness"] == "fresh", (vmid, guests[vmid])


def _moved_guest_beside_a_single_guest_lock_timeout() -> Cluster:
    """As above, but ``solo`` (``lockwait`` 1 minute) died last night waiting for
    ``/var/run/vzdump.lock``, which ``prod``'s run held until 21:01:06 (pve-manager
    ``PVE/VZDump.pm`` ``getlock``; API-started, the worker ``exit(-1)``s without a
    ``TASK`` line), and an administrator's manual ``vzdump 300`` started at 21:02 on
    pve1: three tasks for the event's two jobs, so which one ran ``solo`` is not told by
    the order, and the lock error names no storage."""
    jobs = [snapshot_job("prod", pool="prod"), snapshot_job("solo", vmid="150", lockwait=1)]
    c = Cluster({100: ("qemu", "pve1"), 101: ("qemu", "pve1"), 102: ("qemu", "pve1"),
                 150: ("lxc", "pve1"), 200: ("qemu", "pve2"), 300: ("qemu", "pve1")},
                jobs=jobs)  # fmt: skip
    _prod_and_solo_nights(c)
    start = at(19) + 2
    c.tasks += [
        vzdump_task(node="pve1", start=start, id="150", end=start + 61,
                    log=f"INFO: trying to get global lock - waiting...\nERROR: {LOCK_TIMEOUT}"),
        vzdump("pve1", at(19) + 120, "vzdump 300 --storage pbs --mode snapshot", [G(300)]),
        dead("pve2", at(19) + 1, PBS_DOWN),
    ]  # fmt: skip
    c.backups.append(snapshot(300, at(19) + 121))
    c.extra["pools"] = [{"poolid": "prod", "members": [100, 101, 102, 200]}]
    return c


def test_moved_guest_failed_elsewhere_beside_a_single_guest_lock_timeout(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    """PVE's answer: 102 was on pve2 last night (pve1's ``prod`` run logged it as
    external) and pve2's run died: 102 failed last night, on pve2; 150 failed with the
    lock error; 100 and 101 are fresh.

    The dead ``solo`` run is paired with no job and its log names no storage, so it
    counts as a run that died before any guest whose guests are unknown, beside the
    ``prod`` run that left 102 out. Its task id names its only guest (pve-manager
    ``PVE/API2/VZDump.pm`` ``vzdump``: ``$taskid = $local_vmids->[0]``): it cannot have
    held 102, so the search of pve2's runs of that event starts (``guest_search``
    ``evidence``), finds 102 in none, and pve2's run died (``guest_search``, "Dead
    runs"). Before today's change the dead ``solo`` run blocked that search: the one
    of the night before found 102's success of the 18th on pve2 and 102 was only
    ``stale``."""
    sim = simulator_factory(_moved_guest_beside_a_single_guest_lock_timeout().scenario())
    for guests in _cold_and_warm(sim, tmp_path / "tasks.json"):
        g = guests[102]
        assert _failed_last_night(g, "could not activate storage"), g
        assert latest(g)[1] == "pve2", g
        assert _failed_last_night(guests[150], "can't acquire lock"), guests[150]
        for vmid in (100, 101):
            assert guests[vmid]["freshness"] == "fresh", (vmid, guests[vmid])


def _pool_member_added_beside_a_dead_single_guest_run() -> Cluster:
    """Pool job ``prod`` at 21:00: 100 and 101 on pve1, 200 alone on pve2 (so pve2's
    task id is ``200``, pve-manager ``PVE/API2/VZDump.pm`` ``vzdump``). 102, on pve1 for
    months and never backed up, was added to the pool this morning (pool membership
    leaves no task). Last night pve2's run died in ``PVE::VZDump::new`` (PBS
    unreachable, only a ``TASK ERROR`` line)."""
    c = Cluster({100: ("qemu", "pve1"), 101: ("qemu", "pve1"), 102: ("qemu", "pve1"),
                 200: ("qemu", "pve2")}, jobs=[snapshot_job("prod", pool="prod")])  # fmt: skip
    for day in range(14, 20):
        c.tasks.append(vzdump("pve1", at(day) + 1, PROD, [G(100), G(101)], [200]))
        c.backups += [snapshot(100, at(day) + 2), snapshot(101, at(day) + 33)]
        if day < 19:
            c.tasks.append(vzdump("pve2", at(day) + 1, PROD, [G(200)], [100, 101]))
            c.backups.append(snapshot(200, at(day) + 2))
    c.tasks.append(dead("pve2", at(19) + 1, PBS_DOWN, taskid="200"))
    c.extra["pools"] = [{"poolid": "prod", "members": [100, 101, 102, 200]}]
    return c


def test_dead_single_guest_run_elsewhere_fails_only_its_guest(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    """PVE's answer: 200 failed last night; 102 was in no run at all (no backup of it
    exists: ``never``), not in pve2's dead run, whose task id names its only guest
    (pve-manager ``PVE/API2/VZDump.pm`` ``vzdump``: ``$taskid = $local_vmids->[0]``
    when the node has one local guest, orphaned VMIDs included); 100 and 101 fresh.

    pve1's run left 102 out, the search of pve2's runs of that event finds it in none,
    and pve2's run of that event died before any guest (``guest_search``, "Dead runs"):
    that run was 200's alone, so it is not 102's failure."""
    sim = simulator_factory(_pool_member_added_beside_a_dead_single_guest_run().scenario())
    for guests in _cold_and_warm(sim, tmp_path / "tasks.json"):
        assert _failed_last_night(guests[200], "could not activate storage"), guests[200]
        g = guests[102]
        assert g["last_backup"] is None and g["freshness"] == "never", g
        for vmid in (100, 101):
            assert guests[vmid]["freshness"] == "fresh", (vmid, guests[vmid])
