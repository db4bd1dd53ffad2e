"""Assessments whose history is collected another way for one run: ``pipeline``'s
``collect_history`` swapped for a test's own (a spy, or reading newest first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from pve_backup_report import pipeline
from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.analysis.coverage import CoverageResult
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.tasks import HistoryCollection, HistoryOptions, collect_history
from pve_backup_report.config import Secret, Settings
from pve_backup_report.model import Inventory
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_sim import Simulator


def newest_first(
    client: PveClient,
    inventory: Inventory,
    coverage: CoverageResult,
    now: int,
    options: HistoryOptions,
    *rest: Any,
) -> HistoryCollection:
    """``collect_history`` reading every node newest first (no schedule prediction)."""
    options = replace(options, schedule_selection=False)
    return collect_history(client, inventory, coverage, now, options, *rest)


def assess_with(
    sim: Simulator, now: int, collect: Callable[..., HistoryCollection], **settings: Any
) -> Assessment:
    """``run_assessment`` against ``sim`` at ``now``, without the task cache, its history
    collected by ``collect``; ``settings``: more of the run's settings."""
    run = Settings(
        hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret),
        **settings,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as m:
        m.setattr(pipeline, "collect_history", collect)
        with PveClient(run) as client:
            return run_assessment(run, RunOptions(now=now, use_cache=False), client)
