"""Golden reports: the real pipeline against the bundled demo cluster (simulator, in-process).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_report_golden.py``
and review the diff. The collection statistics vary between runs; the part after
``STATS_MARKER`` is cut before the comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.output.report import STATS_MARKER, render_report
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_sim import Simulator, load_scenario

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def demo_assessment() -> Assessment:
    scenario = load_scenario("demo")
    assert scenario.now is not None
    with Simulator(scenario, tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            use_cache=False,
        )
        with PveClient(settings) as client:
            return run_assessment(
                settings,
                RunOptions(now=scenario.now, need_notes=True, use_cache=False),
                client,
            )


def _stable(text: str) -> str:
    before, marker, _ = text.partition(STATS_MARKER)
    assert marker, "the statistics section is missing"
    return before


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_demo_report_matches_golden(demo_assessment: Assessment, lang: str) -> None:
    text = render_report(demo_assessment, "CRITICAL", lang, now_given=True)
    stable = _stable(text)
    path = GOLDEN / f"demo-report.{lang}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stable, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1"
    assert stable == path.read_text(encoding="utf-8")


def test_demo_report_is_well_formed(demo_assessment: Assessment) -> None:
    text = render_report(demo_assessment, "CRITICAL")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert sum(1 for t in tokens if t.type == "table_open") >= 5
    assert any(t.type == "fence" and t.info == "mermaid" for t in tokens)
    # the inventory's cluster name when the collector knows it, else the generic name
    name = demo_assessment.inventory.cluster_name or "PVE cluster"
    assert text.startswith(f"# Proxmox VE backup report: {name}\n")
    assert "| 9000 | debian-12-template | VM (template) |" in text
    assert len(demo_assessment.guests) == 25
    for g in demo_assessment.guests:
        assert f"| {g.guest.vmid} |" in text


def test_demo_report_is_deterministic(demo_assessment: Assessment) -> None:
    first = render_report(demo_assessment, "OK", "fr")
    assert first == render_report(demo_assessment, "OK", "fr")
