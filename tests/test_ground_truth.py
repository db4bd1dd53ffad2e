"""The check against the generator's ground truth on the generated S and M clusters.

The demo is a preset of the same model (``pve_sim/demo.py``): its truth is checked the same
way, and must tell the demo's story.

The generator (``simulator/generate.py``, ``runs.py``, ``lifecycle.py``) models PVE from
upstream source on its own: it drains a node, reuses a VMID with the other type, creates
guests after the last run, lets a PBS become unreachable and a run hang with the lock
timeouts behind it, writes shell-quoted notes templates, legacy and ``dumpdir`` jobs.
``simulator/truth.py`` states what the check must say about each guest from what the
generator made happen. The real CLI (``--dump-coverage --format json``) runs against the
cluster served over HTTP; every guest's coverage and problems must be the truth's. On a
failure the message lists each kind of disagreement with one example guest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from pve_sim import Scenario, Simulator
from pve_sim.demo import demo_cluster
from pve_sim.generate import GenerateSpec, generate_cluster
from pve_sim.synth import LOCK_TIMEOUT
from pve_sim.truth import GuestTruth, ground_truth

SIZES = {
    "S": GenerateSpec(nodes=3, guests=60, jobs=6),
    "M": GenerateSpec(nodes=8, guests=1000, jobs=20),
}


_EVERY_CASE = {
    "migrated", "reused_vmid", "created", "stuck_run", "died_on_lock", "legacy_job",
    "dumpdir_job", "quoted_notes_job",
}  # fmt: skip


def _dump(sim: Simulator, now: int, days: int, tmp_path: Path) -> dict[str, Any]:
    env = dict(
        os.environ,
        PVE_HOST=sim.url,
        PVE_API_TOKEN_ID=sim.token_id,
        PVE_API_TOKEN_SECRET=sim.token_secret,
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", "--dump-coverage", "--format", "json",
         "--now", str(now), "--history-days", str(days), "--no-cache"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-500:] + proc.stderr[-2000:]
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _result(r: dict[str, Any] | None) -> str:
    return "none" if r is None else f"{r['status']} at {r['started']}"


def _mismatches(truth: list[GuestTruth], doc: dict[str, Any]) -> list[str]:
    """One line per kind of disagreement (truth vs check, and what the guest went
    through), with how many guests and one example."""
    seen = {int(g["vmid"]): g for g in doc["guests"]}
    kinds: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for t in truth:
        g = seen.get(t.vmid)
        if g is None:
            kinds[("missing from the check",)].append(f"{t.type} {t.vmid}")
            continue
        if (g["coverage"], sorted(g["problems"])) == (t.coverage, sorted(t.problems)):
            continue
        key = (t.coverage, tuple(sorted(t.problems)), g["coverage"],
               tuple(sorted(g["problems"])), t.traits)  # fmt: skip
        latest = "none" if t.latest is None else (
            f"{'ok' if t.latest.ok else 'failed'} at {t.latest.started}")  # fmt: skip
        kinds[key].append(
            f"{t.type} {t.vmid} on {t.node}: truth {t.freshness}, latest {latest}, success "
            f"{t.latest_success.started if t.latest_success else 'none'}; check "
            f"{g['freshness']}, latest {_result(g['last_backup'])}, success "
            f"{_result(g['last_success'])}"
        )
    lines = []
    for key, examples in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        if len(key) == 1:
            lines.append(f"{len(examples)} {key[0]}: {examples[0]}")
            continue
        cov, problems, got_cov, got, traits = key
        lines.append(
            f"{len(examples)} x truth {cov} {list(problems)} / check {got_cov} {list(got)} "
            f"[{', '.join(traits) or 'nothing special'}], e.g. {examples[0]}"
        )
    return lines


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_check_says_what_the_generator_knows(size: str, tmp_path: Path) -> None:
    spec = SIZES[size]
    generated = generate_cluster(spec)
    truth = ground_truth(generated)
    traits = {trait for t in truth for trait in t.traits}
    assert traits >= _EVERY_CASE
    died = {str(r.message).split(":")[0] for r in generated.history.results if r.dead}
    assert died >= {"could not activate storage 'pbs-b'", LOCK_TIMEOUT}
    with Simulator(Scenario.from_dict(generated.data)) as sim:
        doc = _dump(sim, generated.history_now, spec.days, tmp_path)
    problems = _mismatches(truth, doc)
    assert not problems, f"{size}: {len(problems)} kinds of disagreement:\n" + "\n".join(problems)


# The demo's story (docs/simulator.md): every other guest is covered and fresh.
_DEMO_STORY = {
    "scratch": ("not_covered",),
    "legacy-app": ("disabled_only",),
    "win-ts": ("non_pbs_only",),
    "mail": ("failed",),
    "fileserver": ("failed",),
    "db1": ("verify_failed",),
}


def test_the_check_says_what_the_demo_knows(tmp_path: Path) -> None:
    generated = demo_cluster()
    truth = ground_truth(generated)
    story = {t.name: t.problems for t in truth if t.problems}
    assert story == _DEMO_STORY
    with Simulator(Scenario.from_dict(generated.data)) as sim:
        doc = _dump(sim, generated.history_now, generated.days, tmp_path)
    problems = _mismatches(truth, doc)
    assert not problems, f"demo: {len(problems)} kinds of disagreement:\n" + "\n".join(problems)
