"""The pieces of the check's texts and their fitting into the output budget (pure).

The Contexts (``output/check_contexts.py``) describe their results with these pieces: a
:class:`Part` of the status line, from its richest rendering to its shortest, and a
:class:`Section` of the long output; the Summary (``output/check.py``) orders them worst
first and fits them here.

Nagios Core keeps the first 8 KiB of a plugin's output and NRPE cuts it at 64 KiB: what
is cut first is the perfdata at the end. So the whole output (status line, long output
and perfdata) is fitted into ``max_output`` bytes:

* perfdata is always complete;
* the status line keeps every non-OK part (each category with its count, the age, the
  anomalies, a failed report); under pressure the guest names are dropped first (the
  least serious parts first), then shortened (``vm 101``), then left out;
* the long output lists the guests worst first and ends each list that does not fit
  with ``... and N more (...)``.

Everything here takes the metric states as plain codes (0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN), so it knows nothing of nagiosplugin and works for any category of
:data:`~pve_backup_report.analysis.thresholds.CATEGORIES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pve_backup_report.analysis.assess import Assessment, GuestStatus
from pve_backup_report.analysis.thresholds import CATEGORIES, WORST_FIRST
from pve_backup_report.config import redact
from pve_backup_report.model import Problem, TlsMode
from pve_backup_report.timeutil import human_duration, iso_utc

DEFAULT_MAX_OUTPUT = 8192  # Nagios Core's plugin output limit (bytes)
STATUS_NAMES_LIMIT = 250  # guest names are added to the status line up to this length
LINE_LIMIT = 400  # one long-output line at most (PVE error messages can be long)
NAMES_PER_PART = 4
AGE_METRIC = "oldest_success_age"

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
_RANK = {UNKNOWN: 4, CRITICAL: 3, WARNING: 2, OK: 0}  # UNKNOWN (coverage unknowable) first

# The long output's order among problems (analysis/thresholds.py); problems not listed
# come next, in CATEGORIES order.
ATTENTION_ORDER = WORST_FIRST
_ATTENTION = {p: i for i, p in enumerate(ATTENTION_ORDER)}
_METRIC_OF = {c.problem: c.metric for c in CATEGORIES}


def clean(text: str) -> str:
    """No ``|`` (perfdata separator), no line breaks inside one output line, and no
    secret even when PVE data (notes, task messages) happens to echo it."""
    return " ".join(redact(text).replace("|", "/").split())


def size(text: str) -> int:
    """Bytes of ``text`` as printed (UTF-8)."""
    return len(text.encode("utf-8"))


def rank(code: int) -> int:
    return _RANK.get(code, 0)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to about ``limit`` characters, ending with ``...`` when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 3)].rstrip() + "..."


# --------------------------------------------------------------------------- guest order


def guest_state(g: GuestStatus, states: Mapping[str, int]) -> int:
    """The worst state among the metrics that count this guest."""
    worst = OK
    for p in g.problems:
        if p in _METRIC_OF:
            code = states.get(_METRIC_OF[p], OK)
        elif p is Problem.AGE_CRITICAL:
            code = states.get(AGE_METRIC, OK)
        elif p is Problem.AGE_WARNING:
            code = min(states.get(AGE_METRIC, OK), WARNING)
        else:
            code = OK
        worst = code if rank(code) > rank(worst) else worst
    return worst


def _problem_index(p: Problem) -> int:
    if p in _ATTENTION:
        return _ATTENTION[p]
    keys = [c.problem for c in CATEGORIES]
    return len(_ATTENTION) + (keys.index(p) if p in keys else len(keys))


def attention_order(guests: Sequence[GuestStatus], states: Mapping[str, int]) -> list[GuestStatus]:
    """Worst first: the state they cause, the worst problem, the oldest success, VMID."""

    def key(g: GuestStatus) -> tuple[int, int, int, int]:
        first = min((_problem_index(p) for p in g.problems), default=len(_ATTENTION))
        return (-rank(guest_state(g, states)), first, -(g.age_s or 0), g.guest.vmid)

    return sorted(guests, key=key)


# --------------------------------------------------------------------------- status line


@dataclass(frozen=True)
class Part:
    """One part of the status line: renderings from the richest to the shortest.

    The last variant is always shown (a part never disappears).
    """

    state: int
    order: int
    variants: tuple[str, ...]


# A part's order among the parts of one state: the categories (0, 1, ... in CATEGORIES
# order), then the age, the storages, the anomalies and the results without a metric.
AGE_ORDER, STORAGE_ORDER, ANOMALY_ORDER, NOTE_ORDER = 50, 55, 60, 70


def part(state: int, order: int, variants: Sequence[str]) -> Part:
    """A cleaned part, without repeated variants."""
    return Part(state, order, tuple(dict.fromkeys(clean(v) for v in variants)))


def short_label(g: GuestStatus) -> str:
    return f"{g.guest.kind} {g.guest.vmid}"


def named(head: str, guests: Sequence[GuestStatus]) -> tuple[str, ...]:
    """``head (names)`` from 4 full labels down to ``head`` alone."""
    if not guests:  # a range such as 2: alerts on a count of 0
        return (head,)
    first = guests[:NAMES_PER_PART]
    rest = len(guests) - len(first)
    full = [g.guest.label for g in first] + ([f"+{rest}"] if rest else [])
    short = [short_label(g) for g in first]
    variants = [f"{head} ({', '.join(full)})"]
    variants.append(f"{head} ({', '.join(short)}{', ...' if rest else ''})")
    if len(short) > 2:
        variants.append(f"{head} ({', '.join(short[:2])}, ...)")
    variants.append(head)
    return tuple(variants)


def fit_parts(parts: Sequence[Part], limit: int) -> str:
    """Join the parts; while longer than ``limit`` shorten the last part that still can."""
    levels = [0] * len(parts)

    def joined() -> str:
        return ", ".join(p.variants[lvl] for p, lvl in zip(parts, levels, strict=True))

    text = joined()
    while size(text) > limit:
        i = next(
            (i for i in reversed(range(len(parts))) if levels[i] < len(parts[i].variants) - 1),
            None,
        )
        if i is None:
            break
        levels[i] += 1
        text = joined()
    return text


def ordered(parts: Sequence[Part]) -> list[Part]:
    """Worst state first, then in their order (categories, age, anomalies, notes)."""
    return sorted(parts, key=lambda p: (-rank(p.state), p.order))


# --------------------------------------------------------------------------- long output


# Where each list of the long output is shown, and when the budget fills it (lower
# first): the warning and critical anomalies, the guests, the other anomalies, the
# pending and the ignored guests.
PLACE_GUESTS, PLACE_ANOMALIES, PLACE_PENDING, PLACE_IGNORED = range(4)
FILL_SERIOUS_ANOMALIES, FILL_GUESTS, FILL_ANOMALIES, FILL_PENDING, FILL_IGNORED = range(5)


@dataclass(frozen=True)
class Section:
    """One list of the long output."""

    title: str
    lines: tuple[str, ...]
    more: str  # with {n}: the line that ends a list cut by the budget
    place: int  # PLACE_*: where it is shown among the lists
    fill: tuple[tuple[int, int], ...]  # (FILL_* priority, up to how many of its lines)


# --------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class Judged:
    """What a Context reads to describe its result besides the result itself: the
    assessment and every metric's state (plain codes), known once all are evaluated.

    A category's part names its guests worst first, by the worst state each guest
    causes through any metric: that takes the other metrics' states too.
    """

    assessment: Assessment
    states: Mapping[str, int]

    def worst_first(self, guests: Sequence[GuestStatus]) -> list[GuestStatus]:
        return attention_order(guests, self.states)


@dataclass(frozen=True)
class Description:
    """What a Context says about one of its results, for the Summary to order and fit.

    ``part``: its part of the status line (None: nothing to say there); ``guests``:
    the guests behind it, which the long output lists worst first; ``section``: a list
    of its own in the long output; ``headline``: how the OK status line begins.
    """

    part: Part | None = None
    guests: tuple[GuestStatus, ...] = ()
    section: Section | None = None
    headline: str | None = None


def guest_line(g: GuestStatus, a: Assessment) -> str:
    problems = ", ".join(p.value for p in g.problems)
    jobs = ", ".join(g.jobs) or "none"
    parts = [f"{g.guest.label} (node {g.guest.node}): {problems}", f"jobs: {jobs}"]
    parts += [text for text in (backup_text(g, a), *g.reasons) if text]
    return cut(clean("; ".join(parts)), LINE_LIMIT)


def backup_text(g: GuestStatus, a: Assessment) -> str:
    """Latest attempt, latest success (when it is another one, and where it is known
    from) and its age: never an age without the success it belongs to."""
    lb, ls = g.last_backup, g.last_success
    if g.freshness is None and lb is None:
        return ""  # not judged (not covered ...): its history is not read
    if lb is not None:
        # a guest a dead run never started failed when the run ended
        when = lb.started if lb.started is not None else lb.ended
        latest = f"latest backup: {lb.status} at {iso_utc(when) or '?'}"
        if lb.message and lb.status != "ok":
            latest += f" ({lb.message})"
    else:
        latest = "latest backup: none in the task history"
    if g.freshness is None:
        return latest
    if ls is None:
        if Problem.NEVER in g.problems:
            return f"{latest}; no success in the last {a.options.history_days} days"
        return f"{latest}; no success known"
    if ls != lb:
        origin = ""
        if not ls.upid:  # known only from the PBS storage, not from a task
            storage = f" on {g.snapshot.storage}" if g.snapshot is not None else ""
            origin = f" (PBS snapshot{storage}, no task in the history)"
        latest += f"; latest success: {iso_utc(ls.started) or '?'}{origin}"
    return f"{latest}; age: {human_duration(g.age_s)}"


def pending_text(g: GuestStatus) -> str:
    """``pending: created <time> (<task>), first backup expected at <time>``."""
    text = "pending"
    c = g.created
    if c is not None:
        text += f": created {iso_utc(c.started)} ({c.task_type} on {c.node}"
        text += f" from {c.source})" if c.source is not None else ")"
    else:
        text += ": no scheduled run yet"
    when = iso_utc(g.first_run) if g.first_run is not None else None
    return f"{text}, first backup expected at {when or 'an unknown time'}"


def fit_sections(secs: Sequence[Section], room: int | None) -> list[str]:
    """The sections' lines, in their places, within ``room`` bytes (None: no limit),
    filled by priority; a list stops at its first line that does not fit and ends with
    its ``more`` line."""
    secs = sorted(secs, key=lambda s: s.place)
    taken = [len(s.lines) for s in secs] if room is None else _fill(secs, room)
    out: list[str] = []
    for s, n in zip(secs, taken, strict=True):
        if s.lines:
            out += [s.title, *s.lines[:n]]
            if n < len(s.lines):
                out.append(s.more.format(n=len(s.lines) - n))
    return out


def _fill(secs: Sequence[Section], room: int) -> list[int]:
    """How many lines of each section fit in ``room`` bytes, filled by priority."""
    taken = [0] * len(secs)
    left = room - sum(
        line_size(s.title) + line_size(s.more.format(n=len(s.lines))) for s in secs if s.lines
    )
    closed = [False] * len(secs)
    for _, idx, upto in sorted((p, i, n) for i, s in enumerate(secs) for p, n in s.fill):
        lines = secs[idx].lines
        while not closed[idx] and taken[idx] < min(upto, len(lines)):
            need = line_size(lines[taken[idx]])
            if need > left:
                closed[idx] = True
                break
            left -= need
            taken[idx] += 1
    return taken


def line_size(line: str) -> int:
    """Bytes of one output line, its line break included."""
    return size(line) + 1


def tls_notice(tls_mode: TlsMode, origin: str | None = None) -> str | None:
    """The line every output shows when the connection is not verified TLS.

    ``origin`` names the setting behind it (``--insecure``, ``PVE_VERIFY_TLS
    (environment)``, ``host (config file ...)``, ...).
    """
    if tls_mode == "not verified":
        by = f"by {origin}" if origin else "(PVE_VERIFY_TLS=false)"
        return f"TLS certificate verification is DISABLED {by}"
    if tls_mode == "plain http":
        where = f" in {origin}" if origin else ""
        return f"plain HTTP: the token and the answers travel unencrypted (http:// host{where})"
    return None


def pbs_tls_notice(label: str, tls_mode: TlsMode) -> str | None:
    """The line ``--check-api`` shows for a PBS server whose certificate is not verified."""
    if tls_mode == "not verified":
        return f"TLS certificate verification of PBS {label} is DISABLED (PBS_VERIFY_TLS=false)"
    return None
