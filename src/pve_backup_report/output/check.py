"""The monitoring check: nagiosplugin Resource, Check and Summary (acquisition, presentation).

The Resource runs the collection (inside nagiosplugin's control, so errors become
UNKNOWN) and turns the :class:`~pve_backup_report.analysis.assess.Assessment` into metrics: one
count per problem category, judged against Nagios ranges; the age of the oldest latest
success, judged against ``--max-age``; the anomalies, judged by their severity; and
informational counts. Each metric's Context (``output/check_contexts.py``,
``output/check_storage.py``) judges it and describes the result; the Summary only orders
the descriptions worst first and shortens them to fit the output budget.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nagiosplugin

from pve_backup_report.analysis.assess import Assessment, pending_guests
from pve_backup_report.analysis.coverage import Coverage
from pve_backup_report.analysis.thresholds import CATEGORIES
from pve_backup_report.model import TlsMode
from pve_backup_report.output.check_contexts import (
    AnomalyContext,
    CategoryContext,
    CoverageContext,
    IgnoredContext,
    InfoContext,
    MaxAgeContext,
    PendingContext,
    describe,
)
from pve_backup_report.output.check_storage import CONTEXT as STORAGE_CONTEXT
from pve_backup_report.output.check_storage import (
    StorageUsedContext,
    space_line,
    storage_metrics,
)
from pve_backup_report.output.check_text import (
    DEFAULT_MAX_OUTPUT,
    FILL_GUESTS,
    NOTE_ORDER,
    OK,
    PLACE_GUESTS,
    STATUS_NAMES_LIMIT,
    Description,
    Judged,
    Part,
    Section,
    clean,
    cut,
    fit_parts,
    fit_sections,
    guest_line,
    line_size,
    ordered,
    part,
    size,
    tls_notice,
)


@dataclass(frozen=True)
class CheckOptions:
    thresholds: Mapping[str, tuple[str | None, str | None]]  # key -> (warning, critical)
    max_age_s: tuple[int, int]
    tls_mode: TlsMode = "verified"
    tls_origin: str | None = None  # the setting that turned verification off
    max_output: int = DEFAULT_MAX_OUTPUT  # bytes of the whole output; 0: no limit
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
        oldest = oldest_success_age(a)
        if oldest is not None:  # no success known: left out rather than a fresh-looking 0
            yield nagiosplugin.Metric(
                "oldest_success_age", oldest, uom="s", min=0, context="max_age"
            )
        yield nagiosplugin.Metric("anomalies", len(a.anomalies), min=0, context="anomalies")
        guests = a.guests
        info = {  # label: (value, context)
            "guests_total": (len(guests), "info"),
            "guests_covered": (sum(g.coverage is Coverage.COVERED for g in guests), "coverage"),
            "guests_ignored": (sum(g.ignored is not None for g in guests), "ignored"),
            "guests_pending": (len(pending_guests(a)), "pending"),
            "jobs_enabled": (sum(1 for j in a.inventory.jobs if j.enabled), "info"),
            "jobs_disabled": (sum(1 for j in a.inventory.jobs if not j.enabled), "info"),
            "api_requests": (a.stats.requests, "info"),
        }
        for label, (value, context) in info.items():
            yield nagiosplugin.Metric(label, value, min=0, context=context)
        yield nagiosplugin.Metric(
            "collect_time", round(a.stats.collect_time_s, 2), uom="s", min=0, context="info"
        )
        yield from storage_metrics(a)


def oldest_success_age(a: Assessment) -> int | None:
    """Age in seconds of the oldest latest success among judged, non-ignored guests.

    A guest never backed up in the whole history window counts with the window's length.
    None when no such age is known (no judged guest, or none with a known success).
    """
    ages = [a.judged_age(g) for g in a.guests if g.freshness is not None and g.ignored is None]
    known = [x for x in ages if x is not None]
    return max(known) if known else None


# --------------------------------------------------------------------------- evaluation


# Called after evaluation with the assessment and the overall state; returns an error
# text when its side effect (the report) failed, which makes the result at least WARNING.
AfterHook = Callable[[Assessment, nagiosplugin.state.ServiceState], "str | None"]


class PveBackupCheck(nagiosplugin.Check):
    def __init__(
        self, *objects: Any, after: AfterHook | None = None, summary: BackupSummary
    ) -> None:
        super().__init__(*objects, summary)
        self._after = after
        self._summary = summary
        self._verbose: int | None = None  # set by main(): run by nagiosplugin's Runtime

    def main(self, verbose: int = 0, timeout: int = 0) -> None:
        self._verbose = verbose
        super().main(verbose, timeout)

    def __call__(self) -> None:
        super().__call__()
        resource = next((r for r in self.resources if isinstance(r, PveBackup)), None)
        if resource is None or resource.assessment is None:
            return
        if self._after is not None:
            error = self._after(resource.assessment, self.state)
            if error:
                self.results.add(nagiosplugin.Result(nagiosplugin.Warn, clean(error)))
        self._fit(resource.assessment)

    def _fit(self, a: Assessment) -> None:
        """Fit the texts into the budget, now that the state and perfdata are known."""
        verbose = 1 if self._verbose is None else self._verbose
        log = _log_text() if self._verbose is not None and self._verbose >= 2 else ""
        prefix = f"{self.name} {str(self.state).upper()} - "
        frame = size(prefix) + frame_size(self.perfdata, log, verbose)
        self._summary.fitted = fit_output(a, self.results, self._summary.options, frame, verbose)


def build_check(
    collect: Callable[[], Assessment], options: CheckOptions, after: AfterHook | None = None
) -> nagiosplugin.Check:
    resource = PveBackup(collect)
    contexts: list[nagiosplugin.Context] = []
    for order, c in enumerate(CATEGORIES):
        warn, crit = options.thresholds.get(c.key, (c.warning, c.critical))
        contexts.append(CategoryContext(c, order, warn, crit))
    warn_age, crit_age = options.max_age_s
    contexts.append(MaxAgeContext("max_age", f"{warn_age}", f"{crit_age}"))
    contexts.append(AnomalyContext("anomalies"))
    contexts += [InfoContext("info"), CoverageContext("coverage")]
    contexts += [PendingContext("pending"), IgnoredContext("ignored")]
    contexts.append(StorageUsedContext(STORAGE_CONTEXT, *options.storage_used))
    summary = BackupSummary(resource, options)
    check = PveBackupCheck(resource, *contexts, after=after, summary=summary)
    check.name = "PVE_BACKUP"
    return check


# --------------------------------------------------------------------------- presentation


def _log_text() -> str:
    """What nagiosplugin's log channel will print between the long output and perfdata
    (``-vv`` and ``-vvv``): it counts against the output budget too."""
    channel = nagiosplugin.Runtime().logchan
    stream = getattr(channel, "stream", None)
    getvalue = getattr(stream, "getvalue", None)
    return str(getvalue()).rstrip("\n") if callable(getvalue) else ""


def frame_size(perfdata: Sequence[str], log: str, verbose: int) -> int:
    """Bytes nagiosplugin prints besides the status line's text and the long output:
    the line breaks, the log channel and the perfdata (``status | perf`` at verbosity
    0, else ``status``, long output, log and ``| perf`` on lines of their own)."""
    perf = " ".join(perfdata)
    if verbose == 0:
        return (size(f" | {perf}") if perf else 0) + 1
    return 1 + (size(log) + 1 if log else 0) + (size(f"| {perf}") + 1 if perf else 0)


@dataclass(frozen=True)
class Fitted:
    status: str
    long: tuple[str, ...]


def fit_output(
    a: Assessment,
    results: nagiosplugin.Results,
    options: CheckOptions,
    frame: int,
    verbose: int,
) -> Fitted:
    """Status line and long output within ``options.max_output`` bytes, ``frame`` of
    which are already taken (prefix, perfdata, log, line breaks): each result as its
    Context describes it, worst first, shortened to fit."""
    states = {r.metric.name: r.state.code for r in results if r.metric is not None}
    judged = Judged(a, states)
    said = [describe(r, judged) for r in results.results if r.metric is not None]
    notes = [
        (r.state.code, clean(r.hint))
        for r in results
        if r.metric is None and r.state != nagiosplugin.Ok and r.hint
    ]
    budget = options.max_output or None
    suffix = tls_suffix(options.tls_mode)
    limit = STATUS_NAMES_LIMIT - size(suffix)
    if budget is not None:
        limit = min(limit, budget - frame - size(suffix))
    if results.most_significant_state == nagiosplugin.Ok:
        status = ok_line(said, limit)
    else:
        status = problem_line(said, notes, limit)
    status += suffix
    if verbose == 0:
        return Fitted(status, ())
    room = None if budget is None else budget - frame - size(status)
    return Fitted(status, tuple(long_output(judged, said, notes, options, room)))


def ok_line(said: Sequence[Description], limit: int) -> str:
    """The coverage, then the problems the thresholds tolerate, within ``limit`` bytes."""
    head = next((d.headline for d in said if d.headline is not None), "")
    tolerated = [d.part for d in said if d.part is not None]
    if not tolerated:
        return head
    head += "; within thresholds: "
    return head + fit_parts(ordered(tolerated), max(0, limit - size(head)))


def problem_line(said: Sequence[Description], notes: Sequence[tuple[int, str]], limit: int) -> str:
    """Every part that is not OK, worst first, and the results without a metric (a
    report that could not be written), within ``limit`` bytes."""
    parts: list[Part] = [d.part for d in said if d.part is not None and d.part.state != OK]
    parts += [part(code, NOTE_ORDER, (text, cut(text, 100))) for code, text in notes]
    return fit_parts(ordered(parts), limit)


def long_output(
    judged: Judged,
    said: Sequence[Description],
    notes: Sequence[tuple[int, str]],
    options: CheckOptions,
    room: int | None,
) -> list[str]:
    """Report failure first, then the guests worst first, the anomalies, the pending and
    ignored guests, the PBS storage space and the TLS notice, within ``room`` bytes
    (None: no limit)."""
    a = judged.assessment
    state_text = {1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
    head = [f"[{state_text.get(code, 'OK')}] {text}" for code, text in notes]
    notice = tls_notice(options.tls_mode, options.tls_origin)
    space = ["PBS storage space:", *(space_line(x) for x in a.storage_space)]
    tail = [*(space if a.storage_space else []), *([clean(notice)] if notice else [])]
    secs = [guests_section(judged, said), *(d.section for d in said if d.section is not None)]
    if not any(s.lines for s in secs):
        tail.append("Every guest is covered by an active PBS job and its backups are fresh.")
    if room is not None:
        room -= sum(line_size(line) for line in head + tail)
    return [*head, *fit_sections(secs, room), *tail]


def guests_section(judged: Judged, said: Sequence[Description]) -> Section:
    """The guests behind every result, each once, worst first."""
    behind = {g.guest.vmid: g for d in said for g in d.guests}
    guests = judged.worst_first(list(behind.values()))
    return Section(
        f"Guests needing attention ({len(guests)}):",
        tuple(guest_line(g, judged.assessment) for g in guests),
        "... and {n} more (see --report or --dump-coverage)",
        PLACE_GUESTS,
        ((FILL_GUESTS, len(guests)),),
    )


def tls_suffix(tls_mode: TlsMode) -> str:
    """What the status line says when the connection is not verified TLS."""
    if tls_mode == "not verified":
        return " [TLS NOT VERIFIED]"
    if tls_mode == "plain http":
        return " [PLAIN HTTP, NO TLS]"
    return ""


class BackupSummary(nagiosplugin.Summary):
    """The results as their Contexts describe them, worst first, fitted into the output
    budget (:func:`fit_output`, run by :class:`PveBackupCheck` once the perfdata is known)."""

    def __init__(self, resource: PveBackup, options: CheckOptions) -> None:
        self._resource = resource
        self.options = options
        self.fitted: Fitted | None = None

    def _fit(self, results: nagiosplugin.Results) -> Fitted | None:
        a = self._resource.assessment
        if a is None:
            return None
        if self.fitted is None:  # not run through PveBackupCheck: no perfdata known
            return fit_output(a, results, self.options, 0, 1)
        return self.fitted

    def ok(self, results: nagiosplugin.Results) -> str:
        fitted = self._fit(results)
        return "no data" if fitted is None else fitted.status

    def problem(self, results: nagiosplugin.Results) -> str:
        fitted = self._fit(results)
        if fitted is None:  # collection failed: nagiosplugin's UNKNOWN result carries the reason
            return clean(str(results.first_significant))
        return fitted.status

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        fitted = self._fit(results)
        return [] if fitted is None else list(fitted.long)
