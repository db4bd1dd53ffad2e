"""The datastore-space part of the check: one used-percentage metric per PBS storage in use.

``storage_<id>_used`` (%) is judged against ``--warn-storage-used``/``--crit-storage-used``
(Nagios ranges, default 85 and 95); ``storage_<id>_used_bytes`` (B) and, when PBS's API
gives an estimate, ``storage_<id>_full_in`` (s until PBS's estimated full date) are
informational.
"""

from __future__ import annotations

from collections.abc import Iterator

import nagiosplugin

from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.analysis.pbs_health import StorageSpace
from pve_backup_report.output.check_contexts import Describing
from pve_backup_report.output.check_text import (
    CRITICAL,
    OK,
    STORAGE_ORDER,
    Description,
    Judged,
    part,
)
from pve_backup_report.timeutil import iso_utc

CONTEXT = "storage_used"
PREFIX = "storage_"
SUFFIX = "_used"


def metric_name(storage: str) -> str:
    return f"{PREFIX}{storage}{SUFFIX}"


def storage_metrics(a: Assessment) -> Iterator[nagiosplugin.Metric]:
    for space in a.storage_space:
        percent = space.used_percent
        if percent is None:
            continue
        yield nagiosplugin.Metric(
            metric_name(space.storage), percent, uom="%", min=0, max=100, context=CONTEXT
        )
        yield nagiosplugin.Metric(
            f"{PREFIX}{space.storage}_used_bytes",
            space.used,
            uom="B",
            min=0,
            max=space.total,
            context="info",
        )
        if space.estimated_full is not None:
            yield nagiosplugin.Metric(
                f"{PREFIX}{space.storage}_full_in",
                max(0, space.estimated_full - a.now),
                uom="s",
                min=0,
                context="info",
            )


class StorageUsedContext(Describing, nagiosplugin.ScalarContext):
    """A storage's used percentage against Nagios ranges.

    Describes itself, above a threshold, as ``PBS storage <id> N% used (limit L%)`` and
    PBS's estimated full date, with the limit as given.
    """

    def __init__(self, name: str, warning: str | None, critical: str | None) -> None:
        super().__init__(name, warning, critical)
        self.limits = (warning, critical)

    def describe_result(self, result: nagiosplugin.Result, judged: Judged) -> Description:
        state = result.state.code
        name = result.metric.name if result.metric is not None else None
        spaces = judged.assessment.storage_space
        space = next((x for x in spaces if metric_name(x.storage) == name), None)
        if state == OK or space is None:
            return Description()
        limit = self.limits[1] if state == CRITICAL else self.limits[0]
        head = f"PBS storage {space.storage} {space.used_percent:g}% used"
        text = f"{head} (limit {limit}%)"
        full = text
        if space.estimated_full is not None:
            full += f", full around {(iso_utc(space.estimated_full) or '')[:10]} (PBS estimate)"
        return Description(part(state, STORAGE_ORDER, (full, text, head)))


def space_line(space: StorageSpace) -> str:
    if space.used_percent is None:
        return f"{space.storage}: not active on PVE (space unknown)"
    line = (
        f"{space.storage}: {space.used_percent:g}% used "
        f"({_gib(space.used)} of {_gib(space.total)} GiB, {_gib(space.avail)} GiB free)"
    )
    if space.estimated_full is not None:
        line += f"; PBS estimates it full around {iso_utc(space.estimated_full)}"
    return line


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f}"
