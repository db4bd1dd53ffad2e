"""The whole output fits the monitoring core's limit, on a 2,000-guest cluster in trouble.

Nagios Core keeps 8 KiB of a plugin's output, NRPE 64 KiB; the perfdata comes last, so an
output over the limit loses the graphs exactly when things break. The real command line
runs against a generated cluster (``simulator/generate.py``) with many failed, stale, not
covered, disabled-only and non-PBS guests; the bytes of its real stdout are counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pve_backup_report.analysis.thresholds import CATEGORIES
from pve_backup_report.output.check_text import DEFAULT_MAX_OUTPUT
from pve_backup_report.timeutil import iso_utc, parse_timestamp
from pve_sim import Scenario, Simulator
from pve_sim.generate import generate_scenario

IO_ERROR = "job failed with err -5 - Input/output error"
MORE = "(see --report or --dump-coverage)"


def troubled_cluster() -> dict[str, Any]:
    """8 nodes, 2,000 guests: two nodes' latest runs fail for every guest, one VMID-list
    job shrinks to one guest (the others: not covered), one is disabled, one writes to
    the local directory storage."""
    data = generate_scenario(8, 2000, 30, 3)
    on_node: dict[str, list[int]] = {}
    for g in data["guests"]:
        on_node.setdefault(g["node"], []).append(g["vmid"])
    for node in ("pve01", "pve02"):
        tasks = [t for t in data["tasks"] if t["node"] == node and t.get("log_recipe")]
        latest = max(t["starttime"] for t in tasks)
        for t in tasks:
            if t["starttime"] >= latest - 6 * 3600:
                t["status"] = "job errors"
                t["log_recipe"]["failures"] = [
                    {"vmid": v, "error": IO_ERROR, "stage": "transfer"} for v in on_node[node]
                ]
    lists = [
        j
        for j in data["jobs"]
        if j.get("vmid") and j.get("enabled", 1) and str(j.get("storage") or "").startswith("pbs-")
    ]
    lists[0]["vmid"] = lists[0]["vmid"].split(",")[0]
    lists[1]["enabled"] = 0
    lists[2]["storage"] = "local"
    return data


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Simulator, str]]:
    data = troubled_cluster()
    later = iso_utc(parse_timestamp(data["now"]) + 3 * 86400)  # every daily job missed 3 runs
    with Simulator(Scenario.from_dict(data), tls=False) as sim:
        yield sim, later or ""


def run(
    cluster: tuple[Simulator, str], *args: str, **env: str
) -> subprocess.CompletedProcess[bytes]:
    sim, now = cluster
    full = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    full.update(
        PVE_HOST=sim.url,
        PVE_API_TOKEN_ID=sim.token_id,
        PVE_API_TOKEN_SECRET=sim.token_secret,
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "pve_backup_report", "--no-cache", "--now", now, *args],
        env=full,
        capture_output=True,
        timeout=120,
    )


def perfdata(out: str) -> dict[str, str]:
    perf = out.rsplit("|", 1)[1]
    return dict(item.split("=", 1) for item in perf.split())


def count(perf: dict[str, str], label: str) -> int:
    return int(perf[label].split(";")[0])


@pytest.fixture(scope="module")
def unlimited(cluster: tuple[Simulator, str]) -> str:
    proc = run(cluster, "-v", "--max-output", "0")
    assert proc.returncode == 2 and proc.stderr == b""
    return proc.stdout.decode()


def test_unlimited_output_is_what_the_budget_has_to_cut(unlimited: str) -> None:
    """The cluster is in trouble enough: without a limit the output is far above 8 KiB."""
    assert len(unlimited.encode()) > 10 * DEFAULT_MAX_OUTPUT
    perf = perfdata(unlimited)
    for c in CATEGORIES:
        if c.key not in ("indeterminate",):
            assert count(perf, c.metric) > 0, c.metric
    assert count(perf, "backups_stale") > 1000 and count(perf, "backups_failed") > 100
    assert "... and" not in unlimited  # every guest listed


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]])
def test_whole_output_fits_8_kib_with_all_perfdata_and_categories(
    cluster: tuple[Simulator, str], unlimited: str, verbosity: list[str]
) -> None:
    proc = run(cluster, *verbosity)
    assert proc.returncode == 2 and proc.stderr == b""
    assert len(proc.stdout) <= DEFAULT_MAX_OUTPUT
    out = proc.stdout.decode()
    perf = perfdata(out)
    assert perf.keys() == perfdata(unlimited).keys()  # perfdata is never cut
    status = out.splitlines()[0].split(" | ")[0]
    for c in CATEGORIES:  # every category that alerts, with its count
        n = count(perf, c.metric)
        if n and (c.warning, c.critical) != (None, None):
            assert f"{n} {c.singular if n == 1 else c.plural}" in status, (c.key, status)
    assert " backups older than 8d" in status  # the maximum age
    assert "PBS storage(s) pbs-offsite list no backups" in status  # the worst anomaly


def test_long_output_is_worst_first_and_says_how_many_more(
    cluster: tuple[Simulator, str],
) -> None:
    out = run(cluster, "-v").stdout.decode()
    lines = out.splitlines()
    start = lines.index("Guests needing attention (2000):")
    more = next(i for i in range(start, len(lines)) if lines[i].startswith("... and "))
    shown = lines[start + 1 : more]
    assert 5 <= len(shown) < 2000
    assert all(": failed" in line for line in shown)  # failed guests come first
    assert lines[more] == f"... and {2000 - len(shown)} more {MORE}"
    assert lines[more + 1].startswith("Anomalies (")  # the anomalies still have their place
    assert lines[more + 2].startswith("[warning] permissions: PBS storage(s) pbs-offsite")


def test_budget_is_raised_by_flag_and_environment(cluster: tuple[Simulator, str]) -> None:
    """For Icinga 2, which keeps any length."""
    default = run(cluster, "-v").stdout
    for proc in (
        run(cluster, "-v", "--max-output", "65536"),
        run(cluster, "-v", PVE_MAX_OUTPUT="65536"),
    ):
        assert DEFAULT_MAX_OUTPUT * 4 < len(proc.stdout) <= 65536
        assert proc.stdout.count(b"\n") > default.count(b"\n")


def test_a_part_never_disappears_however_small_the_limit() -> None:
    """Names go first (the last parts first), the counts stay."""
    from pve_backup_report.output.check_text import Part, fit_parts

    parts = [
        Part(2, 0, ("57 guests not covered (vm 251 web-0018, +56)", "57 guests not covered")),
        Part(1, 6, ("1575 stale backups (vm 101, vm 102, ...)", "1575 stale backups")),
    ]
    assert fit_parts(parts, 1000) == (
        "57 guests not covered (vm 251 web-0018, +56), 1575 stale backups (vm 101, vm 102, ...)"
    )
    assert (
        fit_parts(parts, 70) == "57 guests not covered (vm 251 web-0018, +56), 1575 stale backups"
    )
    assert fit_parts(parts, 0) == "57 guests not covered, 1575 stale backups"


def test_category_alerting_on_zero_guests_has_no_empty_name_list() -> None:
    from pve_backup_report.output.check_text import named

    assert named("0 guests never backed up", []) == ("0 guests never backed up",)
