"""The guests' notes (report and dumps) are read beside the history, and all the run's
threads together never have more than ``max_workers`` requests in flight.

A first report on a large cluster asks for every guest's config (pve-manager
``PVE/API2/Qemu.pm`` / ``PVE/API2/LXC.pm`` ``vm_config``: the ``description`` is the
notes); ``/cluster/resources`` does not carry them (pve-manager ``PVE/API2/Cluster.pm``
``resources``). Those thousands of round trips now wait while the history is collected.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import builders
from builders import pbs_storage, sim_guest, sim_node, vzdump_job
from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.collect.http import Answer
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_sim import Scenario, Simulator

WORKERS = 3
GUESTS = range(100, 130)


class Watch:
    """Every request of the client as it goes: the most in flight at once, and whether
    a request other than a guest config started while configs were in flight."""

    def __init__(self, client: PveClient) -> None:
        self.lock = threading.Lock()
        self.configs = self.others = self.most = 0
        self.overlapped = False
        self.paths: list[str] = []
        transport = client._transport
        real = transport.get

        def get(url: str, headers: Any) -> Answer:
            config = "/config" in url
            with self.lock:
                self.paths.append(url)
                if not config and self.configs:
                    self.overlapped = True
                self.configs += config
                self.others += not config
                self.most = max(self.most, self.configs + self.others)
            try:
                return real(url, headers)
            finally:
                with self.lock:
                    self.configs -= config
                    self.others -= not config

        transport.get = get  # type: ignore[method-assign]


def _scenario() -> Scenario:
    return Scenario.from_dict(
        builders.scenario(
            nodes=[sim_node(timezone="Europe/Paris")],
            storages=[pbs_storage("pbs1", server="192.0.2.1")],
            guests=[sim_guest(v, description=f"notes of {v}\nsecond line") for v in GUESTS],
            jobs=[vzdump_job("daily", storage="pbs1", all=1)],
            tasks=[],
        )
    )


def _run(sim: Simulator, cache: Path) -> tuple[Assessment, Watch]:
    settings = Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        request_timeout=5.0,
        max_workers=WORKERS,
        cache_file=str(cache),
    )
    client = PveClient(settings)
    watch = Watch(client)
    assert sim.scenario.now is not None
    result = run_assessment(settings, RunOptions(now=sim.scenario.now, need_notes=True), client)
    client.close()
    return result, watch


def test_notes_are_read_beside_the_history_within_max_workers(tmp_path: Path) -> None:
    with Simulator(_scenario(), latency_ms=15) as sim:
        first, watch = _run(sim, tmp_path / "cache.json")
        again, second = _run(sim, tmp_path / "cache.json")
    want = {v: f"notes of {v}\nsecond line" for v in GUESTS}
    # the notes reach the verdicts (the report reads them there) and the inventory
    assert {s.guest.vmid: s.guest.notes for s in first.guests} == want
    assert {g.vmid: g.notes for g in first.inventory.guests} == want
    assert [s.coverage for s in first.guests] == [s.coverage for s in again.guests]
    # all the threads together: the notes' pool beside the history's and the PBS side
    assert watch.most == WORKERS
    assert watch.overlapped, "no other request while the configs were read"
    assert sum("/config" in p for p in watch.paths) == len(GUESTS)
    # read once, then from the cache for a while
    assert not any("/config" in p for p in second.paths)
    assert {s.guest.vmid: s.guest.notes for s in again.guests} == want


def test_unreadable_notes_are_one_anomaly_beside_the_history(tmp_path: Path) -> None:
    scenario = Scenario.from_dict(
        builders.scenario(
            nodes=[sim_node(timezone="Europe/Paris")],
            storages=[pbs_storage("pbs1", server="192.0.2.1")],
            guests=[sim_guest(v, description="n") for v in GUESTS],
            jobs=[vzdump_job("daily", storage="pbs1", all=1)],
            tasks=[],
            faults=[{"path": "/nodes/pve1/qemu/101/config", "status": 500}],
        )
    )
    with Simulator(scenario) as sim:
        result, _ = _run(sim, tmp_path / "cache.json")
    texts = [str(a.message) for a in result.anomalies if a.component == "guests"]
    assert any("notes of 1 guest(s) not readable" in t for t in texts), texts
    notes = {s.guest.vmid: s.guest.notes for s in result.guests}
    assert notes[101] is None and notes[100] == "n"
