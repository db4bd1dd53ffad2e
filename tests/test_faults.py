"""Fault matrix: every endpoint the check uses × every way an answer can go wrong.

The scenario ``scenarios/faults.yaml`` is a healthy cluster (the check is OK) that makes
the check ask every endpoint, so each injected fault shows exactly what it changes.

For each cell the table says which state is right and which text must be shown, and every
cell also checks: no exception escapes the check (no traceback); nothing of the secret is
shown; whatever could be collected is still reported (perfdata ``guests_total``, and
``guests_covered`` when the fault does not touch coverage); the report file given to
``--report`` is either the new, complete report or the old content, never partial.

The big matrix runs in-process (the check's real collector, ``build_check`` and report
hook, against the simulator) and concurrently: most cells wait on sockets, not on the
CPU. A subset runs the real command line, and the time-bound tests hang each endpoint.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nagiosplugin
import pytest

from builders import scenario_file
from pve_backup_report import commands
from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.analysis.coverage import Coverage
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.output.check import CheckOptions, build_check
from pve_backup_report.output.report import STATS_MARKER, render_report, report_hook
from pve_backup_report.pipeline import RunOptions
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

HERE = Path(__file__).parent
NOW_TEXT = "2026-11-20T12:00:00Z"
NOW = parse_timestamp(NOW_TEXT)
SECRET = "canary-f4ults-5ecret"  # the token secret of faults.yaml
OLD_REPORT = "# an older report\n\nkept unless a complete new one replaces it\n"
REQUEST_TIMEOUT = 0.3  # in-process cells; a "timeout" fault waits longer than this
HANG_MS = 30_000  # the time-bound tests: far beyond any -t they use


def base_scenario() -> dict[str, Any]:
    data = scenario_file("faults")
    assert data["token"]["secret"] == SECRET
    return data


def with_faults(*faults: Mapping[str, Any]) -> dict[str, Any]:
    data = base_scenario()
    data["faults"] = [dict(f) for f in faults]
    return data


# --------------------------------------------------------------------------- the table

OK, WARNING, CRITICAL, UNKNOWN = "ok", "warning", "critical", "unknown"


# endpoint -> the path the fault is injected on (fnmatch: '*' also matches '/')
GLOBS = {
    "version": "/version",
    "nodes": "/nodes",
    "storage": "/storage",
    "resources": "/cluster/resources",
    "jobs": "/cluster/backup",
    "pools": "/pools",
    "not_backed_up": "/cluster/backup-info/not-backed-up",
    "cluster_status": "/cluster/status",
    "node_time": "/nodes/*/time",
    "vzdump_defaults": "/nodes/*/vzdump/defaults",  # asked: backup-prod has no storage
    "task_list": "/nodes/*/tasks",
    "task_log": "/nodes/*/tasks/*/log",
    "pbs_content": "/nodes/*/storage/*/content",
    "guest_config": "/nodes/*/*/*/config",  # notes: asked for the report and dumps only
}
ENDPOINTS = list(GLOBS)

# endpoint -> (right state when it cannot be read, text naming it, shown where:
#              "status" = in the status line, "long" = in the long output)
UNREADABLE: dict[str, tuple[str, str, str]] = {
    "version": (OK, "cannot read version", "long"),
    "nodes": (WARNING, "cannot read nodes", "status"),
    "storage": (UNKNOWN, "cannot read storages", "status"),
    "resources": (UNKNOWN, "cannot read guests", "status"),
    "jobs": (UNKNOWN, "cannot read backup jobs", "status"),
    "pools": (WARNING, "cannot read pools", "status"),
    "not_backed_up": (OK, "cannot read PVE's not-backed-up list", "long"),
    "cluster_status": (OK, "cannot read the cluster name", "long"),
    "node_time": (WARNING, "time zone of node(s) pve1, pve2 not readable", "status"),
    "vzdump_defaults": (WARNING, "vzdump defaults of node", "long"),
    "task_list": (WARNING, "task history of node pve1 not readable", "status"),
    "task_log": (WARNING, "task log of UPID:pve1:", "status"),
    "pbs_content": (WARNING, "content of PBS storage pbs-main not readable", "status"),
    "guest_config": (OK, "notes of 3 guest(s) not readable", "long"),
}

# endpoint -> (empty answer of the right type, right state, text in the status line)
EMPTY: dict[str, tuple[str, str, str | None]] = {
    "version": ("{}", OK, None),
    "nodes": ("[]", WARNING, "nodes"),
    "storage": ("[]", UNKNOWN, "storage"),  # jobs write to storages nobody can see
    "resources": ("[]", UNKNOWN, "no guest is visible"),
    "jobs": ("[]", CRITICAL, "3 guests not covered"),  # PVE says: no job at all
    "pools": ("[]", OK, None),  # the pool of backup-prod is asked for directly
    "not_backed_up": ("[]", OK, None),
    "cluster_status": ("[]", OK, None),
    "node_time": ("{}", WARNING, "time zone of node(s) pve1, pve2 not readable"),
    # {} is PVE's answer when no default is set: vzdump writes to 'local' there
    "vzdump_defaults": ("{}", WARNING, "1 guest backed up to non-PBS storage only (ct 102 dns)"),
    # no task visible, but PBS holds last night's snapshots: Sys.Audit on the node missing
    "task_list": ("[]", WARNING, "list no vzdump task although PBS holds backups"),
    "task_log": ("[]", WARNING, "unavailable (empty log)"),
    "pbs_content": ("[]", WARNING, "list no backups although tasks show successful ones"),
    "guest_config": ("{}", OK, None),
}

# asked in the first round: a 401 there means the token is refused, nothing else is read
FIRST_ROUND = {
    "version", "nodes", "storage", "resources", "jobs", "pools", "not_backed_up",
    "cluster_status",
}  # fmt: skip
# without these, coverage itself changes (guests_covered is not 3 any more)
COVERAGE_INPUTS = {"nodes", "storage", "resources", "jobs", "vzdump_defaults"}

FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "timeout": ({"delay_ms": 1500}, "no answer from 127.0.0.1"),
    "500": ({"status": 500, "message": "internal error"}, "500 internal error"),
    "502": ({"status": 502, "message": "Bad gateway"}, "502 Bad gateway"),
    "401": ({"status": 401, "message": "authentication failure"}, "401 authentication failure"),
    "403": (
        {"status": 403, "message": "Permission check failed (/, Sys.Audit)"},
        "403 Permission check failed (/, Sys.Audit)",
    ),
    "not_json": ({"body": "<html>Bad gateway</html>"}, "answer is not JSON"),
    "no_data": ({"no_data": True}, "JSON answer without a 'data' field"),
    "truncated": ({"truncate": True}, "truncated body"),
    "dropped": ({"drop": True}, "connection closed without an answer"),
    "595": (
        {
            "status": 595,
            "message": "Errors during connection establishment, proxy handler: No route to host",
        },
        "595 Errors during connection establishment",
    ),
    "empty": ({}, ""),  # the empty answer of the right type, see EMPTY
}

# Anomalies that only name what failed, not why (see test_anomaly_says_why).
_NO_REASON = {"node_time", "task_log", "guest_config"}


@dataclass(frozen=True)
class Expected:
    state: str
    text: str | None  # in the status line ("status") or anywhere in the output ("long")
    where: str
    reason: str | None  # the fault's own wording, anywhere in the output
    blind: bool  # the collection stops: no assessment, no perfdata, report untouched


def expected(endpoint: str, fault: str) -> Expected:
    if fault == "empty":
        _, state, text = EMPTY[endpoint]
        return Expected(state, text, "status", reason=None, blind=False)
    reason = FAULTS[fault][1]
    if fault == "401" and endpoint in FIRST_ROUND:
        # the token is refused: nothing else is worth reading
        return Expected(UNKNOWN, "PVE API not usable", "status", reason=reason, blind=True)
    state, text, where = UNREADABLE[endpoint]
    return Expected(
        state, text, where, reason=None if endpoint in _NO_REASON else reason, blind=False
    )


def _bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"BUG: {reason}")


KNOWN_BUGS: dict[tuple[str, str], pytest.MarkDecorator] = {}  # all fixed

CELLS = [(e, f) for e in ENDPOINTS for f in FAULTS]


def fault_of(endpoint: str, fault: str) -> dict[str, Any]:
    if fault == "empty":
        return {"path": GLOBS[endpoint], "body": f'{{"data":{EMPTY[endpoint][0]}}}'}
    return {"path": GLOBS[endpoint], **FAULTS[fault][0]}


# --------------------------------------------------------------------------- in-process runs


@dataclass
class Outcome:
    state: str
    status: str
    long: str
    perf: dict[str, str]
    report: str
    expected_report: str | None  # the complete report the run should have written
    error: str | None  # traceback of an exception that escaped the check

    @property
    def text(self) -> str:
        return f"{self.status}\n{self.long}"


def run_in_process(
    data: Mapping[str, Any], report: Path, need_notes: bool = True, timezone: str | None = None
) -> Outcome:
    """The check's own collector, evaluation and report hook against a simulator."""
    report.write_text(OLD_REPORT, encoding="utf-8")
    with Simulator(Scenario.from_dict(data)) as sim:
        settings = Settings(
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            request_timeout=REQUEST_TIMEOUT,
            max_workers=4,
            use_cache=False,
            timezone=timezone,
        )
        client = PveClient(settings)
        options = RunOptions(now=NOW, need_notes=need_notes, use_cache=False)
        hook = report_hook(str(report), "en", now_given=True, clock=lambda: NOW)
        seen: dict[str, Any] = {}

        def after(a: Assessment, state: nagiosplugin.state.ServiceState) -> str | None:
            seen["args"] = (a, state)
            return hook(a, state)

        check = build_check(
            commands._collector(settings, client, options),
            CheckOptions(settings.thresholds, settings.max_age_s, client.tls_mode),
            after,
        )
        error = None
        try:
            check()
        except Exception:
            error = traceback.format_exc()
        client.close()
    wanted = None
    if "args" in seen:
        a, state = seen["args"]
        wanted = render_report(a, state.text.upper(), "en", now_given=True, generated_at=NOW)
    perf = dict(p.split("=", 1) for p in check.perfdata)
    return Outcome(
        state=check.state.text,
        status=check.summary_str,
        long="\n".join(check.verbose_str),
        perf={k: v.split(";")[0] for k, v in perf.items()},
        report=report.read_text(encoding="utf-8"),
        expected_report=wanted,
        error=error,
    )


