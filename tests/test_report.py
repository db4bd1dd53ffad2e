"""Tests of output/report.py: the Markdown report, its escaping, French, and the atomic write."""

from __future__ import annotations

import dataclasses
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

import nagiosplugin
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from builders import backup_job, guest, storage
from pve_backup_report.analysis.assess import AnalysisOptions, Assessment, CollectStats, assess
from pve_backup_report.analysis.coverage import Coverage, analyse_coverage
from pve_backup_report.analysis.history import GuestBackupResult, GuestHistory, ResultStatus
from pve_backup_report.analysis.ignore import parse_ignore_rules
from pve_backup_report.analysis.pbs_content import PbsContent, Snapshot, StorageContent
from pve_backup_report.analysis.pbs_health import StorageSpace
from pve_backup_report.model import (
    Anomaly,
    Guest,
    Inventory,
    Node,
    Pool,
    Problem,
    Severity,
)
from pve_backup_report.output import report as report_mod
from pve_backup_report.output.check import CheckOptions, build_check
from pve_backup_report.output.report import (
    STATS_MARKER,
    md,
    render_report,
    report_hook,
    sorted_guests,
    write_report,
)
from pve_backup_report.output.report_i18n import ADVICE, COMPONENT_HINTS, TEXTS, VALUE_LABELS
from pve_backup_report.timeutil import iso_utc, parse_timestamp

NOW = parse_timestamp("2026-11-20T12:00:00Z")
# "21:00" in Europe/Paris (UTC+1 in November): the run expected before NOW - grace.
LAST_RUN = parse_timestamp("2026-11-19T20:00:00Z")
HOSTILE_NAME = "evil|name`x`<script>alert(1)</script>\nnext *b* [l](http://x) & $m$"
HOSTILE_NOTE = "first | line <b>bold</b> `code` \\| end\nsecond line"


def _ok(
    vmid: int, started: int, node: str = "pve1", status: ResultStatus = "ok"
) -> GuestBackupResult:
    return GuestBackupResult(
        vmid=vmid,
        status=status,
        started=started,
        ended=started + 125,
        duration_s=125,
        node=node,
        upid=f"UPID:{node}:00001234:00ABCDEF:{started:08X}:vzdump::root@pam:",
        message="backup failed: storage pbs1 unreachable" if status == "failed" else None,
        archive=f"vm/{vmid}/{iso_utc(started)}",
    )


def build(
    *,
    extra_guests: tuple[Guest, ...] = (),
    anomalies: tuple[Anomaly, ...] = (),
    stats: CollectStats | None = None,
    ignore: bool = True,
) -> Assessment:
    """A small cluster with one guest per problem, built from domain objects."""
    nodes = (Node("pve1", "online", "Europe/Paris"), Node("pve2", "online", "Europe/Paris"))
    storages = (
        storage("local", type="dir", content=("backup", "iso")),
        storage(
            "pbs1",
            server="pbs.example.org",
            datastore="ds1",
            namespace="prod",
            username="backup@pbs",
        ),
        storage("pbs-bare", nodes=("pve2",), server="pbs2"),
    )
    jobs = (
        backup_job(
            "daily",
            all=True,
            exclude="103,104,105,108",
            comment="nightly | all\nsecond line",
        ),
        backup_job("to-local", storage="local", vmid="103", schedule="sat 02:00"),
        backup_job("off", enabled=False, vmid="105"),
        backup_job("broken", vmid="104", schedule="bogus 99:99", enabled=False),
    )
    guests = (
        guest(100, name="web", pool="prod", tags=("web", "db")),
        guest(101, name="mail"),
        guest(102, type="lxc", name="dns", node="pve2"),
        guest(103, name="nas", status="stopped"),
        guest(104, name="scratch", node="pve2"),
        guest(105, name="old", node="pve2", status="stopped"),
        guest(106, type="lxc", name="newbie"),
        guest(107, name="db", notes="Primary DB\nmore text"),
        guest(108, name="lab"),
        guest(109, name=HOSTILE_NAME, pool="p|ool", tags=("t|1", "<i>"), notes=HOSTILE_NOTE),
        *extra_guests,
    )
    inventory = Inventory(
        nodes=nodes,
        storages=storages,
        jobs=jobs,
        guests=guests,
        pools=(Pool("prod", None, (100,)),),
        anomalies=anomalies,
        version="9.1.1",
        cluster_name="lab-cluster",
    )
    rules = parse_ignore_rules(
        [{"vmid": 108, "reason": "lab | throwaway <VM>", "until": "2026-12-31"}] if ignore else []
    )
    coverage = analyse_coverage(inventory, rules, NOW)
    fresh = LAST_RUN + 300
    histories = {
        100: GuestHistory(_ok(100, fresh), _ok(100, fresh)),
        101: GuestHistory(_ok(101, fresh, status="failed"), _ok(101, LAST_RUN - 86400)),
        102: GuestHistory(_ok(102, LAST_RUN - 2 * 86400, "pve2"), _ok(102, LAST_RUN - 2 * 86400)),
        107: GuestHistory(_ok(107, fresh), _ok(107, fresh)),
        109: GuestHistory(_ok(109, fresh), _ok(109, fresh)),
    }
    verification = {100: "ok", 107: "failed"}
    kinds = {g.vmid: g.type for g in inventory.guests}
    snaps: dict[tuple[int, str], Snapshot] = {
        (vmid, kinds[vmid]): Snapshot(
            "pbs1",
            vmid,
            kinds[vmid],
            h.last_success.started or 0,
            1000,
            verification.get(vmid),
            False,
            False,
            h.last_success.archive or "",
        )
        for vmid, h in histories.items()
        if h.last_success is not None
    }
    archives = frozenset(s.archive for s in snaps.values())
    content = PbsContent({"pbs1": StorageContent("pbs1", snaps, archives, len(snaps))}, ())
    a = assess(
        inventory,
        coverage,
        histories,
        frozenset({"pve1", "pve2"}),
        content,
        NOW,
        AnalysisOptions(),
    )
    return a.with_stats(stats or CollectStats(requests=42, bytes=12345, collect_time_s=1.5))


