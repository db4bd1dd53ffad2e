"""The logs of a reading round are fetched a bounded number ahead of the parsing.

A round can list thousands of logs (a cold run of a large cluster), and one thread parses
them more slowly than the workers fetch them: without a bound every fetched log waited in
memory until its turn (about 50 MB of a cold XL run's peak).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from builders import LogGuest, scenario, sim_guest, sim_node, vzdump_job, vzdump_run
from pve_backup_report.analysis.freshness import Freshness
from pve_backup_report.collect import tasks
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

NOW = parse_timestamp("2026-11-20T12:00:00Z")
DAY = 86400
RUNS = 12


def _one_run_per_node() -> Scenario:
    """RUNS nodes, one guest each, in one job: last night's round reads RUNS logs."""
    start = NOW - DAY + 9 * 3600  # 21:00 UTC yesterday
    nodes = [f"pve{n}" for n in range(1, RUNS + 1)]
    return Scenario.from_dict(
        scenario(
            now=NOW,
            nodes=[sim_node(name) for name in nodes],
            guests=[sim_guest(100 + n, node=name) for n, name in enumerate(nodes)],
            jobs=[vzdump_job("daily", all=1)],
            tasks=[
                vzdump_run([LogGuest(100 + n)], start=start + n, end=start + 60, node=name)
                for n, name in enumerate(nodes)
            ],
        )
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_logs_are_fetched_at_most_ahead_per_worker_before_their_parsing(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    fetched: list[str] = []  # logs fetched (their answer in memory)
    waiting: list[int] = []  # when each log's parsing began: fetched logs not yet parsed
    fetch, parse = tasks._fetch_log, tasks._parse

    def counting_fetch(client: PveClient, task: Any, cap: int) -> Any:
        got = fetch(client, task, cap)
        fetched.append(task.upid)
        return got

    def slow_parse(task: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # the parsing is the slow side: the fetches would all finish
        waiting.append(len(fetched) - len(waiting))
        return parse(task, *args, **kwargs)

    monkeypatch.setattr(tasks, "_fetch_log", counting_fetch)
    monkeypatch.setattr(tasks, "_parse", slow_parse)
    with Simulator(_one_run_per_node(), tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret),
            max_workers=workers,
        )  # fmt: skip
        with PveClient(settings) as client:
            a = run_assessment(settings, RunOptions(now=NOW, use_cache=False), client)
    assert {g.guest.vmid: g.freshness for g in a.guests} == {
        100 + n: Freshness.FRESH for n in range(RUNS)
    }
    assert len(fetched) == len(waiting) == RUNS  # every log read, each once
    ahead = workers * tasks._AHEAD
    assert ahead < RUNS - 1  # the bound is what this test checks
    assert max(waiting) <= ahead, waiting
