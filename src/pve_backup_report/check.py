"""The monitoring check: nagiosplugin Resource, Contexts and Summary (evaluation/presentation).

The Resource runs the collection (inside nagiosplugin's control, so errors become
UNKNOWN) and turns the :class:`~pve_backup_report.assess.Assessment` into metrics: one
count per problem category, judged against Nagios ranges; the age of the oldest latest
success, judged against ``--max-age``; the anomalies, judged by their severity; and
informational counts. The Summary names the guests behind each non-OK state.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nagiosplugin

from pve_backup_report.assess import Assessment, GuestStatus
from pve_backup_report.check_storage import CONTEXT as STORAGE_CONTEXT
from pve_backup_report.check_storage import (
    StorageUsedContext,
    space_line,
    storage_metrics,
    storage_parts,
)
from pve_backup_report.config import redact
from pve_backup_report.coverage import Coverage
from pve_backup_report.model import Problem, Severity
from pve_backup_report.pve_client import tls_notice
from pve_backup_report.thresholds import CATEGORIES
from pve_backup_report.timeutil import human_duration, iso_utc

STATUS_LINE_LIMIT = 200
NAMES_PER_CATEGORY = 4


@dataclass(frozen=True)
class CheckOptions:
    thresholds: Mapping[str, tuple[str | None, str | None]]  # key -> (warning, critical)
    max_age_s: tuple[int, int]
    tls_mode: str = "verified"
    storage_used: tuple[str | None, str | None] = ("85", "95")  # Nagios ranges on percent


# --------------------------------------------------------------------------- acquisition


class PveBackup(nagiosplugin.Resource):
    """Runs the collection and yields the metrics."""

    def __init__(self, collect: Callable[[], Assessment]) -> None:
        self._collect = collect
        self.assessment: Assessment | None = None

    name = "PVE_BACKUP"

    def probe(self) -> Generator[nagiosplugin.Metric, None, None]:
        a = self._collect()
        self.assessment = a
        for c in CATEGORIES:
            yield nagiosplugin.Metric(c.metric, a.count(c.problem), min=0, context=c.key)
        yield nagiosplugin.Metric(
            "oldest_success_age", oldest_success_age(a), uom="s", min=0, context="max_age"
        )
        yield nagiosplugin.Metric("anomalies", len(a.anomalies), min=0, context="anomalies")
        guests = a.guests
        info = {
            "guests_total": len(guests),
            "guests_covered": sum(1 for g in guests if g.coverage is Coverage.COVERED),
            "guests_ignored": sum(1 for g in guests if g.ignored is not None),
            "jobs_enabled": sum(1 for j in a.inventory.jobs if j.enabled),
            "jobs_disabled": sum(1 for j in a.inventory.jobs if not j.enabled),
            "api_requests": a.stats.requests,
        }
        for label, value in info.items():
            yield nagiosplugin.Metric(label, value, min=0, context="info")
        yield nagiosplugin.Metric(
            "collect_time", round(a.stats.collect_time_s, 2), uom="s", min=0, context="info"
        )
        yield from storage_metrics(a)


def oldest_success_age(a: Assessment) -> int:
    """Age in seconds of the oldest latest success among judged, non-ignored guests.

    A guest never backed up in the whole history window counts with the window's length.
    """
    ages = [_judged_age(g, a) for g in a.guests if g.freshness is not None and g.ignored is None]
    known = [x for x in ages if x is not None]
    return max(known) if known else 0


def _judged_age(g: GuestStatus, a: Assessment) -> int | None:
    if g.age_s is not None:
        return g.age_s
    if Problem.NEVER in g.problems:
        return a.options.history_days * 86400
    return None


# --------------------------------------------------------------------------- evaluation


class InfoContext(nagiosplugin.Context):
    """No judgement, but perfdata."""

    def performance(self, metric: nagiosplugin.Metric, resource: Any) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(metric.name, metric.value, metric.uom, min=metric.min)


class AnomalyContext(nagiosplugin.Context):
    """Worst anomaly severity: warning -> WARNING, critical (coverage unknowable) -> UNKNOWN."""

    def evaluate(
        self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource
    ) -> nagiosplugin.Result:
        a = resource.assessment if isinstance(resource, PveBackup) else None
        worst = a.worst_anomaly if a is not None else None
        if worst is Severity.CRITICAL:
            return self.result_cls(nagiosplugin.Unknown, "coverage cannot be determined", metric)
        if worst is Severity.WARNING:
            return self.result_cls(nagiosplugin.Warn, None, metric)
        return self.result_cls(nagiosplugin.Ok, None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: Any) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(metric.name, metric.value, min=0)


# Called after evaluation with the assessment and the overall state; returns an error
# text when its side effect (the report) failed, which makes the result at least WARNING.
AfterHook = Callable[[Assessment, nagiosplugin.state.ServiceState], "str | None"]


class PveBackupCheck(nagiosplugin.Check):
    def __init__(self, *objects: Any, after: AfterHook | None = None) -> None:
        super().__init__(*objects)
        self._after = after

    def __call__(self) -> None:
        super().__call__()
        resource = next((r for r in self.resources if isinstance(r, PveBackup)), None)
        if self._after is None or resource is None or resource.assessment is None:
            return
        error = self._after(resource.assessment, self.state)
        if error:
            self.results.add(nagiosplugin.Result(nagiosplugin.Warn, clean(error)))


def build_check(
    collect: Callable[[], Assessment], options: CheckOptions, after: AfterHook | None = None
) -> nagiosplugin.Check:
    resource = PveBackup(collect)
    contexts: list[nagiosplugin.Context] = []
    for c in CATEGORIES:
        warn, crit = options.thresholds.get(c.key, (c.warning, c.critical))
        contexts.append(nagiosplugin.ScalarContext(c.key, warn, crit))
    warn_age, crit_age = options.max_age_s
    contexts.append(nagiosplugin.ScalarContext("max_age", f"{warn_age}", f"{crit_age}"))
    contexts.append(AnomalyContext("anomalies"))
    contexts.append(InfoContext("info"))
    contexts.append(StorageUsedContext(STORAGE_CONTEXT, *options.storage_used))
    check = PveBackupCheck(resource, *contexts, BackupSummary(resource, options), after=after)
    check.name = "PVE_BACKUP"
    return check


# --------------------------------------------------------------------------- presentation


def _state_of(results: nagiosplugin.Results, metric: str) -> nagiosplugin.state.ServiceState:
    try:
        return results[metric].state
    except KeyError:
        return nagiosplugin.Ok


def _names(guests: Sequence[GuestStatus]) -> str:
    shown = [g.guest.label for g in guests[:NAMES_PER_CATEGORY]]
    if len(guests) > NAMES_PER_CATEGORY:
        shown.append(f"+{len(guests) - NAMES_PER_CATEGORY}")
    return ", ".join(shown)


def problem_parts(a: Assessment, results: nagiosplugin.Results) -> list[tuple[int, str]]:
    """(state code, text) for every non-OK part of the status line, worst first."""
    parts: list[tuple[int, int, str]] = []
    for order, c in enumerate(CATEGORIES):
        state = _state_of(results, c.metric)
        if state == nagiosplugin.Ok:
            continue
        guests = [g for g in a.guests if g.ignored is None and c.problem in g.problems]
        label = c.singular if len(guests) == 1 else c.plural
        parts.append((state.code, order, f"{len(guests)} {label} ({_names(guests)})"))
    age_state = _state_of(results, "oldest_success_age")
    if age_state != nagiosplugin.Ok:
        limit = a.options.max_age_s[1 if age_state == nagiosplugin.Critical else 0]
        old = [
            g
            for g in sorted(a.guests, key=lambda g: -(_judged_age(g, a) or 0))
            if g.freshness is not None and g.ignored is None and (_judged_age(g, a) or 0) > limit
        ]
        label = "backup" if len(old) == 1 else "backups"
        parts.append(
            (
                age_state.code,
                50,
                f"{len(old)} {label} older than {human_duration(limit)} ({_names(old)})",
            )
        )
    storage_limits = resource_limits(results)
    parts += [(code, 55, text) for code, text in storage_parts(a, results, storage_limits)]
    anomaly_state = _state_of(results, "anomalies")
    if anomaly_state != nagiosplugin.Ok:
        worst = sorted(
            (x for x in a.anomalies if x.severity is a.worst_anomaly),
            key=lambda x: x.component != "permissions",  # the root cause first
        )
        more = f" (+{len(worst) - 1} more)" if len(worst) > 1 else ""
        parts.append((anomaly_state.code, 60, f"{worst[0].message}{more}"))
    for r in results:
        if r.metric is None and r.state != nagiosplugin.Ok and r.hint:
            parts.append((r.state.code, 70, r.hint))
    parts.sort(key=lambda p: (-_rank(p[0]), p[1]))
    return [(code, text) for code, _, text in parts]


def resource_limits(results: nagiosplugin.Results) -> tuple[str | None, str | None]:
    """The storage thresholds, as the storage context holds them."""
    for r in results:
        ctx = r.context
        if isinstance(ctx, StorageUsedContext):
            return ctx.limits
    return None, None


def _rank(code: int) -> int:
    """UNKNOWN first (coverage unknowable), then CRITICAL, WARNING."""
    return {3: 4, 2: 3, 1: 2}.get(code, 0)


def _shorten(parts: Sequence[str], limit: int = STATUS_LINE_LIMIT) -> str:
    out = ""
    for i, text in enumerate(parts):
        candidate = text if not out else f"{out}, {text}"
        if out and len(candidate) > limit:
            return f"{out}, and {len(parts) - i} more"
        out = candidate
    return out


class BackupSummary(nagiosplugin.Summary):
    def __init__(self, resource: PveBackup, options: CheckOptions) -> None:
        self._resource = resource
        self._options = options

    def _suffix(self) -> str:
        return " [TLS NOT VERIFIED]" if self._options.tls_mode == "not verified" else ""

    def ok(self, results: nagiosplugin.Results) -> str:
        a = self._resource.assessment
        if a is None:
            return "no data"
        total = len(a.guests)
        covered = sum(1 for g in a.guests if g.coverage is Coverage.COVERED)
        ignored = sum(1 for g in a.guests if g.ignored is not None)
        text = f"{covered} of {total} guests covered by active PBS backup jobs, all backups fresh"
        if ignored:
            text += f", {ignored} ignored"
        return clean(text + self._suffix())

    def problem(self, results: nagiosplugin.Results) -> str:
        a = self._resource.assessment
        if a is None:  # collection failed: nagiosplugin's UNKNOWN result carries the reason
            return clean(str(results.first_significant))
        parts = [text for _, text in problem_parts(a, results)]
        return clean(_shorten(parts) + self._suffix())

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        a = self._resource.assessment
        if a is None:
            return []
        notes = [
            f"[{r.state.text.upper()}] {r.hint}"
            for r in results
            if r.metric is None and r.state != nagiosplugin.Ok and r.hint
        ]
        return [clean(line) for line in notes + long_output(a, self._options)]


def clean(text: str) -> str:
    """No ``|`` (perfdata separator), no line breaks inside one output line, and no
    secret even when PVE data (notes, task messages) happens to echo it."""
    return " ".join(redact(text).replace("|", "/").split())


def _guest_line(g: GuestStatus, a: Assessment) -> str:
    lb = g.last_backup
    latest = "none"
    if lb is not None:
        latest = f"{lb.status} at {iso_utc(lb.started) or '?'}"
        if lb.message and lb.status != "ok":
            latest += f" ({lb.message})"
    age = human_duration(_judged_age(g, a)) if g.freshness is not None else "-"
    problems = ", ".join(p.value for p in g.problems)
    jobs = ", ".join(g.jobs) or "none"
    reason = "; ".join(g.reasons)
    line = (
        f"{g.guest.label} (node {g.guest.node}): {problems}; jobs: {jobs}; "
        f"latest backup: {latest}; age: {age}"
    )
    return f"{line}; {reason}" if reason else line


def long_output(a: Assessment, options: CheckOptions) -> list[str]:
    lines: list[str] = []
    problem_guests = [g for g in a.guests if g.alerting]
    if problem_guests:
        lines.append(f"Guests needing attention ({len(problem_guests)}):")
        lines += [f"  {_guest_line(g, a)}" for g in problem_guests]
    if a.anomalies:
        lines.append(f"Anomalies ({len(a.anomalies)}):")
        order = sorted(a.anomalies, key=lambda x: -x.severity.rank)
        lines += [f"  [{x.severity.value}] {x.component}: {x.message}" for x in order]
    ignored = [g for g in a.guests if g.ignored is not None]
    if ignored:
        lines.append(f"Ignored guests ({len(ignored)}):")
        for g in ignored:
            assert g.ignored is not None
            lines.append(f"  {g.guest.label}: {g.ignored.reason}")
    if a.storage_space:
        lines.append("PBS storage space:")
        lines += [space_line(s) for s in a.storage_space]
    notice = tls_notice(options.tls_mode)
    if notice:
        lines.append(notice)
    if not lines:
        lines.append("Every guest is covered by an active PBS job and its backups are fresh.")
    return lines