@pytest.fixture(scope="module")
def assessment() -> Assessment:
    return build(
        anomalies=(
            Anomaly(
                Severity.WARNING,
                "permissions",
                "pool 'x' not readable | really\nsecond <line>",
                {"pool": "x", "missing_privilege": "Pool.Audit"},
            ),
        )
    )


@pytest.fixture(scope="module")
def report_en(assessment: Assessment) -> str:
    return render_report(assessment, "CRITICAL", "en")


@pytest.fixture(scope="module")
def report_fr(assessment: Assessment) -> str:
    return render_report(assessment, "CRITICAL", "fr", now_given=True)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


# --------------------------------------------------------------------------- table helpers


def _split_row(line: str) -> list[str]:
    """Split a source table row on unescaped pipes, like GFM does."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    cells: list[str] = []
    current = ""
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if ch == "|":
            cells.append(current)
            current = ""
        else:
            current += ch
        i += 1
    if current.strip():
        cells.append(current)
    return cells


def _tables(tokens: list[Token]) -> Iterator[tuple[list[str], list[list[str]], list[int]]]:
    """(header texts, rows of cell texts, source line numbers of the rows) per table."""
    i = 0
    while i < len(tokens):
        if tokens[i].type != "table_open":
            i += 1
            continue
        header: list[str] = []
        rows: list[list[str]] = []
        lines: list[int] = []
        current: list[str] | None = None
        in_head = False
        while tokens[i].type != "table_close":
            t = tokens[i]
            if t.type == "thead_open":
                in_head = True
            elif t.type == "thead_close":
                in_head = False
            elif t.type == "tr_open" and not in_head:
                current = []
                rows.append(current)
                assert t.map is not None
                lines.append(t.map[0])
            elif t.type == "inline":
                (header if in_head else current if current is not None else header).append(
                    t.content
                )
            i += 1
        yield header, rows, lines
        i += 1


def _text(inline_content: str) -> str:
    """The visible text of an inline cell: render it and drop the tags."""
    rendered = MarkdownIt("commonmark").renderInline(inline_content)
    import html as html_mod

    return html_mod.unescape(re.sub(r"<[^>]+>", "", rendered))


def _check_tables(text: str) -> int:
    tokens = _parser().parse(text)
    source = text.splitlines()
    count = 0
    for header, rows, lines in _tables(tokens):
        count += 1
        assert header
        for row, line_no in zip(rows, lines, strict=True):
            assert len(row) == len(header), source[line_no]
            assert len(_split_row(source[line_no])) == len(header), source[line_no]
    return count


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_table_row_has_the_header_column_count(assessment: Assessment, lang: str) -> None:
    text = render_report(assessment, "WARNING", lang)
    # action, summary, guests, jobs, PBS storages, anomalies, ignored guests, statistics
    assert _check_tables(text) == 8


def test_header(report_en: str, assessment: Assessment) -> None:
    head = report_en.split("## ", 1)[0]
    assert head.startswith("# Proxmox VE backup report: lab-cluster\n")
    assert "**PVE version:** 9.1.1" in head
    assert "**Generated at:** 2026-11-20T12:00:00Z" in head
    assert "**Overall state:** **`CRITICAL`**" in head
    assert "**Plugin version:** " in head
    assert "--now" not in head  # not given
    other = render_report(assessment, "OK", cluster="prod|east", generated_at=NOW + 7)
    assert other.startswith("# Proxmox VE backup report: prod\\|east\n")
    assert "**Generated at:** 2026-11-20T12:00:07Z" in other


def test_header_default_cluster_and_now(assessment: Assessment) -> None:
    from dataclasses import replace

    anon = replace(assessment, inventory=replace(assessment.inventory, cluster_name=None))
    text = render_report(anon, "OK", now_given=True, generated_at=NOW + 3600)
    assert text.startswith("# Proxmox VE backup report: PVE cluster\n")
    assert "**Generated at:** 2026-11-20T13:00:00Z" in text
    assert "**Evaluation time (`--now`):** 2026-11-20T12:00:00Z" in text


def test_summary_counts(report_en: str) -> None:
    summary = report_en.split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip(): cells[1].strip()
        for cells in (_split_row(line) for line in summary.splitlines() if line.startswith("| "))
    }
    assert rows["Guests"] == "10"
    assert rows["Coverage `covered`"] == "6"  # 100 101 102 106 107 109
    assert rows["Coverage `not_covered`"] == "1"  # 108 (ignored, still counted)
    assert rows["Coverage `non_pbs_only`"] == "1"  # 103
    assert rows["Coverage `disabled_only`"] == "2"  # 104 105
    assert rows["Coverage `indeterminate`"] == "0"
    assert rows["Latest backup failed (`failed`)"] == "1"
    assert rows["Stale backup (missed run) (`stale`)"] == "1"
    assert rows["Never backed up (`never`)"] == "1"
    assert rows["Failed verification (`verify_failed`)"] == "1"
    assert rows["Ignored guests"] == "1"
    assert rows["Anomalies"] == "2 (0 critical, 2 warning, 0 info)"
    assert rows["Backup jobs (enabled / disabled)"] == "2 / 2"


def test_coverage_values_match_the_assessment(assessment: Assessment) -> None:
    by_vmid = {g.guest.vmid: g for g in assessment.guests}
    assert by_vmid[100].problems == ()
    assert Problem.FAILED in by_vmid[101].problems
    assert Problem.STALE in by_vmid[102].problems
    assert by_vmid[103].coverage is Coverage.NON_PBS_ONLY
    assert by_vmid[104].coverage is Coverage.DISABLED_ONLY
    assert by_vmid[105].coverage is Coverage.DISABLED_ONLY
    assert Problem.NEVER in by_vmid[106].problems
    assert Problem.VERIFY_FAILED in by_vmid[107].problems
    assert by_vmid[108].ignored is not None


def test_guest_order_severity_then_vmid(assessment: Assessment, report_en: str) -> None:
    order = [g.guest.vmid for g in sorted_guests(assessment)]
    # critical-type (failed, not covered, verify failed), warning-type, ignored, OK
    by_vmid = {g.guest.vmid: g for g in assessment.guests}
    crit = {101, 107}
    warn = {102, 103, 104, 105, 106}
    assert set(order[: len(crit)]) == crit
    assert order[: len(crit)] == sorted(crit)
    assert order[len(crit) : len(crit) + len(warn)] == sorted(warn)
    assert order[len(crit) + len(warn)] == 108
    assert order[-2:] == [100, 109]
    assert by_vmid[108].ignored is not None
    guests = report_en.split("## Guests\n", 1)[1].split("\n## ", 1)[0]
    vmids = [int(m) for m in re.findall(r"^\| (\d+) \|", guests, re.M)]
    assert vmids == order
    lab = next(line for line in guests.splitlines() if line.startswith("| 108 |"))
    assert "*ignored*: `not_covered`" in lab


def test_guest_row_details(report_en: str) -> None:
    tokens = _parser().parse(report_en)
    tables = list(_tables(tokens))
    header, rows, _ = next(t for t in tables if t[0][:2] == ["VMID", "Name"] and len(t[0]) > 10)
    cells = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    web = cells[100]
    assert web["PBS storage"] == "pbs1"
    assert web["Datastore"] == "ds1"
    assert web["Namespace"] == "prod"
    assert web["Latest start"] == "2026-11-19T20:05:00Z"
    assert web["Latest end"] == "2026-11-19T20:07:05Z"
    assert web["Result"] == "ok"
    assert web["Duration"] == "2m"
    assert web["Age"] == "15h 55m"
    assert web["Verification"] == "ok"
    assert web["Freshness"] == "fresh"
    assert web["Tags"] == "web, db"
    assert web["Pool"] == "prod"
    assert web["Type"] == "VM"
    assert cells[102]["Type"] == "CT"
    assert cells[101]["Result"] == "failed"
    assert cells[107]["Verification"] == "failed"
    assert cells[107]["Note"] == "Primary DB"
    assert cells[104]["PBS storage"] == "-"


def test_hostile_data_is_escaped(report_en: str) -> None:
    tokens = _parser().parse(report_en)
    html_out = _parser().render(report_en)
    assert "<script" not in html_out
    assert "<b>" not in html_out and "<i>" not in html_out
    # the only raw HTML is our own invisible stats marker
    raw = [t for t in tokens if t.type == "html_block"]
    assert [t.content.strip() for t in raw] == [STATS_MARKER]
    children = [c for t in tokens for c in t.children or []]
    assert not [c for c in children if c.type in ("html_inline", "link_open", "image")]
    code = " ".join(c.content for c in children if c.type == "code_inline")
    for fragment in ("evil", "alert", "bold", "first", "p|ool", "t|1", "throwaway"):
        assert fragment not in code  # data never lands in a code span
    header, rows, _ = next(
        t for t in _tables(tokens) if t[0][:2] == ["VMID", "Name"] and len(t[0]) > 10
    )
    row = dict(zip(header, next(r for r in rows if r[0] == "109"), strict=True))
    assert _text(row["Name"]) == " ".join(HOSTILE_NAME.split("\n"))
    assert _text(row["Note"]) == "first | line <b>bold</b> `code` \\| end"
    assert _text(row["Pool"]) == "p|ool"
    assert _text(row["Tags"]) == "t|1, <i>"
    assert "\n" not in row["Name"]


def test_hostile_text_in_lists_and_anomalies(report_en: str) -> None:
    attention = report_en.split("## Needs attention", 1)[1].split("\n## ", 1)[0]
    assert "pool 'x' not readable \\| really second &lt;line&gt;" in attention
    tokens = _parser().parse(report_en)
    header, rows, _ = next(t for t in _tables(tokens) if t[0][0] == "Severity")
    assert header == ["Severity", "Component", "Message", "Details"]
    perm = next(r for r in rows if r[1] == "`permissions`")
    assert _text(perm[2]) == "pool 'x' not readable | really second <line>"
    assert _text(perm[3]) == "pool=x; missing_privilege=Pool.Audit"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("x\ny\r\nz", "x y z"),
        ("`c`", "\\`c\\`"),
        ("<script>&", "&lt;script&gt;&amp;"),
        ("*a* _b_ [c](d) ~e~ $f$", "\\*a\\* \\_b\\_ \\[c\\](d) \\~e\\~ \\$f\\$"),
        ("back\\slash", "back\\\\slash"),
        ("nul\x00bel\x07", "nulbel"),
    ],
)
def test_md_escaping(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


def test_md_limit_shortens_before_escaping() -> None:
    assert md("a|" * 10, limit=5) == "a\\|a\\|…"


def test_needs_attention_advice(report_en: str) -> None:
    attention = report_en.split("## Needs attention", 1)[1].split("\n## ", 1)[0]
    titles = re.findall(r"^### (.+)$", attention, re.M)
    assert titles == [
        # critical-type first, then warning-type, each in the check's worst-first order
        "Latest backup failed (`failed`): 1",
        "Failed verification (`verify_failed`): 1",
        "Stale backup (missed run) (`stale`): 1",
        "Never backed up (`never`): 1",
        "Latest success older than the warning age (`age_warning`): 1",
        "Only in disabled jobs (`disabled_only`): 2",
        "Only backed up to non-PBS storage (`non_pbs_only`): 1",
        "Anomalies: 2",
    ]
    failed = attention.split("(`failed`)", 1)[1].split("###", 1)[0]
    assert ADVICE["en"]["failed"] in failed
    assert "node pve1" in failed
    assert f"task `UPID:pve1:00001234:00ABCDEF:{LAST_RUN + 300:08X}:vzdump::root@pam:`" in failed
    assert "backup failed: storage pbs1 unreachable" in failed
    stale = attention.split("(`stale`)", 1)[1].split("###", 1)[0]
    assert "expected run 2026-11-19T20:00:00Z" in stale
    assert "latest success 2026-11-17T20:00:00Z" in stale
    assert "Grant `Pool.Audit`. " + COMPONENT_HINTS["en"]["permissions"] in attention
    assert "1 ignored guest(s) are not listed here" in attention
    assert "vm 108" not in attention  # the ignored guest is not in the list


def test_not_covered_section() -> None:
    a = build(ignore=False)
    text = render_report(a, "CRITICAL")
    attention = text.split("## Needs attention", 1)[1].split("\n## ", 1)[0]
    titles = re.findall(r"^### (.+)$", attention, re.M)
    # failed first, then not covered: the check's worst-first order
    assert titles[:2] == [
        "Latest backup failed (`failed`): 1",
        "Not covered by any backup job (`not_covered`): 1",
    ]
    assert "- **vm 108 lab** — node pve1; no backup job includes it" in attention
    assert ADVICE["en"]["not_covered"] in attention
    assert [g.guest.vmid for g in sorted_guests(a)][:3] == [101, 107, 108]
    assert "ignored guest(s)" not in attention


def test_nothing_needs_attention() -> None:
    inv = Inventory(
        (Node("pve1", "online", "UTC"),),
        (storage("pbs1"),),
        (backup_job("j", vmid="1"),),
        (guest(1, name="a"),),
        (),
    )
    cov = analyse_coverage(inv, (), NOW)
    hist = {1: GuestHistory(_ok(1, NOW - 3600), _ok(1, NOW - 3600))}
    a = assess(inv, cov, hist, frozenset({"pve1"}), None, NOW, AnalysisOptions())
    text = render_report(a, "OK")
    assert TEXTS["en"]["attention_none"] in text
    assert "No anomaly." in text and "No guest is ignored." in text
    assert "**PVE version:** not specified" in text
    assert _check_tables(text) == 5  # no anomalies table, no ignored guests table


def test_empty_cluster_renders() -> None:
    inv = Inventory((), (), (), (), ())
    a = assess(inv, analyse_coverage(inv, (), NOW), {}, frozenset(), None, NOW, AnalysisOptions())
    text = render_report(a, "UNKNOWN", "fr")
    assert "Aucun invité n'est visible." in text
    assert "```mermaid" not in text
    assert "Aucune tâche de sauvegarde n'est définie." in text


def test_jobs_table(report_en: str) -> None:
    tokens = _parser().parse(report_en)
    header, rows, _ = next(t for t in _tables(tokens) if "Readable schedule" in t[0])
    jobs = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    daily = jobs["daily"]
    assert daily["Enabled"] == "yes"
    assert daily["Storage (type)"] == "pbs1 (pbs)"
    assert daily["Schedule"] == "`21:00`"  # the expression as code; readable text next to it
    assert daily["Readable schedule"] != "-" and "21:00" in daily["Readable schedule"]
    assert daily["Selection"] == "all"
    assert daily["Exclusions"] == "103,104,105,108"
    assert daily["Node restriction"] == "any"
    assert daily["Mode"] == "snapshot"
    assert daily["Guests included"] == "6: 100, 101, 102, 106, 107, 109"
    assert _text(daily["Comment"]) == "nightly | all"
    assert jobs["off"]["Enabled"] == "no"
    assert jobs["to-local"]["Storage (type)"] == "local (dir)"
    assert jobs["to-local"]["Selection"] == "VMIDs 103"
    assert jobs["broken"]["Readable schedule"].startswith("invalid: ")


def test_job_with_many_guests_shows_the_count_only() -> None:
    extra = tuple(guest(200 + i, name=f"g{i}") for i in range(12))
    text = render_report(build(extra_guests=extra), "OK")
    tokens = _parser().parse(text)
    header, rows, _ = next(t for t in _tables(tokens) if "Readable schedule" in t[0])
    daily = dict(zip(header, next(r for r in rows if r[0] == "daily"), strict=True))
    assert daily["Guests included"] == "18"


def test_storages_table(report_en: str) -> None:
    tokens = _parser().parse(report_en)
    header, rows, _ = next(t for t in _tables(tokens) if "Server" in t[0])
    assert header == [
        "ID", "Server", "Datastore", "Namespace", "Username", "Enabled", "Nodes", "Space used",
    ]  # fmt: skip
    assert rows == [  # no space read in this assessment
        ["pbs1", "pbs.example.org", "ds1", "prod", "backup@pbs", "yes", "all", "-"],
        ["pbs-bare", "pbs2", "not specified", "not specified", "not specified", "yes", "pve2",
         "-"],
    ]  # fmt: skip


def test_ignored_section(report_en: str) -> None:
    tokens = _parser().parse(report_en)
    header, rows, _ = next(t for t in _tables(tokens) if "Rule" in t[0])
    assert header == ["VMID", "Name", "Rule", "Reason", "Until", "Coverage", "Problems"]
    assert len(rows) == 1
    row = rows[0]
    assert row[:3] == ["108", "lab", "vmid=108"]
    assert _text(row[3]) == "lab | throwaway <VM>"
    assert row[4] == "2026-12-31"
    assert row[5] == "`not_covered`"


def test_mermaid_pie(report_en: str) -> None:
    tokens = _parser().parse(report_en)
    fences = [t for t in tokens if t.type == "fence" and t.info == "mermaid"]
    assert len(fences) == 1
    lines = fences[0].content.splitlines()
    assert lines[0] == "pie title Coverage of 10 guests"
    values = {
        m[0]: int(m[1]) for m in (re.findall(r'"(.+)" : (\d+)', line)[0] for line in lines[1:])
    }
    assert values == {"covered": 6, "non_pbs_only": 1, "disabled_only": 2, "not_covered": 1}


def test_stats_come_last_after_the_marker(report_en: str) -> None:
    before, after = report_en.split(STATS_MARKER + "\n", 1)
    assert "## Collection statistics" in after
    assert "| API requests | 42 |" in after
    assert "| Collection time | 1.50 s |" in after
    assert "42" not in before.split("## Guests")[0].split("## Summary")[0]


def test_tls_not_verified_is_in_the_header() -> None:
    a = build(stats=CollectStats(tls_mode="not verified"))
    head = render_report(a, "OK").split("## ", 1)[0]
    assert "certificate verification is DISABLED" in head


# --------------------------------------------------------------------------- French


def test_french_report(report_fr: str) -> None:
    headings = re.findall(r"^#{1,3} (.+)$", report_fr, re.M)
    assert headings[0] == "Rapport de sauvegarde Proxmox VE : lab-cluster"
    for expected in (
        "Résumé",
        "À traiter",
        "Invités",
        "Tâches de sauvegarde",
        "Stockages PBS",
        "Anomalies",
        "Invités ignorés",
        "Statistiques de collecte",
        "Dernière sauvegarde en échec (`failed`) : 1",
    ):
        assert expected in headings
    for english in ("Summary", "Needs attention", "Guests", "Backup jobs", "Ignored guests"):
        assert english not in headings
    assert "**État global :** **`CRITICAL`** (critique)" in report_fr
    assert "**Heure d'évaluation (`--now`) :** 2026-11-20T12:00:00Z" in report_fr
    assert ADVICE["fr"]["failed"] in report_fr
    assert "Accorder `Pool.Audit`." in report_fr
    tokens = _parser().parse(report_fr)
    header, rows, _ = next(t for t in _tables(tokens) if "Serveur" in t[0])
    assert rows[1] == ["pbs-bare", "pbs2", "non spécifié", "non spécifié", "non spécifié",
                       "oui", "pve2", "-"]  # fmt: skip
    header, rows, _ = next(t for t in _tables(tokens) if "Fraîcheur" in t[0])
    web = dict(zip(header, next(r for r in rows if r[0] == "100"), strict=True))
    assert web["Couverture"] == "`covered` (couvert par une tâche PBS active)"
    assert web["Fraîcheur"] == "à jour"
    assert web["État"] == "démarré"
    assert web["Âge"] == "15 h 55 min"
    assert web["Dernier début"] == "2026-11-19T20:05:00Z"  # dates stay ISO
    header, rows, _ = next(t for t in _tables(tokens) if "Planification lisible" in t[0])
    daily = dict(zip(header, next(r for r in rows if r[0] == "daily"), strict=True))
    assert daily["Active"] == "oui"
    assert daily["Restriction de nœud"] == "tous"
    assert "21:00" in daily["Planification lisible"]
    broken = dict(zip(header, next(r for r in rows if r[0] == "broken"), strict=True))
    assert broken["Planification lisible"].startswith("invalide : ")
    assert _check_tables(report_fr) == 8


def test_languages_have_the_same_keys() -> None:
    assert TEXTS["en"].keys() == TEXTS["fr"].keys()
    assert ADVICE["en"].keys() == ADVICE["fr"].keys() == {p.value for p in Problem}
    assert COMPONENT_HINTS["en"].keys() == COMPONENT_HINTS["fr"].keys()
    for kind, labels in VALUE_LABELS["en"].items():
        assert labels.keys() == VALUE_LABELS["fr"][kind].keys(), kind
    assert VALUE_LABELS["en"]["coverage"].keys() == {c.value for c in Coverage}


def test_unknown_language_is_rejected(assessment: Assessment) -> None:
    with pytest.raises(ValueError, match="unsupported report language"):
        render_report(assessment, "OK", "de")


def test_same_data_in_both_languages(report_en: str, report_fr: str) -> None:
    def vmids(text: str) -> list[str]:
        return re.findall(r"^\| (\d+) \|", text, re.M)

    assert vmids(report_en) == vmids(report_fr)
    assert re.findall(r"UPID:[^`]+", report_en) == re.findall(r"UPID:[^`]+", report_fr)


# --------------------------------------------------------------------------- writing


def test_write_report_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text("old", encoding="utf-8")
    write_report(str(path), "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert os.listdir(tmp_path) == ["report.md"]


def test_interrupted_write_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.md"
    path.write_text("previous report", encoding="utf-8")

    def boom(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # killed between the write and the rename

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_report(str(path), "half-written new report")
    assert path.read_text(encoding="utf-8") == "previous report"
    assert os.listdir(tmp_path) == ["report.md"]  # no temp file left behind


def _deny_writes(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only directory; root ignores modes, so then the temp file creation fails."""
    directory.chmod(0o555)
    if os.geteuid() == 0:
        import tempfile

        def denied(*args: object, **kwargs: object) -> tuple[int, str]:
            raise PermissionError(errno.EACCES, "Permission denied", str(directory))

        monkeypatch.setattr(tempfile, "mkstemp", denied)