def run_all(jobs: Mapping[Any, Callable[[], Any]], workers: int) -> dict[Any, Any]:
    """Run independent callables concurrently; an exception is kept as its traceback."""

    def guarded(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception:
            return traceback.format_exc()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {k: pool.submit(guarded, fn) for k, fn in jobs.items()}
        return {k: f.result() for k, f in futures.items()}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    tmp = tmp_path_factory.mktemp("matrix")

    def job(endpoint: str, fault: str) -> Callable[[], Outcome]:
        return lambda: run_in_process(
            with_faults(fault_of(endpoint, fault)),
            tmp / f"{endpoint}-{fault}.md",
            need_notes=True,
        )

    return run_all({(e, f): job(e, f) for e, f in CELLS}, workers=12)


def test_baseline_is_ok(tmp_path: Path) -> None:
    out = run_in_process(base_scenario(), tmp_path / "r.md")
    assert out.error is None, out.error
    assert out.state == OK, out.status
    assert out.status == (
        "3 of 3 guests covered by active PBS backup jobs, all backups fresh [PLAIN HTTP, NO TLS]"
    )
    assert out.perf["guests_total"] == "3" and out.perf["guests_covered"] == "3"
    assert out.perf["anomalies"] == "0"
    assert out.report == out.expected_report


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [pytest.param(e, f, id=f"{e}-{f}", marks=KNOWN_BUGS.get((e, f), ())) for e, f in CELLS],
)
def test_fault_matrix(matrix: dict[tuple[str, str], Outcome], endpoint: str, fault: str) -> None:
    out = matrix[(endpoint, fault)]
    assert isinstance(out, Outcome), out  # else: the traceback of the harness
    want = expected(endpoint, fault)
    assert out.error is None, out.error
    assert "Traceback" not in out.text
    assert SECRET not in out.text + out.report
    assert out.state == want.state, f"{out.state}: {out.status}"
    if want.text is not None:
        shown = out.status if want.where == "status" else out.text
        assert want.text in shown, out.text
    if want.reason is not None:
        assert want.reason in out.text, out.text
    assert "\n" not in out.status and "|" not in out.status

    if want.blind:
        assert out.perf == {}
        assert out.report == OLD_REPORT
        return
    # everything that could be collected is still reported
    guests = 0 if endpoint == "resources" else 3
    assert out.perf["guests_total"] == str(guests)
    if endpoint not in COVERAGE_INPUTS:
        assert out.perf["guests_covered"] == "3"
    # the report is the complete new one (never partial, never the old one left behind)
    assert out.expected_report is not None
    assert out.report == out.expected_report
    assert out.report.endswith("\n") and STATS_MARKER in out.report


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        pytest.param("node_time", "403 Permission check failed", id="node_time"),
        pytest.param("task_log", "403 Permission check failed", id="task_log"),
    ],
)
def test_anomaly_says_why(tmp_path: Path, endpoint: str, reason: str) -> None:
    glob = GLOBS[endpoint]
    fault = {
        "path": glob,
        "status": 403,
        "message": "Permission check failed (/nodes/pve1, Sys.Audit)",
    }
    out = run_in_process(with_faults(fault), tmp_path / "r.md")
    assert out.state == WARNING
    assert reason in out.text and "Sys.Audit" in out.text


