"""The Markdown report (``--report FILE``): presentation of the :class:`Assessment`.

:func:`render_report` is pure: it turns the same domain model the check evaluates into
Markdown (GitLab, GitHub and Gitea flavoured: pipe tables and a Mermaid pie chart).
:func:`write_report` writes it atomically and :func:`report_hook` ties both to the check,
so a report that cannot be written turns into a WARNING text instead of an exception.

Everything that comes from the cluster (names, notes, tags, messages) goes through
:func:`md` before it reaches the Markdown: it can neither break a table nor inject HTML.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nagiosplugin.state import ServiceState

from pve_backup_report import __version__
from pve_backup_report.analysis.assess import Assessment, GuestStatus, pending_guests
from pve_backup_report.analysis.coverage import Coverage, JobCoverage, effective_storage
from pve_backup_report.analysis.history import GuestBackupResult
from pve_backup_report.analysis.pbs_health import StorageSpace
from pve_backup_report.analysis.thresholds import CRITICAL_BY_DEFAULT, WORST_FIRST
from pve_backup_report.atomic import atomic_write_text
from pve_backup_report.config import redact
from pve_backup_report.messages import Msg, decimal, pieces, render
from pve_backup_report.model import Anomaly, BackupJob, Inventory, Problem, Severity, Storage
from pve_backup_report.output.check import AfterHook
from pve_backup_report.output.check_text import ATTENTION_ORDER
from pve_backup_report.output.report_i18n import (
    ADVICE,
    COMPONENT_HINTS,
    LANGS,
    TEXTS,
    VALUE_LABELS,
)
from pve_backup_report.pve.schedule_text import ScheduleError, describe
from pve_backup_report.timeutil import human_duration, iso_utc

__all__ = [
    "CRITICAL_PROBLEMS",
    "STATS_MARKER",
    "WARNING_PROBLEMS",
    "md",
    "render_report",
    "report_hook",
    "write_report",
]

# The statistics (requests, bytes, timings) vary from run to run; they come last, after
# this marker (an HTML comment, invisible once rendered), so a comparison can cut them.
STATS_MARKER = "<!-- collection-statistics -->"

# Problems the default thresholds make CRITICAL first, then the WARNING ones, each part
# worst first (analysis/thresholds.py: one order, one set of defaults).
CRITICAL_PROBLEMS: tuple[Problem, ...] = tuple(p for p in WORST_FIRST if p in CRITICAL_BY_DEFAULT)
WARNING_PROBLEMS: tuple[Problem, ...] = tuple(
    p for p in WORST_FIRST if p not in CRITICAL_BY_DEFAULT
)
_PROBLEM_ORDER: tuple[Problem, ...] = CRITICAL_PROBLEMS + WARNING_PROBLEMS
# Worst first among a guest's problems, as in the check's long output.
_ATTENTION_INDEX: dict[Problem, int] = {p: i for i, p in enumerate(ATTENTION_ORDER)}

NOTE_LIMIT = 80  # characters of the note's first line
CELL_LIMIT = 200  # characters of a free-text cell (messages, comments)
SHORT_LIST = 10  # a job's included guests are listed up to this many
EMPTY = "-"

# --------------------------------------------------------------------------- escaping

_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Inline Markdown syntax that data could trigger: code spans, emphasis, links/images,
# strikethrough, table cells, math (GitHub/GitLab) and the escape character itself.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
# Text that md() leaves as it is, apart from spaces at the ends (no line break, control,
# HTML or Markdown character).
_PLAIN = re.compile(r"[A-Za-z0-9 .,:;/=+@#%'()-]*")
_SAFE_UPID = re.compile(r"UPID:[A-Za-z0-9._@!:+=-]+")


def md(value: object, limit: int | None = None) -> str:
    """Text from the data made safe for one Markdown line or table cell.

    Line breaks and tabs become spaces, control characters are dropped, ``& < >`` become
    HTML entities and inline Markdown syntax characters (``| ` * _ [ ] ~ $ \\``) are
    backslash-escaped. ``limit`` shortens the text (before escaping) with an ellipsis.
    """
    text = str(value)
    if _PLAIN.fullmatch(text) and (limit is None or len(text) <= limit):
        return text.strip()  # most cells (names, nodes, job ids): nothing to change
    return _escaped(text, limit)


def _escaped(text: str, limit: int | None) -> str:
    """:func:`md` in full, for text with something to change."""
    text = _LINE_BREAKS.sub(" ", text).replace("\t", " ")
    text = _CONTROLS.sub("", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _escape_piece(text: str, limit: int | None) -> str:
    """Like :func:`md` for a piece of a longer line: inner spaces at the ends are kept."""
    text = _CONTROLS.sub("", _LINE_BREAKS.sub(" ", text).replace("\t", " "))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _code(word: str) -> str:
    """A fixed code word (enum value) as a code span; never used for data."""
    return f"`{word}`"


_CODE_WORD = re.compile(r"[a-z][a-z0-9_]*")


def _component(component: str) -> str:
    """An anomaly component (a fixed word set by the code) as a code span."""
    return _code(component) if _CODE_WORD.fullmatch(component) else md(component)


def _upid(upid: str) -> str:
    return f"`{upid}`" if _SAFE_UPID.fullmatch(upid) else md(upid)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A pipe table; cells are already escaped (an empty cell shows ``-``)."""
    out = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, header has {len(headers)}")
        out.append("| " + " | ".join(c if c else EMPTY for c in row) + " |")
    return out


# --------------------------------------------------------------------------- texts


class _Tr:
    """The texts of one language."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"unsupported report language {lang!r} (use {' or '.join(LANGS)})")
        self.lang = lang
        self.texts = TEXTS[lang]
        self.values = VALUE_LABELS[lang]
        self.advice = ADVICE[lang]
        self.hints = COMPONENT_HINTS[lang]

    def __call__(self, key: str, **kwargs: object) -> str:
        text = self.texts[key]
        return text.format(**kwargs) if kwargs else text

    def value(self, kind: str, word: str) -> str:
        """Translated value word; unknown words are data, escaped."""
        label = self.values[kind].get(word)
        return label if label is not None else md(word)

    def yes_no(self, flag: bool) -> str:
        return self("yes") if flag else self("no")

    def spec(self, value: str | None) -> str:
        return md(value) if value else self("not_specified")

    def coverage(self, cov: Coverage) -> str:
        """``covered`` as code; the French report adds its label."""
        if self.lang == "en":
            return _code(cov.value)
        return f"{_code(cov.value)} ({self.values['coverage'][cov.value]})"

    def problem_words(self, problems: Iterable[Problem]) -> str:
        return ", ".join(_code(p.value) for p in problems)

    def problem_title(self, problem: Problem) -> str:
        return self.values["problem"][problem.value]

    def severity(self, sev: Severity) -> str:
        return self.values["severity"][sev.value]

    def duration(self, seconds: int | None) -> str:
        return human_duration(seconds, self.lang)

    def msg(self, text: str, limit: int | None = None) -> str:
        """A message in this language (a :class:`Msg`), escaped, with the words PVE or
        PBS wrote as code; other text is data. ``limit`` shortens each piece."""
        out: list[str] = []
        for piece, foreign in pieces(text, self.lang):
            if foreign:
                out.append(_code_data(piece, limit or CELL_LIMIT))
            else:
                out.append(_escape_piece(piece, limit))
        return "".join(out).strip()


# --------------------------------------------------------------------------- helpers


def _first_line(text: str | None) -> str | None:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def _severity_rank(g: GuestStatus) -> int:
    """0: critical-type problem, 1: warning-type problem, 2: ignored, 3: OK."""
    if g.ignored is not None:
        return 2
    if any(p in CRITICAL_PROBLEMS for p in g.problems):
        return 0
    if g.problems:
        return 1
    return 3


def sorted_guests(a: Assessment) -> list[GuestStatus]:
    """Guests with problems first (critical-type before warning-type), ignored, then OK."""
    return sorted(a.guests, key=lambda g: (_severity_rank(g), g.guest.vmid))


def _sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    order = {p: i for i, p in enumerate(_PROBLEM_ORDER)}
    return sorted(problems, key=lambda p: order.get(p, len(order)))


def _pbs_storages(g: GuestStatus, inv: Inventory) -> list[Storage | str]:
    """The storages the guest's PBS jobs write to on its node (Storage, or an unknown id)."""
    jobs = inv.jobs_by_id
    seen: list[str] = []
    for jid in g.pbs_jobs:
        job = jobs.get(jid)
        if job is None:
            continue
        sid = effective_storage(job, g.guest.node, inv)
        if sid is not None and sid not in seen:
            seen.append(sid)
    return [inv.storage(sid) or sid for sid in seen]


def _shown_backup(g: GuestStatus) -> GuestBackupResult | None:
    """The latest attempt, or the latest success when only PBS knows of one."""
    return g.last_backup if g.last_backup is not None else g.last_success


def _guest_label(g: GuestStatus) -> str:
    return md(g.guest.label)


def _details(details: Mapping[str, Any], tr: _Tr) -> str:
    parts: list[str] = []
    for key, value in details.items():
        if isinstance(value, str):
            text = render(value, tr.lang)
        elif isinstance(value, (list, tuple)):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, Mapping):
            text = ",".join(f"{k}:{v}" for k, v in value.items())
        elif value is None:
            text = EMPTY
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    return _code_data("; ".join(parts))  # keys and values as the JSON has them


def _code_data(text: str, limit: int = CELL_LIMIT) -> str:
    """Text from the data (a PVE log line) as a code span, safe in a table cell."""
    text = _LINE_BREAKS.sub(" ", text).replace("\t", " ")
    text = _CONTROLS.sub("", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = text.replace("|", "\\|")  # a table cell ends at a bare pipe, even in code
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _result_text(text: str, tr: _Tr) -> str:
    """A backup result's message: ours in the report's language, PVE's as a code span."""
    if isinstance(text, Msg):
        return tr.msg(text, CELL_LIMIT)
    return f"{tr('pve_error')} {_code_data(text)}"


def _anomaly_hint(anomaly: Anomaly, tr: _Tr) -> str:
    hint = tr.hints.get(anomaly.component, tr.hints["other"])
    privilege = anomaly.details.get("missing_privilege")
    if privilege:
        hint = f"{_grant(str(privilege), tr)}. {hint}"
    return hint


_PRIVILEGE_ON = re.compile(r"(?P<priv>\S+(?: or \S+)*) on (?P<path>/\S*)(?P<rest>.*)")


def _grant(privilege: str, tr: _Tr) -> str:
    """``Grant `Sys.Audit` on `/nodes/<node>``` (privilege names and paths as code)."""
    m = _PRIVILEGE_ON.fullmatch(privilege.strip())
    if m is None:
        return tr("grant", privilege=_code_data(privilege))
    names = tr("or").join(_code_data(p) for p in m["priv"].split(" or "))
    path = _code_data(m["path"])
    rest = m["rest"].strip()
    if rest == "(propagated)":
        return tr("grant_on_propagated", privilege=names, path=path)
    text = tr("grant_on", privilege=names, path=path)
    return f"{text} {md(rest)}" if rest else text


# --------------------------------------------------------------------------- sections


def _header(
    a: Assessment,
    state: str,
    tr: _Tr,
    now_given: bool,
    cluster: str | None,
    generated_at: int | None,
) -> list[str]:
    name = cluster or a.inventory.cluster_name or tr("default_cluster")
    state_label = tr.values["state"].get(state, "")
    code = _code(state) if state in tr.values["state"] else md(state)  # a Nagios state
    state_text = f"**{code}**" + (f" ({state_label})" if state_label else "")
    warn_s, crit_s = a.options.max_age_s
    c = tr("colon")
    generated = a.now if generated_at is None else generated_at
    lines = [
        f"# {tr('title', cluster=md(name))}",
        "",
        f"- **{tr('cluster')}{c}** {md(name)}",
        f"- **{tr('pve_version')}{c}** {tr.spec(a.inventory.version)}",
        f"- **{tr('generated_at')}{c}** {iso_utc(generated)}",
    ]
    if now_given:
        lines.append(f"- **{tr('evaluated_at')}{c}** {iso_utc(a.now)} ({tr('evaluated_at_note')})")
    lines += [
        f"- **{tr('plugin_version')}{c}** {md(__version__)}",
        f"- **{tr('overall_state')}{c}** {state_text}",
        f"- **{tr('thresholds')}{c}** "
        + tr(
            "thresholds_text",
            grace=tr.duration(a.options.grace_s),
            warn=tr.duration(warn_s),
            crit=tr.duration(crit_s),
            days=a.options.history_days,
        ),
    ]
    if a.stats.tls_mode == "not verified":
        lines.append(f"- **{tr('tls_off')}{c}** {tr('tls_off_text')}")
    return lines


def _summary(a: Assessment, tr: _Tr) -> list[str]:
    by_cov = {c.value: sum(1 for g in a.guests if g.coverage is c) for c in Coverage}
    rows: list[list[str]] = [[tr("guests_total"), str(len(a.guests))]]
    for cov in Coverage:
        rows.append([tr("coverage_row", value=tr.coverage(cov)), str(by_cov[cov.value])])
    for problem in (
        Problem.FAILED,
        Problem.STALE,
        Problem.NEVER,
        Problem.VERIFY_FAILED,
        Problem.AGE_WARNING,
        Problem.AGE_CRITICAL,
    ):
        rows.append(
            [f"{tr.problem_title(problem)} ({_code(problem.value)})", str(a.count(problem))]
        )
    rows.append([tr("ignored_row"), str(sum(1 for g in a.guests if g.ignored is not None))])
    per_sev = [
        f"{sum(1 for x in a.anomalies if x.severity is s)} {tr.severity(s)}"
        for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
    ]
    rows.append([tr("anomalies_row"), f"{len(a.anomalies)} ({', '.join(per_sev)})"])
    enabled = sum(1 for j in a.inventory.jobs if j.enabled)
    rows.append([tr("jobs_row"), f"{enabled} / {len(a.inventory.jobs) - enabled}"])
    return [f"## {tr('summary')}", "", *_table([tr("what"), tr("count")], rows), "",
            tr("summary_note")]  # fmt: skip


def _pie(a: Assessment, tr: _Tr) -> list[str]:
    if not a.guests:
        return []
    lines = ["```mermaid", f"pie title {tr('pie_title', n=len(a.guests))}"]
    for cov in Coverage:
        n = sum(1 for g in a.guests if g.coverage is cov)
        if n:
            label = cov.value if tr.lang == "en" else tr.values["coverage"][cov.value]
            lines.append(f'    "{label}" : {n}')
    lines.append("```")
    return lines


def _guest_problem_line(g: GuestStatus, problem: Problem, a: Assessment, tr: _Tr) -> str:
    """One bullet of *Needs attention*: the guest and the facts behind the problem."""
    guest = g.guest
    facts: list[str] = [f"{tr('node')} {md(guest.node)}"]
    jobs_text = md(", ".join(g.jobs)) if g.jobs else tr("none")
    pbs_text = md(", ".join(g.pbs_jobs)) if g.pbs_jobs else tr("none")
    success = g.last_success.started if g.last_success is not None else None
    if problem in (
        Problem.NOT_COVERED,
        Problem.INDETERMINATE,
        Problem.DISABLED_ONLY,
        Problem.NON_PBS_ONLY,
    ):
        if problem is not Problem.NOT_COVERED:
            facts.append(f"{tr('jobs')}{tr('colon')} {jobs_text}")
        facts += [tr.msg(r, CELL_LIMIT) for r in g.reasons]
    elif problem is Problem.FAILED:
        lb = g.last_backup
        if lb is not None:
            facts = [f"{tr('node')} {md(lb.node or guest.node)}"]
            # a guest a dead run never started failed when the run ended
            when = lb.started if lb.started is not None else lb.ended
            facts.append(f"{tr('failed_at')} {iso_utc(when) or '?'}")
            if lb.upid:
                facts.append(f"{tr('task')} {_upid(lb.upid)}")
            if lb.message:
                facts.append(_result_text(lb.message, tr))
        if success is not None:
            facts.append(f"{tr('latest_success')} {iso_utc(success)}")
    elif problem is Problem.STALE:
        facts += [
            f"{tr('pbs_jobs')}{tr('colon')} {pbs_text}",
            f"{tr('latest_success')} {iso_utc(success) or tr('none')}",
            f"{tr('expected_run')} {iso_utc(g.expected_run) or tr('none')}",
        ]
    elif problem is Problem.NEVER:
        facts += [
            f"{tr('pbs_jobs')}{tr('colon')} {pbs_text}",
            tr("no_backup_in_window", days=a.options.history_days),
            f"{tr('expected_run')} {iso_utc(g.expected_run) or tr('none')}",
        ]
    elif problem is Problem.VERIFY_FAILED:
        snap = g.snapshot
        if snap is not None:
            facts.append(
                f"{tr('snapshot')} {md(snap.archive or iso_utc(snap.ctime))} "
                f"{tr('on_storage')} {md(snap.storage)}"
            )
    else:  # AGE_WARNING / AGE_CRITICAL
        warn_s, crit_s = a.options.max_age_s
        limit = crit_s if problem is Problem.AGE_CRITICAL else warn_s
        age = a.judged_age(g) or a.options.window_s
        facts += [
            f"{tr('latest_success')} {iso_utc(success) or tr('none')}",
            f"{tr('age')} {tr.duration(age)}" + ("" if g.age_s is not None else "+"),
            f"{tr('limit')} {tr.duration(limit)}",
        ]
    return f"- **{_guest_label(g)}** — " + tr("sep").join(facts)


def _attention(a: Assessment, tr: _Tr) -> list[str]:
    lines = [f"## {tr('attention')}"]
    alerting = [g for g in sorted_guests(a) if g.alerting]
    serious = [x for x in a.anomalies if x.severity is not Severity.INFO]
    if not alerting and not serious:
        lines += ["", tr("attention_none")]
    for problem in _PROBLEM_ORDER:
        guests = [g for g in alerting if problem in g.problems]
        if not guests:
            continue
        lines += [
            "",
            f"### {tr.problem_title(problem)} ({_code(problem.value)}){tr('colon')} {len(guests)}",
            "",
            f"**{tr('todo')}** {tr.advice[problem.value]}",
            "",
        ]
        lines += [_guest_problem_line(g, problem, a, tr) for g in guests]
    if serious:
        lines += ["", f"### {tr('anomalies_attention')}{tr('colon')} {len(serious)}", ""]
        for x in sorted(serious, key=lambda x: (-x.severity.rank, x.component)):
            lines.append(
                f"- **{tr.severity(x.severity)}**, {_component(x.component)}{tr('colon')} "
                f"{tr.msg(x.message, CELL_LIMIT * 2)} — **{tr('todo')}** {_anomaly_hint(x, tr)}"
            )
    ignored = sum(1 for g in a.guests if g.ignored is not None)
    if ignored:
        lines += ["", tr("attention_ignored", n=ignored)]
    return lines


def _worst_first(guests: Iterable[GuestStatus]) -> list[GuestStatus]:
    """Critical-type problems first, then the worst problem (the check's long-output
    order), the oldest latest success, the VMID."""

    def key(g: GuestStatus) -> tuple[int, int, int, int]:
        first = min((_ATTENTION_INDEX.get(p, len(_ATTENTION_INDEX)) for p in g.problems),
                    default=len(_ATTENTION_INDEX))  # fmt: skip
        age = g.age_s if g.age_s is not None else 10**12  # no success known: oldest
        return (_severity_rank(g), first, -age, g.guest.vmid)

    return sorted(guests, key=key)


def _why(g: GuestStatus, problem: Problem, a: Assessment, tr: _Tr) -> str:
    """The one fact behind the guest's worst problem, for the action table."""
    if problem in (Problem.FAILED,) and g.last_backup is not None:
        lb = g.last_backup
        if lb.message:
            return _result_text(lb.message, tr)
        when = lb.started if lb.started is not None else lb.ended
        return f"{tr('failed_at')} {iso_utc(when) or '?'}"
    if problem is Problem.VERIFY_FAILED and g.snapshot is not None:
        snap = g.snapshot
        return f"{tr('snapshot')} {md(snap.archive or iso_utc(snap.ctime))}"
    if problem in (Problem.STALE, Problem.NEVER):
        return f"{tr('expected_run')} {iso_utc(g.expected_run) or tr('none')}"
    if problem in (Problem.AGE_WARNING, Problem.AGE_CRITICAL):
        warn_s, crit_s = a.options.max_age_s
        limit = crit_s if problem is Problem.AGE_CRITICAL else warn_s
        return f"{tr('limit')} {tr.duration(limit)}"
    return tr("sep").join(tr.msg(r, CELL_LIMIT) for r in g.reasons) or EMPTY


def _action_table(a: Assessment, tr: _Tr) -> list[str]:
    """The guests that need action, worst first, in at most 8 columns."""
    lines = [f"## {tr('action_title')}", ""]
    guests = _worst_first(g for g in a.guests if g.alerting)
    if not guests:
        return [*lines, tr("action_none")]
    headers = [tr(k) for k in ("col_vmid", "col_name", "col_node", "col_problems",
                               "col_latest_success", "col_age", "col_why")]  # fmt: skip
    rows: list[list[str]] = []
    for g in guests:
        problems = _sorted_attention(g.problems)
        success = g.last_success.started if g.last_success is not None else None
        rows.append(
            [
                str(g.guest.vmid),
                md(g.guest.name, NOTE_LIMIT),
                md(g.guest.node),
                ", ".join(tr.value("problem_short", p.value) for p in problems),
                iso_utc(success) or tr("none"),
                tr.duration(g.age_s) if g.age_s is not None else EMPTY,
                _why(g, problems[0], a, tr),
            ]
        )
    return [*lines, tr("action_intro"), "", *_table(headers, rows)]


def _sorted_attention(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: _ATTENTION_INDEX.get(p, len(_ATTENTION_INDEX)))


def _guest_type(kind: str, template: bool, tr: _Tr) -> str:
    text = "CT" if kind == "lxc" else "VM" if kind == "qemu" else md(kind)
    return f"{text} ({tr('template')})" if template else text


def _guest_row(g: GuestStatus, a: Assessment, tr: _Tr) -> list[str]:
    guest = g.guest
    storages = _pbs_storages(g, a.inventory)
    sids = [s.id if isinstance(s, Storage) else s for s in storages]
    datastores = [tr.spec(s.datastore) if isinstance(s, Storage) else EMPTY for s in storages]
    namespaces = [tr.spec(s.namespace) if isinstance(s, Storage) else EMPTY for s in storages]
    shown = _shown_backup(g)
    result = EMPTY
    if shown is not None:
        result = tr.value("result", shown.status)
        if not shown.upid:
            result += f" ({tr('from_pbs')})"
    verification = EMPTY
    if g.snapshot is not None:
        verification = tr.value("verification", g.verification or "none")
    problems = tr.problem_words(_sorted_problems(g.problems))
    if g.ignored is not None:
        problems = f"*{tr('ignored_mark')}*" + (f"{tr('colon')} {problems}" if problems else "")
    return [
        str(guest.vmid),
        md(guest.name, NOTE_LIMIT),
        _guest_type(guest.type, guest.template, tr),
        md(guest.node),
        tr.value("status", guest.status),
        md(guest.pool) if guest.pool else EMPTY,
        md(", ".join(guest.tags), NOTE_LIMIT) if guest.tags else EMPTY,
        tr.coverage(g.coverage),
        problems or EMPTY,
        md(", ".join(g.jobs)) if g.jobs else EMPTY,
        md(", ".join(sids)) if sids else EMPTY,
        ", ".join(datastores) if storages else EMPTY,
        ", ".join(namespaces) if storages else EMPTY,
        (iso_utc(shown.started) or EMPTY) if shown else EMPTY,
        (iso_utc(shown.ended) or EMPTY) if shown else EMPTY,
        result,
        tr.duration(shown.duration_s) if shown and shown.duration_s is not None else EMPTY,
        tr.duration(g.age_s) if g.age_s is not None else EMPTY,
        verification,
        tr.value("freshness", g.freshness.value) if g.freshness is not None else EMPTY,
        md(note, NOTE_LIMIT) if (note := _first_line(guest.notes)) else EMPTY,
    ]


def _guests(a: Assessment, tr: _Tr) -> list[str]:
    lines = [f"## {tr('guests')}", ""]
    if not a.guests:
        return [*lines, tr("guests_none")]
    headers = [
        tr(k)
        for k in (
            "col_vmid", "col_name", "col_type", "col_node", "col_status", "col_pool",
            "col_tags", "col_coverage", "col_problems", "col_jobs", "col_pbs_storage",
            "col_datastore", "col_namespace", "col_start", "col_end", "col_result",
            "col_duration", "col_age", "col_verification", "col_freshness", "col_note",
        )
    ]  # fmt: skip
    return lines + _table(headers, [_guest_row(g, a, tr) for g in sorted_guests(a)])


def _readable_schedule(schedule: str | None, tr: _Tr) -> str:
    if not schedule:
        return tr("no_schedule")
    try:
        return md(describe(schedule, tr.lang))
    except ScheduleError as exc:
        return tr("invalid_schedule", error=md(exc, CELL_LIMIT))


def _selection(job: BackupJob, jc: JobCoverage | None, tr: _Tr) -> str:
    selection = jc.selection if jc is not None else job.selection
    text = tr.value("selection", selection.value)
    if job.pool:
        text += f" {md(job.pool)}"
    elif job.vmid_raw:
        text += f" {md(job.vmid_raw, CELL_LIMIT)}"
    if jc is not None and jc.unresolved is not None:
        text += "; " + tr("unresolved", reason=tr.msg(jc.unresolved, CELL_LIMIT))
    if jc is not None and jc.refused is not None:
        text += "; " + tr("refused", reason=tr.msg(jc.refused, CELL_LIMIT))
    return text


def _storage_cell(job: BackupJob, jc: JobCoverage | None, tr: _Tr) -> str:
    kind = jc.storage_type if jc is not None else "unknown"
    if job.dumpdir is not None and job.storage:
        return tr("dumpdir_refused", storage=md(job.storage), path=md(job.dumpdir))
    if job.dumpdir:
        return tr("dumpdir", path=md(job.dumpdir))
    if job.storage:
        return f"{md(job.storage)} ({tr.value('storage_type', kind)})"
    values = jc.effective_storage.values() if jc is not None else ()
    effective = sorted({v for v in values if v is not None})
    if any(v is None for v in values):
        effective.append(tr("default_dumpdir"))
    text = tr("node_default")
    if effective:
        text += " → " + md(", ".join(effective))
    return text


def _included(jc: JobCoverage | None, tr: _Tr) -> str:
    if jc is None:
        return EMPTY
    n = len(jc.included)
    text = str(n)
    if 0 < n <= SHORT_LIST:
        text += f"{tr('colon')} " + ", ".join(str(v) for v in jc.included)
    if jc.unresolved is not None and jc.possible:
        text += f" ({tr('possible', n=len(jc.possible))})"
    return text


def _jobs(a: Assessment, tr: _Tr) -> list[str]:
    lines = [f"## {tr('jobs_title')}", ""]
    if not a.inventory.jobs:
        return [*lines, tr("jobs_none")]
    coverage = {jc.job.id: jc for jc in a.coverage.jobs}
    headers = [
        tr(k)
        for k in (
            "col_id", "col_enabled", "col_storage", "col_schedule", "col_readable",
            "col_next_run", "col_selection", "col_exclude", "col_node_restriction",
            "col_mode", "col_included", "col_comment",
        )
    ]  # fmt: skip
    rows: list[list[str]] = []
    for job in a.inventory.jobs:
        jc = coverage.get(job.id)
        comment = _first_line(job.comment)
        rows.append(
            [
                md(job.id) + (f" ({tr('legacy')})" if job.legacy else ""),
                tr.yes_no(job.enabled),
                _storage_cell(job, jc, tr),
                _code_data(job.schedule) if job.schedule else EMPTY,
                _readable_schedule(job.schedule, tr),
                iso_utc(job.next_run) or EMPTY,
                _selection(job, jc, tr),
                md(job.exclude_raw, CELL_LIMIT) if job.exclude_raw else EMPTY,
                md(job.node) if job.node else tr("any_node"),
                tr.value("mode", job.mode or "snapshot"),
                _included(jc, tr),
                md(comment, CELL_LIMIT) if comment else EMPTY,
            ]
        )
    return lines + _table(headers, rows)


def _storages(a: Assessment, tr: _Tr) -> list[str]:
    lines = [f"## {tr('storages_title')}", ""]
    pbs = [s for s in a.inventory.storages if s.is_pbs]
    if not pbs:
        return [*lines, tr("storages_none")]
    headers = [
        tr(k)
        for k in (
            "col_id", "col_server", "col_datastore", "col_namespace", "col_username",
            "col_storage_enabled", "col_nodes", "col_space",
        )
    ]  # fmt: skip
    spaces = {sp.storage: sp for sp in a.storage_space}
    rows = [
        [
            md(s.id),
            tr.spec(s.server),
            tr.spec(s.datastore),
            tr.spec(s.namespace),
            tr.spec(s.username),
            tr.yes_no(s.enabled),
            md(", ".join(s.nodes)) if s.nodes is not None else tr("all_nodes"),
            _space(spaces.get(s.id), tr),
        ]
        for s in pbs
    ]
    return lines + _table(headers, rows)


_SIZE_UNITS = {
    "en": ("B", "KiB", "MiB", "GiB", "TiB", "PiB"),
    "fr": ("o", "Kio", "Mio", "Gio", "Tio", "Pio"),
}


def _size(n: int, tr: _Tr) -> str:
    """``1.5 TiB`` / ``1,5 Tio`` (binary units, one decimal from KiB up)."""
    units = _SIZE_UNITS[tr.lang]
    value, unit = float(n), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    number = str(n) if unit == 0 else decimal(value, tr.lang)
    return f"{number} {units[unit]}"


def _space(space: StorageSpace | None, tr: _Tr) -> str:
    """Used space of a PBS storage in use, as PVE reports it (``collect/storage_space.py``)."""
    if space is None:
        return EMPTY
    percent = space.used_percent
    if percent is None:
        return tr("space_inactive")
    text = tr(
        "space_text",
        used=_size(space.used, tr),
        total=_size(space.total, tr),
        percent=decimal(percent, tr.lang),
    )
    if space.estimated_full is not None:
        text += tr("sep") + tr("space_full", date=iso_utc(space.estimated_full))
    return text


def _anomalies(a: Assessment, tr: _Tr) -> list[str]:
    lines = [f"## {tr('anomalies_title')}", ""]
    if not a.anomalies:
        return [*lines, tr("anomalies_none")]
    headers = [tr("col_severity"), tr("col_component"), tr("col_message"), tr("col_details")]
    order = sorted(a.anomalies, key=lambda x: -x.severity.rank)  # stable: keeps data order
    rows = [
        [
            tr.severity(x.severity),
            _component(x.component),
            tr.msg(x.message, CELL_LIMIT * 2),
            _details(x.details, tr) if x.details else EMPTY,
        ]
        for x in order
    ]
    return lines + _table(headers, rows)


def _pending(a: Assessment, tr: _Tr) -> list[str]:
    """Guests waiting for their first backup (only when there are some)."""
    pending = pending_guests(a)
    if not pending:
        return []
    headers = [tr(k) for k in ("col_vmid", "col_name", "col_node", "col_jobs", "col_created",
                               "col_created_by", "col_first_run")]  # fmt: skip
    rows: list[list[str]] = []
    for g in sorted(pending, key=lambda g: g.guest.vmid):
        c = g.created
        by = tr("no_scheduled_run")
        if c is not None:
            key = "created_by" if c.source is None else "created_from"
            by = tr(key, task=_code(c.task_type), node=md(c.node), source=c.source)
        rows.append(
            [
                str(g.guest.vmid),
                md(g.guest.name, NOTE_LIMIT),
                md(g.guest.node),
                md(", ".join(g.pbs_jobs)) if g.pbs_jobs else EMPTY,
                (iso_utc(c.started) or EMPTY) if c is not None else EMPTY,
                by,
                (iso_utc(g.first_run) or EMPTY) if g.first_run is not None else EMPTY,
            ]
        )
    return [f"## {tr('pending_title')}", "", tr("pending_intro"), "", *_table(headers, rows)]


def _ignored(a: Assessment, tr: _Tr) -> list[str]:
    lines = [f"## {tr('ignored_title')}", ""]
    ignored = [g for g in a.guests if g.ignored is not None]
    if not ignored:
        return [*lines, tr("ignored_none")]
    headers = [
        tr(k)
        for k in (
            "col_vmid", "col_name", "col_rule", "col_reason", "col_until", "col_coverage",
            "col_problems",
        )
    ]  # fmt: skip
    rows: list[list[str]] = []
    for g in sorted(ignored, key=lambda g: g.guest.vmid):
        match = g.ignored
        assert match is not None
        rows.append(
            [
                str(g.guest.vmid),
                md(g.guest.name, NOTE_LIMIT),
                md(match.rule.matcher),
                md(match.reason, CELL_LIMIT),
                md(match.until) if match.until else tr("no_end"),
                tr.coverage(g.coverage),
                tr.problem_words(_sorted_problems(g.problems)) or EMPTY,
            ]
        )
    return lines + _table(headers, rows)


def _stats(a: Assessment, tr: _Tr) -> list[str]:
    s = a.stats
    rows = [
        [tr("stats_requests"), str(s.requests)],
        [tr("stats_bytes"), str(s.bytes)],
        [tr("stats_time"), f"{decimal(s.collect_time_s, tr.lang, 2)} s"],
        [tr("stats_tasks"), str(s.tasks_listed)],
        [tr("stats_logs"), f"{s.logs_fetched} / {s.logs_cached}"],
        [tr("stats_tls"), tr.value("tls", s.tls_mode)],
    ]
    return [STATS_MARKER, f"## {tr('stats_title')}", "",
            *_table([tr("what"), tr("value")], rows)]  # fmt: skip


# --------------------------------------------------------------------------- API


def render_report(
    assessment: Assessment,
    state: str,
    lang: str = "en",
    now_given: bool = False,
    cluster: str | None = None,
    *,
    generated_at: int | None = None,
) -> str:
    """The whole report as Markdown (pure).

    ``state`` is the overall check state (``OK``/``WARNING``/``CRITICAL``/``UNKNOWN``).
    ``cluster`` overrides the cluster name (else the inventory's, else a generic name).
    ``generated_at`` is the wall-clock time of writing (epoch); by default the
    assessment's evaluation time. The collection statistics come last, after
    :data:`STATS_MARKER`.
    """
    tr = _Tr(lang)
    a = assessment
    sections: list[list[str]] = [
        _header(a, state, tr, now_given, cluster, generated_at),
        _action_table(a, tr),
        _summary(a, tr),
        _pie(a, tr),
        _attention(a, tr),
        _pending(a, tr),
        _guests(a, tr),
        _jobs(a, tr),
        _storages(a, tr),
        _anomalies(a, tr),
        _ignored(a, tr),
        _stats(a, tr),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def write_report(path: str, text: str) -> None:
    """Write atomically (temp file in the same directory, fsync, rename); OSError on failure.

    An interrupted or failed write leaves the previous report untouched.
    """
    atomic_write_text(path, text)


def report_hook(
    path: str,
    lang: str,
    now_given: bool,
    cluster: str | None = None,
    clock: Callable[[], float] = time.time,
) -> AfterHook:
    """The check's after-hook: render with the final state and write the report.

    Never raises: an error becomes a one-line text (``report not written: ...``) that the
    check adds as a WARNING, so the coverage state is never lost.
    """

    def hook(assessment: Assessment, state: ServiceState) -> str | None:
        try:
            text = render_report(
                assessment,
                state.text.upper(),
                lang,
                now_given,
                cluster,
                generated_at=int(clock()),
            )
        except Exception as exc:  # a rendering bug must not cost the check result
            return redact(f"report not written: cannot render it ({type(exc).__name__}: {exc})")
        try:
            write_report(path, redact(text))
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            return f"report not written: cannot write {path}: {reason}"
        return None

    return hook