def test_report_hook_read_only_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assessment: Assessment
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    target = ro / "report.md"
    target.write_text("previous", encoding="utf-8")
    _deny_writes(ro, monkeypatch)
    try:
        hook = report_hook(str(target), "en", now_given=False)
        error = hook(assessment, nagiosplugin.Critical)
    finally:
        ro.chmod(0o755)
    assert error == f"report not written: cannot write {target}: Permission denied"
    assert "\n" not in error
    assert target.read_text(encoding="utf-8") == "previous"


def test_report_hook_missing_directory(tmp_path: Path, assessment: Assessment) -> None:
    target = tmp_path / "nope" / "report.md"
    error = report_hook(str(target), "en", now_given=False)(assessment, nagiosplugin.Ok)
    assert error is not None
    assert error.startswith(f"report not written: cannot write {target}: ")
    assert "No such file or directory" in error


def test_report_hook_writes_with_the_final_state(tmp_path: Path, assessment: Assessment) -> None:
    target = tmp_path / "r.md"
    hook = report_hook(str(target), "fr", now_given=True, clock=lambda: float(NOW + 60))
    assert hook(assessment, nagiosplugin.Warn) is None
    text = target.read_text(encoding="utf-8")
    assert "**État global :** **`WARNING`** (avertissement)" in text
    assert "**Généré le :** 2026-11-20T12:01:00Z" in text
    assert "**Heure d'évaluation (`--now`) :** 2026-11-20T12:00:00Z" in text


