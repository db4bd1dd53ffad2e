"""Alert categories and their thresholds: Nagios ranges on guest counts.

Each category counts guests with one :class:`~pve_backup_report.analysis.assess.Problem` (ignored
guests excluded). ``--warn-<key>``/``--crit-<key>`` (YAML ``thresholds: {warn_<key>: ...}``)
override the defaults; an empty string disables a threshold. A bare ``0`` alerts when the
count is above 0, ``5`` when above 5 (Monitoring Plugins range syntax).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nagiosplugin

from pve_backup_report.errors import ConfigError
from pve_backup_report.model import Problem


@dataclass(frozen=True)
class Category:
    key: str  # threshold key: --warn-<key> / --crit-<key>, YAML warn_<key> / crit_<key>
    metric: str  # perfdata label
    problem: Problem
    warning: str | None  # default Nagios range (alert when the count is outside)
    critical: str | None
    singular: str
    plural: str


CATEGORIES: tuple[Category, ...] = (
    Category("not_covered", "guests_not_covered", Problem.NOT_COVERED, None, "0",
             "guest not covered", "guests not covered"),
    Category("failed", "backups_failed", Problem.FAILED, None, "0",
             "failed backup", "failed backups"),
    Category("verify_failed", "verify_failed", Problem.VERIFY_FAILED, None, "0",
             "failed verification", "failed verifications"),
    Category("indeterminate", "guests_indeterminate", Problem.INDETERMINATE, "0", None,
             "guest with undeterminable coverage", "guests with undeterminable coverage"),
    Category("disabled_only", "guests_disabled_only", Problem.DISABLED_ONLY, "0", None,
             "guest only in disabled jobs", "guests only in disabled jobs"),
    Category("non_pbs_only", "guests_non_pbs_only", Problem.NON_PBS_ONLY, "0", None,
             "guest backed up to non-PBS storage only", "guests backed up to non-PBS storage only"),
    Category("stale", "backups_stale", Problem.STALE, "0", None,
             "stale backup (missed run)", "stale backups (missed runs)"),
    Category("never", "backups_never", Problem.NEVER, "0", None,
             "guest never backed up", "guests never backed up"),
)  # fmt: skip
CATEGORY_BY_KEY = {c.key: c for c in CATEGORIES}

# The one order among problems, worst first (the check's long output, the report's
# sections and tables); problems not listed (categories added later) come next.
WORST_FIRST: tuple[Problem, ...] = (
    Problem.FAILED,
    Problem.NOT_COVERED,
    Problem.VERIFY_FAILED,
    Problem.STALE,
    Problem.NEVER,
    Problem.AGE_CRITICAL,
    Problem.AGE_WARNING,
    Problem.INDETERMINATE,
    Problem.DISABLED_ONLY,
    Problem.NON_PBS_ONLY,
)
# Problems the default thresholds make CRITICAL (``--max-age``'s critical age too).
CRITICAL_BY_DEFAULT: frozenset[Problem] = frozenset(
    {c.problem for c in CATEGORIES if c.critical is not None} | {Problem.AGE_CRITICAL}
)


def resolve_thresholds(
    overrides: Mapping[str, str | None],
    label: Callable[[str], str] | None = None,
) -> dict[str, tuple[str | None, str | None]]:
    """Defaults overridden by ``warn_<key>``/``crit_<key>`` (empty string disables).

    Raises ConfigError for an unknown key or an invalid Nagios range; ``label(name)``
    names where the key was set (a flag, a config file) in the message.
    """
    out = {c.key: (c.warning, c.critical) for c in CATEGORIES}
    for name, value in overrides.items():
        if value is None:
            continue
        kind, _, key = name.partition("_")
        if kind not in ("warn", "crit") or key not in CATEGORY_BY_KEY:
            known = ", ".join(f"warn_{k}/crit_{k}" for k in CATEGORY_BY_KEY)
            if label is not None:
                raise ConfigError(f"{label(name)}: unknown threshold (known: {known})")
            raise ConfigError(f"unknown threshold {name!r} (known: {known})")
        text = str(value).strip()
        if text:
            try:
                nagiosplugin.Range(text)
            except ValueError as exc:
                where = label(name) if label is not None else f"threshold {name}"
                raise ConfigError(f"{where}: invalid range {text!r} ({exc})") from None
        warn, crit = out[key]
        out[key] = (text or None, crit) if kind == "warn" else (warn, text or None)
    return out
