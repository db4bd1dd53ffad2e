"""The datastore-space part of the check: one used-percentage metric per PBS storage in use.

``storage_<id>_used`` (%) is judged against ``--warn-storage-used``/``--crit-storage-used``
(Nagios ranges, default 85 and 95); ``storage_<id>_used_bytes`` (B) and, when PBS's API
gives an estimate, ``storage_<id>_full_in`` (s until PBS's estimated full date) are
informational.
"""

from __future__ import annotations

from collections.abc import Iterator

import nagiosplugin

from pve_backup_report.assess import Assessment
from pve_backup_report.pbs_health import StorageSpace
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


class StorageUsedContext(nagiosplugin.ScalarContext):
    """A percentage judged against Nagios ranges; keeps the ranges as given for texts."""

    def __init__(self, name: str, warning: str | None, critical: str | None) -> None:
        super().__init__(name, warning, critical)
        self.limits = (warning, critical)


def storage_parts(
    a: Assessment, results: nagiosplugin.Results, limits: tuple[str | None, str | None]
) -> list[tuple[int, str]]:
    """(state code, text) for each storage above its threshold."""
    out: list[tuple[int, str]] = []
    for space in a.storage_space:
        try:
            state = results[metric_name(space.storage)].state
        except KeyError:
            continue
        if state == nagiosplugin.Ok:
            continue
        limit = limits[1] if state == nagiosplugin.Critical else limits[0]
        text = f"PBS storage {space.storage} {space.used_percent:g}% used (limit {limit}%)"
        if space.estimated_full is not None:
            text += f", full around {(iso_utc(space.estimated_full) or '')[:10]} (PBS estimate)"
        out.append((state.code, text))
    return out


def space_line(space: StorageSpace) -> str:
    if space.used_percent is None:
        return f"  {space.storage}: not active on PVE (space unknown)"
    line = (
        f"  {space.storage}: {space.used_percent:g}% used "
        f"({_gib(space.used)} of {_gib(space.total)} GiB, {_gib(space.avail)} GiB free)"
    )
    if space.estimated_full is not None:
        line += f"; PBS estimates it full around {iso_utc(space.estimated_full)}"
    return line


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f}"
