"""A realistic, read-only Proxmox VE API simulator for tests, benchmarks and ``--demo``.

Usage::

    with Simulator("demo", tls=True) as sim:
        requests.get(sim.api_url + "/version", headers=sim.auth_header, verify=sim.ca_path)

The scenario format is documented in ``docs/simulator.md``.
"""

from __future__ import annotations

from pve_sim.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
)
from pve_sim.server import Simulator
from pve_sim.stats import RequestRecord, SimulatorStats
from pve_sim.tls import TlsError

__all__ = [
    "RequestRecord",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "SimulatorStats",
    "TlsError",
    "load_scenario",
]
