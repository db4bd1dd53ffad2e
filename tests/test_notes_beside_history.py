"""The guests' notes (report and dumps) are read beside the history, and all the run's
threads together never have more than ``max_workers`` requests in flight.

A first report on a large cluster asks for every guest's config (pve-manager
``src/PVE/API2/Qemu.pm`` / ``src/PVE/API2/LXC.pm`` ``vm_config``: the ``description`` is the
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
    the backup storage's content (asked by the history's phase, after the notes were
    started; the task lists may be asked earlier, beside the inventory) started while
    configs were in flight.

    So that a loaded machine cannot make the overlap a matter of luck, the content
    request waits until a config is in flight, and the first config waits until the
    content request has started beside it, each at most ``HOLD`` seconds: when the notes
    are read beside the history the two meet at once; when they are read before or after
    it, both waits time out and no overlap is seen. A run whose notes all come from the
    cache holds nothing."""

    HOLD = 5.0

    def __init__(self, client: PveClient, hold: bool) -> None:
        self.lock = threading.Lock()
        self.configs = self.others = self.most = 0
        self.overlapped = False
        self.paths: list[str] = []
        self.config_started = threading.Event()
        self.other_beside = threading.Event()
        transport = client._transport
        real = transport.get

        def get(url: str, headers: Any) -> Answer:
            config = "/config" in url
            content = "/content" in url
            if hold and content:
                self.config_started.wait(self.HOLD)
            with self.lock:
                self.paths.append(url)
                if content and self.configs:
                    self.overlapped = True
                    self.other_beside.set()
                first = hold and config and not self.config_started.is_set()
                self.configs += config
                self.others += not config
                self.most = max(self.most, self.configs + self.others)
                if config:
                    self.config_started.set()
            try:
                if first:
                    self.other_beside.wait(self.HOLD)
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


def _run(sim: Simulator, cache: Path, hold: bool = False) -> tuple[Assessment, Watch]:
    settings = Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        request_timeout=5.0,
        max_workers=WORKERS,
        cache_file=str(cache),
    )
    client = PveClient(settings)
    watch = Watch(client, hold)
    assert sim.scenario.now is not None
    result = run_assessment(settings, RunOptions(now=sim.scenario.now, need_notes=True), client)
    client.close()
    return result, watch


def test_notes_are_read_beside_the_history_within_max_workers(tmp_path: Path) -> None:
    with Simulator(_scenario(), latency_ms=15) as sim:
        first, watch = _run(sim, tmp_path / "cache.json", hold=True)
        again, second = _run(sim, tmp_path / "cache.json")
    want = {v: f"notes of {v}\nsecond line" for v in GUESTS}
    # the notes reach the verdicts (the report reads them there) and the inventory
    assert {s.guest.vmid: s.guest.notes for s in first.guests} == want
    assert {g.vmid: g.notes for g in first.inventory.guests} == want
    assert [s.coverage for s in first.guests] == [s.coverage for s in again.guests]
    # all the threads together: the notes' pool beside the history's and the PBS side
    assert watch.most == WORKERS
    assert watch.overlapped, "the storage content was not asked beside the configs"
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
