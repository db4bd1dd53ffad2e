"""Each Context describes its own results; the Summary only orders and fits them.

The demo cluster, collected over HTTP from the simulator, run through the real check.
"""

from __future__ import annotations

from typing import Any, cast

import nagiosplugin
import pytest

from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.output.check import CheckOptions, build_check
from pve_backup_report.output.check_contexts import Describing, describe
from pve_backup_report.output.check_text import Description, Judged, rank
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_sim import Scenario, Simulator


@pytest.fixture(scope="module")
def demo(demo_scenario: Scenario, demo_simulator: Simulator) -> Assessment:
    sim = demo_simulator
    settings = Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        use_cache=False,
    )
    assert demo_scenario.now is not None
    return run_assessment(settings, RunOptions(now=demo_scenario.now), PveClient(settings))


def run(a: Assessment, **options: Any) -> tuple[nagiosplugin.Check, list[Description]]:
    check = build_check(
        lambda: a, CheckOptions(thresholds={}, max_age_s=a.options.max_age_s, **options)
    )
    check()
    results = [r for r in check.results.results if r.metric is not None]
    judged = Judged(a, {cast(nagiosplugin.Metric, r.metric).name: r.state.code for r in results})
    return check, [describe(r, judged) for r in results]


def test_every_context_describes_its_results(demo: Assessment) -> None:
    check, _ = run(demo)
    for r in check.results:
        assert r.metric is None or isinstance(r.context, Describing), r.metric.name


def test_the_status_line_is_the_problem_parts_worst_first(demo: Assessment) -> None:
    """Without a budget every part keeps its richest rendering (as far as the names
    limit allows: the demo's fit), one after the other, worst first."""
    check, said = run(demo, max_output=0)
    parts = [d.part for d in said if d.part is not None and d.part.state != 0]
    assert parts, "the demo cluster is in trouble"
    status = check.summary_str
    at = [
        min(i for v in p.variants if (i := status.find(v)) >= 0)
        for p in sorted(parts, key=lambda p: (-rank(p.state), p.order))
    ]
    assert at == sorted(at) and at[0] == 0


def test_the_long_output_lists_the_guests_the_results_name(demo: Assessment) -> None:
    """The guests behind the results are every guest needing attention, each once."""
    check, said = run(demo, max_output=0)
    named = {g.guest.vmid for d in said for g in d.guests}
    assert named == {g.guest.vmid for g in demo.guests if g.alerting}
    long = check.verbose_str
    assert long[0] == f"Guests needing attention ({len(named)}):"
    assert all(any(f" {vmid} " in line for line in long[1 : len(named) + 1]) for vmid in named)


def test_ok_line_begins_with_the_coverage_and_names_what_is_tolerated(demo: Assessment) -> None:
    disabled: dict[str, tuple[str | None, str | None]] = {}
    for key in ("not_covered", "failed", "verify_failed", "disabled_only", "non_pbs_only"):
        disabled[key] = (None, None)
    check = build_check(lambda: demo, CheckOptions(disabled, max_age_s=(10**8, 10**9)))
    check()
    assert check.state == nagiosplugin.Ok
    head, tolerated = check.summary_str.split("; within thresholds: ")
    assert head.endswith("guests covered by active PBS backup jobs")
    assert tolerated.startswith("1 guest not covered (ct 207 scratch)")
