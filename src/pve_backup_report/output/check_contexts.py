"""The check's Contexts: each judges its metrics and describes its own results.

nagiosplugin's idiom: a Context turns a metric into a Result (``evaluate``), into
perfdata (``performance``) and into words. Here the words are a
:class:`~pve_backup_report.output.check_text.Description`: the result's part of the
status line (renderings from the richest to the shortest), the guests behind it and
the long-output list it adds. The Summary (``output/check.py``) only orders them worst
first and shortens them to fit the output budget.

The descriptions are made once every metric is evaluated (``describe_result``, with a
:class:`~pve_backup_report.output.check_text.Judged`): nagiosplugin's ``describe(metric)``
cannot see the other metrics' states, by which a category names its guests.
"""

from __future__ import annotations

from typing import Any

import nagiosplugin

from pve_backup_report.analysis.assess import GuestStatus, pending_guests
from pve_backup_report.analysis.coverage import Coverage
from pve_backup_report.analysis.thresholds import CATEGORIES, Category
from pve_backup_report.model import Problem, Severity
from pve_backup_report.output.check_text import (
    AGE_ORDER,
    ANOMALY_ORDER,
    CRITICAL,
    FILL_ANOMALIES,
    FILL_IGNORED,
    FILL_PENDING,
    FILL_SERIOUS_ANOMALIES,
    LINE_LIMIT,
    OK,
    PLACE_ANOMALIES,
    PLACE_IGNORED,
    PLACE_PENDING,
    Description,
    Judged,
    Section,
    clean,
    cut,
    named,
    part,
    pending_text,
)
from pve_backup_report.timeutil import human_duration

_AGE_PROBLEMS = frozenset({Problem.AGE_WARNING, Problem.AGE_CRITICAL})


class Describing:
    """A Context that describes its results; by default it has nothing to say."""

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        return Description()


def describe(result: nagiosplugin.Result, judged: Judged) -> Description:
    """The description of a result by its own Context (empty when it has none)."""
    context = result.context
    if isinstance(context, Describing):
        return context.describe_result(result, judged)
    return Description()


class CategoryContext(Describing, nagiosplugin.ScalarContext):
    """One category of problem: how many guests have it, against Nagios ranges.

    Describes itself as ``N <label> (names)``, the names worst first; when OK, still so
    while guests have the problem (the OK line's "within thresholds").
    """

    def __init__(
        self, category: Category, order: int, warning: str | None, critical: str | None
    ) -> None:
        super().__init__(category.key, warning, critical)
        self.category = category
        self.order = order

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        problem = self.category.problem
        a = judged.assessment
        guests = judged.worst_first(
            [g for g in a.guests if g.ignored is None and problem in g.problems]
        )
        state = result.state.code
        if state == OK and not guests:
            return Description()
        c = self.category
        label = c.singular if len(guests) == 1 else c.plural
        variants = named(f"{len(guests)} {label}", guests)
        return Description(part(state, self.order, variants), tuple(guests))


class MaxAgeContext(Describing, nagiosplugin.ScalarContext):
    """The age of the oldest latest success, against ``--max-age``.

    Describes itself as ``N backups older than <limit> (names)``, the oldest first.
    """

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        a = judged.assessment
        guests = tuple(g for g in a.guests if g.alerting and _AGE_PROBLEMS & set(g.problems))
        state = result.state.code
        if state == OK:
            return Description(guests=guests)
        limit = a.options.max_age_s[1 if state == CRITICAL else 0]
        ages = {g.guest.vmid: age for g in a.guests if (age := a.judged_age(g)) is not None}
        old = sorted(
            (g for g in a.guests if g.ignored is None and ages.get(g.guest.vmid, 0) > limit),
            key=lambda g: (-ages[g.guest.vmid], g.guest.vmid),
        )
        label = "backup" if len(old) == 1 else "backups"
        head = f"{len(old)} {label} older than {human_duration(limit)}"
        return Description(part(state, AGE_ORDER, named(head, old)), guests)


