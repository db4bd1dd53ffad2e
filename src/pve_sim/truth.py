"""The generator's ground truth: what the check must say about each guest of a generated
cluster, from what the generator itself configured and made happen (``generate.py``,
``runs.py``, ``lifecycle.py``), never from the plugin's analysis code.

The categories are those of ``docs/states-and-perfdata.md`` (``model.Problem``):

* coverage: ``covered`` when an enabled job takes the guest on its node today and writes to
  a PBS storage there; else ``non_pbs_only`` (enabled jobs, none to PBS: a file storage or
  a ``dumpdir``), ``disabled_only`` (only jobs whose raw ``enabled`` is Perl-false: ``0``,
  ``""``), ``not_covered``;
* for a covered guest, its latest result and latest success among the PBS runs of the
  history window, on whichever node they ran (a guest moves), for the guest that has the
  VMID today (a deleted VM's results are not the container's that reuses its VMID); a
  run that died before its guests (storage, lock) failed each guest it was to back up; a
  run still going is no result, its unfinished snapshot no success;
* the expected run: the latest event of its PBS jobs at least ``grace`` ago; none if the
  guest was created after it (no run could have taken it: ``pending``, not ``never``);
* ``failed`` (latest result failed) > ``never``/``pending`` (no success) > ``stale``
  (success started over 60 s before the expected run) > fresh; ``verify_failed``: its
  newest finished snapshot on its PBS storages failed verification; ``age_warning`` /
  ``age_critical``: the latest success (for ``never``, the history window) is older than
  8 / 15 days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pve_sim.runs import GuestResult, effective_storage, enabled, events
from pve_sim.selection import included_guests

__all__ = ["GRACE_S", "MAX_AGE_S", "GuestTruth", "ground_truth", "truth_document"]

GRACE_S = 3 * 3600  # the check's default --grace
MAX_AGE_S = (8 * 86400, 15 * 86400)  # and --max-age
START_TOLERANCE_S = 60


@dataclass(frozen=True)
class GuestTruth:
    vmid: int
    type: str
    name: str
    node: str
    coverage: str
    pbs_jobs: tuple[str, ...]
    freshness: str | None
    latest: GuestResult | None
    latest_success: GuestResult | None
    expected_run: int | None
    verification: str | None
    problems: tuple[str, ...]
    traits: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        def result(r: GuestResult | None) -> dict[str, Any] | None:
            if r is None:
                return None
            status = "ok" if r.ok else "failed"
            return {"status": status, "started": r.started, "upid": r.upid,
                    "message": r.message, "storage": r.storage}  # fmt: skip

        return {
            "vmid": self.vmid,
            "type": self.type,
            "name": self.name,
            "node": self.node,
            "coverage": self.coverage,
            "pbs_jobs": list(self.pbs_jobs),
            "freshness": self.freshness,
            "latest": result(self.latest),
            "latest_success": result(self.latest_success),
            "expected_run": self.expected_run,
            "verification": self.verification,
            "problems": list(self.problems),
            "traits": list(self.traits),
        }


def _coverage(
    guest: Mapping[str, Any],
    jobs: Sequence[Mapping[str, Any]],
    selections: Mapping[str, Mapping[str, Sequence[int]]],
    pbs: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[str, Any],
) -> tuple[str, list[Mapping[str, Any]]]:
    vmid, node = int(guest["vmid"]), str(guest["node"])
    taking = [j for j in jobs if vmid in selections[str(j["id"])].get(node, ())]
    active = [j for j in taking if enabled(j)]
    to_pbs = [j for j in active if effective_storage(j, defaults) in pbs]
    if to_pbs:
        return "covered", to_pbs
    if active:
        return "non_pbs_only", []
    return ("disabled_only" if taking else "not_covered"), []


def _expected(jobs: Sequence[Mapping[str, Any]], now: int, tz: str) -> int | None:
    latest = None
    for job in jobs:
        evs = events(str(job["schedule"]), now - 40 * 86400, now - GRACE_S + 1, tz)
        if evs and (latest is None or evs[-1] > latest):
            latest = evs[-1]
    return latest


def _freshness(
    latest: GuestResult | None, success: GuestResult | None, expected: int | None
) -> str:
    if latest is not None and not latest.ok:
        return "failed"
    if success is None:
        return "never" if expected is not None else "pending"
    if expected is not None and success.started < expected - START_TOLERANCE_S:
        return "stale"
    return "fresh"


def _age_problem(age: int | None) -> list[str]:
    if age is None:
        return []
    if age > MAX_AGE_S[1]:
        return ["age_critical"]
    return ["age_warning"] if age > MAX_AGE_S[0] else []


@dataclass(frozen=True)
class _Facts:
    """What the generator knows, indexed for the per-guest judgement."""

    now: int
    days: int
    tz: str
    results: Mapping[int, Sequence[GuestResult]]
    verification: Any  # (storage, vmid, type) -> state of the newest finished snapshot
    traits: Mapping[int, Sequence[str]]
    created: Mapping[int, int]


def _judge(
    guest: Mapping[str, Any],
    coverage: str,
    pbs_jobs: Sequence[Mapping[str, Any]],
    defaults: Mapping[str, Any],
    facts: _Facts,
) -> GuestTruth:
    vmid = int(guest["vmid"])
    base = GuestTruth(
        vmid, str(guest["type"]), str(guest["name"]), str(guest["node"]), coverage, (), None,
        None, None, None, None, (coverage,), tuple(sorted(facts.traits.get(vmid, ()))),
    )  # fmt: skip
    if coverage != "covered":
        return base
    mine = [r for r in facts.results.get(vmid, ()) if not r.former]
    latest = max(mine, key=lambda r: r.started, default=None)
    success = max((r for r in mine if r.ok), key=lambda r: r.started, default=None)
    expected = _expected(pbs_jobs, facts.now, facts.tz)
    created = facts.created.get(vmid)
    if created is not None and expected is not None and expected < created:
        expected = None  # no run since it exists
    freshness = _freshness(latest, success, expected)
    problems = [freshness] if freshness in ("failed", "stale", "never") else []
    storages = {effective_storage(j, defaults) for j in pbs_jobs}
    state = facts.verification(storages, vmid, str(guest["type"]))
    if state == "failed":
        problems.append("verify_failed")
    age = facts.now - success.started if success is not None else None
    if freshness == "never":
        age = facts.days * 86400
    problems += _age_problem(age)
    traits = set(base.traits)
    if latest is not None and latest.dead:  # the run died before its guests: why
        traits.add("died_on_lock" if "vzdump.lock" in str(latest.message) else "died_on_storage")
    return replace(
        base,
        pbs_jobs=tuple(sorted(str(j["id"]) for j in pbs_jobs)),
        freshness=freshness,
        latest=latest,
        latest_success=success,
        expected_run=expected,
        verification=state,
        problems=tuple(problems),
        traits=tuple(sorted(traits)),
    )


def ground_truth(generated: Any) -> list[GuestTruth]:
    """Per guest of a :class:`~pve_sim.generate.Generated` cluster."""
    data = generated.data
    now = int(generated.history_now)
    vmlist = {int(g["vmid"]): str(g["node"]) for g in data["guests"]}
    members = {p["poolid"]: list(p["members"]) for p in data["pools"]}
    selections = {str(j["id"]): included_guests(j, vmlist, members) for j in data["jobs"]}
    pbs = {s["storage"]: s for s in data["storages"] if s["type"] == "pbs"}
    defaults = {n["node"]: n.get("vzdump_defaults", {}) for n in data["nodes"]}
    tz = {n["node"]: n["timezone"] for n in data["nodes"]}
    results: dict[int, list[GuestResult]] = {}
    for r in generated.history.results:
        results.setdefault(r.vmid, []).append(r)
    out = []
    for guest in data["guests"]:
        node = str(guest["node"])
        coverage, pbs_jobs = _coverage(guest, data["jobs"], selections, pbs, defaults[node])
        facts = _Facts(now, generated.days, tz[node], results, generated.verification,
                       generated.traits, generated.life.created)  # fmt: skip
        out.append(_judge(guest, coverage, pbs_jobs, defaults[node], facts))
    return out


def truth_document(generated: Any) -> dict[str, Any]:
    """The ground truth as JSON (``--ground-truth FILE``)."""
    return {
        "spec": generated.spec_text,
        "now": generated.history_now,
        "options": {
            "grace_s": GRACE_S,
            "max_age_s": list(MAX_AGE_S),
            "history_days": generated.days,
        },
        "guests": [t.to_json() for t in ground_truth(generated)],
    }