# --------------------------------------------------------------------------- whole-cluster faults


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 500, "message": "internal error"}, "500 internal error"),
        ({"drop": True}, "connection closed without an answer"),
        ({"body": "not json"}, "answer is not JSON"),
        # deeper than ``json`` recurses (its RecursionError, once an internal error)
        ({"body": "[" * 100_000 + "]" * 100_000}, "answer is not JSON"),
        ({"status": 401, "message": "authentication failure"}, "401 authentication failure"),
    ],
    ids=["500", "dropped", "not_json", "nested", "401"],
)
def test_nothing_readable_is_one_line_unknown(
    tmp_path: Path, fault: dict[str, Any], reason: str
) -> None:
    out = run_in_process(with_faults({"path": "/*", **fault}), tmp_path / "r.md")
    assert out.error is None, out.error
    assert out.state == UNKNOWN
    assert out.status.startswith("PVE API not usable: /")
    assert reason in out.status
    assert out.report == OLD_REPORT and out.perf == {}


def test_offline_node_keeps_the_rest(tmp_path: Path) -> None:
    """pve2 is down: its guest's history is unknown (WARNING), pve1's guests are judged.

    backup-prod gets an explicit storage here: the default of an offline node is not
    readable (see test_unknown_default_storage_makes_coverage_indeterminate); and the
    configured time zone stands in for the offline node's (else 21:30 is taken as UTC).
    """
    data = base_scenario()
    data["nodes"][1]["status"] = "offline"
    data["jobs"][1]["storage"] = "pbs-main"
    out = run_in_process(data, tmp_path / "r.md", timezone="Europe/Paris")
    assert out.error is None, out.error
    assert out.state == WARNING, out.status
    assert "node pve2 is offline: its task history is not readable" in out.text
    assert out.perf["guests_total"] == "3" and out.perf["guests_covered"] == "3"
    assert out.perf["backups_failed"] == "0" and out.perf["backups_stale"] == "0"
    assert out.report == out.expected_report