def test_report_hook_never_raises_on_a_rendering_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assessment: Assessment
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("oops")

    monkeypatch.setattr(report_mod, "render_report", broken)
    error = report_hook(str(tmp_path / "r.md"), "en", now_given=False)(assessment, nagiosplugin.Ok)
    assert error is not None and error.startswith("report not written: cannot render it")
    assert not (tmp_path / "r.md").exists()


def test_unwritable_report_makes_the_check_warning_not_lost(
    tmp_path: Path, assessment: Assessment
) -> None:
    """Through the real check: the coverage state stays, the report error is added."""
    target = tmp_path / "missing-dir" / "r.md"
    check = build_check(
        lambda: assessment,
        CheckOptions(thresholds={}, max_age_s=assessment.options.max_age_s),
        report_hook(str(target), "en", now_given=False),
    )
    check()
    assert check.state == nagiosplugin.Critical  # from the guests, not lowered
    texts = [str(r) for r in check.results]
    assert any(t.startswith("report not written: cannot write") for t in texts)


# --------------------------------------------------------------------------- action table


@pytest.mark.parametrize(("lang", "title"), [("en", "VMID"), ("fr", "VMID")])
def test_action_table_comes_first_worst_first_in_8_columns(
    assessment: Assessment, lang: str, title: str
) -> None:
    """Issue 14: the report leads with a short table of the guests needing action (at most
    8 columns: the 21-column guests table hides Result, Age and Freshness off-screen),
    critical-type problems first, failed before not covered, ignored guests left out."""
    text = render_report(assessment, "CRITICAL", lang)
    tokens = _parser().parse(text)
    header, rows, _ = next(_tables(tokens))  # the first table of the report
    assert header[0] == title and len(header) <= 8
    first_section = text.split("\n## ", 2)[1]
    assert first_section.startswith(TEXTS[lang]["action_title"])
    vmids = [int(r[0]) for r in rows]
    alerting = [g for g in assessment.guests if g.alerting]
    assert sorted(vmids) == sorted(g.guest.vmid for g in alerting)
    by_vmid = {g.guest.vmid: g for g in assessment.guests}
    ranks = [report_mod._severity_rank(by_vmid[v]) for v in vmids]
    assert ranks == sorted(ranks)  # critical-type problems first
    failed = [v for v in vmids if Problem.FAILED in by_vmid[v].problems]
    not_covered = [v for v in vmids if by_vmid[v].problems == (Problem.NOT_COVERED,)]
    if failed and not_covered:
        assert vmids.index(failed[-1]) < vmids.index(not_covered[0])
    assert all(by_vmid[v].ignored is None for v in vmids)


def test_action_table_when_nothing_needs_action(assessment: Assessment) -> None:
    calm = dataclasses.replace(
        assessment, guests=tuple(g for g in assessment.guests if not g.alerting)
    )
    text = render_report(calm, "OK", "fr")
    section = text.split("## " + TEXTS["fr"]["action_title"], 1)[1].split("\n## ", 1)[0]
    assert TEXTS["fr"]["action_none"] in section


def test_grant_hint_names_privilege_and_path_as_code() -> None:
    """The privilege and path of a 403 (``errors.ApiHttpError.missing_privilege``: "X on
    /path") are code; the joining words are the report's language."""
    tr = report_mod._Tr("fr")
    assert report_mod._grant("Sys.Audit on /nodes/<node>", tr) == (
        "Accorder `Sys.Audit` sur `/nodes/<node>`"
    )
    assert report_mod._grant("Datastore.Audit or Datastore.AllocateSpace on /storage", tr) == (
        "Accorder `Datastore.Audit` ou `Datastore.AllocateSpace` sur `/storage`"
    )
    assert report_mod._grant("Pool.Audit", tr) == "Accorder `Pool.Audit`"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "1.5 TiB of 8.0 TiB (18.8%)"), ("fr", "1,5 Tio sur 8,0 Tio (18,8 %)")],
)
def test_pbs_storage_space_with_the_language_decimal_sign(lang: str, expected: str) -> None:
    """Space as PVE's storage status gives it (pve-storage ``src/PVE/API2/Storage/Status.pm``
    ``read_status``: bytes), binary units, a decimal comma in French."""
    tib = 1024**4
    space = StorageSpace("pbs1", total=8 * tib, used=tib * 3 // 2, avail=tib * 13 // 2, active=True)
    tr = report_mod._Tr(lang)
    assert report_mod._space(space, tr) == expected
    assert report_mod._size(512, tr) == ("512 B" if lang == "en" else "512 o")
    inactive = StorageSpace("pbs1", 0, 0, 0, active=False)
    assert report_mod._space(inactive, tr) == TEXTS[lang]["space_inactive"]


def test_pve_text_as_code_stays_in_its_cell() -> None:
    """PVE's error texts are data shown as code: backticks, pipes and line breaks in them
    can neither end the code span nor split the table cell."""
    cell = report_mod._code_data("a `b` | c\nd ``e``")
    assert cell == "``` a `b` \\| c d ``e`` ```"
    table = "\n".join(report_mod._table(["H"], [[cell]]))
    _, rows, _ = next(_tables(_parser().parse(table)))
    assert len(rows) == 1 and len(rows[0]) == 1