class AnomalyContext(Describing, nagiosplugin.Context):
    """Worst anomaly severity: warning -> WARNING, critical (coverage unknowable) -> UNKNOWN.

    Describes itself by the worst anomaly's message (and how many more), and lists
    every anomaly in the long output, worst first.
    """

    def evaluate(
        self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource
    ) -> nagiosplugin.Result:
        a = getattr(resource, "assessment", None)
        worst = a.worst_anomaly if a is not None else None
        if worst is Severity.CRITICAL:
            return self.result_cls(nagiosplugin.Unknown, "coverage cannot be determined", metric)
        if worst is Severity.WARNING:
            return self.result_cls(nagiosplugin.Warn, None, metric)
        return self.result_cls(nagiosplugin.Ok, None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: Any) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(metric.name, metric.value, min=0)

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        a = judged.assessment
        # worst first; among equals the permission ones, often the root cause of the others
        anomalies = sorted(
            a.anomalies, key=lambda x: (-x.severity.rank, x.component != "permissions")
        )
        serious = sum(1 for x in anomalies if x.severity is not Severity.INFO)
        section = Section(
            f"Anomalies ({len(anomalies)}):",
            tuple(
                cut(clean(f"[{x.severity.value}] {x.component}: {x.message}"), LINE_LIMIT)
                for x in anomalies
            ),
            "... and {n} more (see --dump-coverage)",
            PLACE_ANOMALIES,
            ((FILL_SERIOUS_ANOMALIES, serious), (FILL_ANOMALIES, len(anomalies))),
        )
        state = result.state.code
        if state == OK or not anomalies:
            return Description(section=section)
        worst = [x for x in anomalies if x.severity is a.worst_anomaly]
        more = f" (+{len(worst) - 1} more)" if len(worst) > 1 else ""
        msg = worst[0].message
        variants = [cut(msg, n) + more for n in (1000, 120, 60)]
        return Description(part(state, ANOMALY_ORDER, variants), section=section)


class InfoContext(Describing, nagiosplugin.Context):
    """No judgement, but perfdata."""

    def performance(self, metric: nagiosplugin.Metric, resource: Any) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(metric.name, metric.value, metric.uom, min=metric.min)


class CoverageContext(InfoContext):
    """How many guests an active PBS job covers: the OK status line's beginning."""

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        a = judged.assessment
        covered = sum(1 for g in a.guests if g.coverage is Coverage.COVERED)
        text = f"{covered} of {len(a.guests)} guests covered by active PBS backup jobs"
        if not any(a.count(c.problem) for c in CATEGORIES):
            text += ", all backups fresh"
        ignored = sum(1 for g in a.guests if g.ignored is not None)
        text += f", {ignored} ignored" if ignored else ""
        pending = len(pending_guests(a))
        if pending:
            text += f", {pending} awaiting {'its' if pending == 1 else 'their'} first backup"
        return Description(headline=text)


class PendingContext(InfoContext):
    """Guests awaiting their first backup: a list of the long output."""

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        pending = pending_guests(judged.assessment)
        return Description(
            section=Section(
                f"Pending guests, not a problem yet ({len(pending)}):",
                tuple(_pending_line(g) for g in pending),
                "... and {n} more (see --dump-coverage)",
                PLACE_PENDING,
                ((FILL_PENDING, len(pending)),),
            )
        )


def _pending_line(g: GuestStatus) -> str:
    return cut(clean(f"{g.guest.label} (node {g.guest.node}): {pending_text(g)}"), LINE_LIMIT)


class IgnoredContext(InfoContext):
    """Guests the configuration ignores: a list of the long output."""

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        ignored = [(g, g.ignored) for g in judged.assessment.guests if g.ignored is not None]
        return Description(
            section=Section(
                f"Ignored guests ({len(ignored)}):",
                tuple(cut(clean(f"{g.guest.label}: {i.reason}"), LINE_LIMIT) for g, i in ignored),
                "... and {n} more (see --dump-coverage)",
                PLACE_IGNORED,
                ((FILL_IGNORED, len(ignored)),),
            )
        )