def test_unreadable_vzdump_defaults_are_named_per_node(tmp_path: Path) -> None:
    fault = {"path": "/nodes/*/vzdump/defaults", "status": 500, "message": "internal error"}
    out = run_in_process(with_faults(fault), tmp_path / "r.md")
    assert out.state == WARNING
    assert "vzdump defaults of node pve1 not readable (500 internal error)" in out.long
    assert "vzdump defaults of node pve2 not readable (500 internal error)" in out.long


@pytest.mark.parametrize(
    "case",
    ["defaults-500", "nodes-500", "pve2-offline"],
)
def test_unknown_default_storage_makes_coverage_indeterminate(case: str) -> None:
    data = base_scenario()
    if case == "defaults-500":
        data["faults"] = [{"path": "/nodes/*/vzdump/defaults", "status": 500, "message": "x"}]
    elif case == "nodes-500":
        data["faults"] = [{"path": "/nodes", "status": 500, "message": "internal error"}]
    else:
        data["nodes"][1]["status"] = "offline"
    with Simulator(Scenario.from_dict(data)) as sim:
        settings = Settings(
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            use_cache=False,
        )
        from pve_backup_report.pipeline import run_assessment

        a = run_assessment(settings, RunOptions(now=NOW, use_cache=False), PveClient(settings))
    dns = next(g for g in a.guests if g.guest.vmid == 102)
    assert dns.coverage is Coverage.INDETERMINATE, dns.reasons


# --------------------------------------------------------------------------- atomic report


def test_report_write_failure_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that dies half-way (disk full) leaves the old report and no temp file."""
    report = tmp_path / "report.md"
    real_fdopen = os.fdopen

    class Half:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def __enter__(self) -> Half:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

        def write(self, text: str) -> int:
            self._fh.write(text[: len(text) // 2])
            raise OSError(28, "No space left on device")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._fh, name)

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Half(real_fdopen(*a, **k)))
    out = run_in_process(base_scenario(), report)
    assert out.state == WARNING
    assert "report not written: cannot write" in out.status
    assert "No space left on device" in out.status
    assert out.report == OLD_REPORT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_report_keeps_a_private_mode(tmp_path: Path) -> None:
    report = tmp_path / "r.md"
    report.write_text(OLD_REPORT)
    report.chmod(0o640)
    with Simulator(Scenario.from_dict(base_scenario())) as sim:
        proc = cli(sim, "--report", str(report))
    assert proc.returncode == 0
    assert report.read_text() != OLD_REPORT
    assert stat.S_IMODE(report.stat().st_mode) == 0o640


def test_report_render_failure_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pve_backup_report.output.report as report_mod

    def broken(*args: Any, **kwargs: Any) -> str:
        raise KeyError("no such column")

    monkeypatch.setattr(report_mod, "render_report", broken)
    out = run_in_process(base_scenario(), tmp_path / "r.md")
    assert out.state == WARNING
    assert "report not written: cannot render it (KeyError" in out.status
    assert out.report == OLD_REPORT


# --------------------------------------------------------------------------- the real command line


def cli(
    sim: Simulator | None, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    full["XDG_CACHE_HOME"] = "/nonexistent-cache-dir"
    if sim is not None:
        full.update(
            PVE_HOST=sim.url, PVE_API_TOKEN_ID=sim.token_id, PVE_API_TOKEN_SECRET=sim.token_secret
        )
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", "--now", NOW_TEXT, "--no-cache", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
    )
    return proc


EXIT = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}

# A subset of the matrix through the real command line (exit code, status line, report).
CLI_CELLS = [
    ("resources", "empty"),
    ("jobs", "403"),
    ("storage", "dropped"),
    ("nodes", "not_json"),
    ("pools", "truncated"),
    ("version", "401"),
    ("task_list", "500"),
    ("task_log", "truncated"),
    ("pbs_content", "empty"),
    ("node_time", "595"),
    ("vzdump_defaults", "no_data"),
    ("guest_config", "500"),
]


@dataclass
class CliOutcome:
    proc: subprocess.CompletedProcess[str]
    report: str


@pytest.fixture(scope="module")
def cli_matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], CliOutcome]:
    tmp = tmp_path_factory.mktemp("cli")

    def job(endpoint: str, fault: str) -> Callable[[], CliOutcome]:
        def go() -> CliOutcome:
            report = tmp / f"{endpoint}-{fault}.md"
            report.write_text(OLD_REPORT, encoding="utf-8")
            data = with_faults(fault_of(endpoint, fault))
            with Simulator(Scenario.from_dict(data)) as sim:
                proc = cli(sim, "--report", str(report), env={"PVE_TIMEOUT": str(REQUEST_TIMEOUT)})
            return CliOutcome(proc, report.read_text(encoding="utf-8"))

        return go

    return run_all({c: job(*c) for c in CLI_CELLS}, workers=4)


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [pytest.param(e, f, id=f"{e}-{f}", marks=KNOWN_BUGS.get((e, f), ())) for e, f in CLI_CELLS],
)
def test_fault_through_the_command_line(
    cli_matrix: dict[tuple[str, str], CliOutcome], endpoint: str, fault: str
) -> None:
    out = cli_matrix[(endpoint, fault)]
    assert isinstance(out, CliOutcome), out
    proc, want = out.proc, expected(endpoint, fault)
    everything = proc.stdout + proc.stderr
    assert "Traceback" not in everything
    assert SECRET not in everything + out.report
    assert proc.returncode == EXIT[want.state], proc.stdout
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"PVE_BACKUP {want.state.upper()} - "), first
    if want.text is not None and want.where == "status":
        assert want.text in first
    assert first.count("|") == (0 if want.blind else 1)
    # never partial: either the old report or a complete new one
    if want.blind:
        assert out.report == OLD_REPORT
    else:
        assert out.report.startswith("# ") and STATS_MARKER in out.report
        assert out.report.endswith("\n")
        assert "guests_total=3;" in proc.stdout or endpoint == "resources"


def test_report_in_missing_directory_warns_and_keeps_the_state(tmp_path: Path) -> None:
    with Simulator(Scenario.from_dict(base_scenario())) as sim:
        proc = cli(sim, "--report", str(tmp_path / "missing" / "r.md"))
    assert proc.returncode == 1
    assert proc.stdout.startswith("PVE_BACKUP WARNING - report not written: cannot write ")
    assert "No such file or directory" in proc.stdout.splitlines()[0]
    assert not (tmp_path / "missing").exists()


# --------------------------------------------------------------------------- time bounds

CHECK_TIMEOUT = 3  # -t; the request timeout becomes max(1, -t - 2) = 1 s
SHORT_TIMEOUT = 2  # the request timeout stays 1 s

# hung endpoint -> (exit state, text in the status line naming it)
HANGS: dict[str, tuple[str, str]] = {
    "/version": (OK, "3 of 3 guests covered"),
    "/nodes": (WARNING, "cannot read nodes: no answer"),
    "/storage": (UNKNOWN, "cannot read storages: no answer"),
    "/cluster/resources": (UNKNOWN, "/cluster/resources"),
    "/cluster/backup": (UNKNOWN, "cannot read backup jobs: no answer"),
    "/pools": (WARNING, "cannot read pools: no answer"),
    "/cluster/backup-info/not-backed-up": (OK, "3 of 3 guests covered"),
    "/cluster/status": (OK, "3 of 3 guests covered"),
    "/nodes/*/time": (WARNING, "time zone of node(s) pve1, pve2 not readable"),
    "/nodes/*/vzdump/defaults": (WARNING, "1 guest with undeterminable coverage"),
    "/nodes/*/tasks": (WARNING, "task history of node pve1 not readable: no answer"),
    "/nodes/*/tasks/*/log": (WARNING, "task log of UPID:pve1:"),
    "/nodes/*/storage/*/content": (WARNING, "content of PBS storage pbs-main not readable"),
    "/nodes/*/*/*/config": (OK, "3 of 3 guests covered"),
    # everything hangs: no answer at all
    "/*": (UNKNOWN, "PVE API not usable: /"),
}
# what the long output (-v) must say about the slow endpoint
HANG_DETAIL = {
    "/version": "cannot read version: no answer",
    "/cluster/resources": "cannot read guests: no answer",
    "/cluster/backup-info/not-backed-up": "not-backed-up list (cross-check skipped): no answer",
    "/cluster/status": "cannot read the cluster name: no answer",
    "/nodes/*/vzdump/defaults": "vzdump defaults of node pve1 not readable (no answer",
    "/nodes/*/*/*/config": "notes of 3 guest(s) not readable",
}


@pytest.fixture(scope="module")
def hangs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliOutcome]:
    tmp = tmp_path_factory.mktemp("hangs")

    def job(glob: str, limit: int = CHECK_TIMEOUT) -> Callable[[], CliOutcome]:
        def go() -> CliOutcome:
            report = tmp / f"{uuid.uuid4().hex}.md"
            report.write_text(OLD_REPORT, encoding="utf-8")
            data = with_faults({"path": glob, "delay_ms": HANG_MS})
            with Simulator(Scenario.from_dict(data)) as sim:
                # the subprocess timeout only guards against a hang; that the run ended
                # by its own -t shows in its status line (no timing is asserted)
                proc = cli(sim, "-v", "-t", str(limit), "--report", str(report), timeout=60)
            return CliOutcome(proc, report.read_text(encoding="utf-8"))

        return go

    jobs: dict[str, Callable[[], CliOutcome]] = {g: job(g) for g in HANGS}
    # time zones, vzdump defaults, task lists: three rounds of 1 s add up past -t 2
    jobs["/nodes/*"] = job("/nodes/*", SHORT_TIMEOUT)
    return run_all(jobs, workers=4)


@pytest.mark.parametrize("glob", list(HANGS))
def test_hanging_endpoint_answers_within_the_timeout(
    hangs: dict[str, CliOutcome], glob: str
) -> None:
    out = hangs[glob]
    assert isinstance(out, CliOutcome), out
    state, text = HANGS[glob]
    proc = out.proc
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == EXIT[state], proc.stdout
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"PVE_BACKUP {state.upper()} - ")
    assert text in first
    if glob in HANG_DETAIL:
        assert HANG_DETAIL[glob] in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr + out.report
    assert out.report == OLD_REPORT or (out.report.endswith("\n") and STATS_MARKER in out.report)


def test_slow_rounds_adding_up_past_the_timeout_are_unknown(hangs: dict[str, CliOutcome]) -> None:
    """Every node endpoint hangs: each request gives up after 1 s, but time zones,
    defaults and task lists are asked one round after the other; -t stops the run and
    says what it was still waiting for."""
    out = hangs["/nodes/*"]
    assert isinstance(out, CliOutcome), out
    assert out.proc.returncode == 3, out.proc.stdout
    first = out.proc.stdout.splitlines()[0]
    prefix = f"PVE_BACKUP UNKNOWN - timeout: no complete answer within {SHORT_TIMEOUT}s"
    assert first.startswith(prefix), first
    assert "(still waiting for /nodes/pve" in first
    assert out.report == OLD_REPORT


@pytest.fixture(autouse=True)
def _no_real_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield
