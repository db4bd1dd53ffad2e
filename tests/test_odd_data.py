"""Odd but possible data: Unicode, '|', line breaks and empty strings in names, tags,
notes and messages; VMIDs written as strings; missing optional fields; items that are not
objects; out-of-range numbers; a 100,000-line task log; 10,000 guests in one pool.

The status line and the long output must keep their shape whatever the data: no '|'
except the perfdata separator, and one line per item.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from builders import backup, pbs_storage, scenario, scenario_file, sim_guest, sim_node, vzdump_job
from pve_backup_report import commands
from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.output.check import CheckOptions, build_check
from pve_backup_report.output.report import report_hook
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator, load_scenario

HERE = Path(__file__).parent
ODD = HERE / "scenarios" / "odd.yaml"
NOW_TEXT = "2026-11-20T12:00:00Z"
NOW = parse_timestamp(NOW_TEXT)


def cli(
    sim: Simulator, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    full.update(
        XDG_CACHE_HOME="/nonexistent-cache-dir",
        PVE_HOST=sim.url,
        PVE_API_TOKEN_ID=sim.token_id,
        PVE_API_TOKEN_SECRET=sim.token_secret,
    )
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", "--now", NOW_TEXT, "--no-cache", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert sim.token_secret not in proc.stdout + proc.stderr
    return proc


def settings_for(sim: Simulator, **kw: Any) -> Settings:
    return Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        use_cache=False,
        **kw,
    )


def check_in_process(
    data: Mapping[str, Any], report: Path | None = None, **kw: Any
) -> tuple[str, str, str, str | None]:
    """(state, status line, long output, report text) of the check run in-process."""
    with Simulator(Scenario.from_dict(data)) as sim:
        settings = settings_for(sim, **kw)
        client = PveClient(settings)
        options = RunOptions(now=NOW, need_notes=report is not None, use_cache=False)
        after = None if report is None else report_hook(str(report), "en", now_given=True)
        check = build_check(
            commands._collector(settings, client, options),
            CheckOptions(settings.thresholds, settings.max_age_s, client.tls_mode),
            after,
        )
        check()
    text = report.read_text(encoding="utf-8") if report is not None and report.exists() else None
    return check.state.text, check.summary_str, "\n".join(check.verbose_str), text


def base() -> dict[str, Any]:
    return scenario_file("faults")


# --------------------------------------------------------------------------- names, tags, notes


@pytest.fixture(scope="module")
def odd_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("odd")
    runs: dict[str, Sequence[str]] = {
        "default": [],
        "verbose": ["-v", "--report", str(tmp / "report.md")],
        "coverage": ["--dump-coverage"],
        "coverage-json": ["--dump-coverage", "--format", "json"],
        "inventory": ["--dump-inventory"],
        "inventory-json": ["--dump-inventory", "--format", "json"],
        "report-data": ["--dump-report-data"],
    }
    with Simulator(load_scenario(ODD)) as sim:

        def go(args: Sequence[str]) -> Callable[[], Any]:
            return lambda: cli(sim, *args)

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {k: pool.submit(go(v)) for k, v in runs.items()}
            out: dict[str, Any] = {k: f.result() for k, f in futures.items()}
    out["report"] = (tmp / "report.md").read_text(encoding="utf-8")
    return out


LABELS = {  # as the check shows them: '|' -> '/', line breaks and tabs -> one space
    100: "vm 100 wéb-ünïcødé-日本",
    101: "vm 101 pipe/name second",
    102: "ct 102 CT102",  # PVE names an unnamed container CT<vmid>
    103: "vm 103 tab here",
    104: "ct 104 emoji-🙂",
    105: "vm 105 nojob",
}


def test_status_line_keeps_its_shape(odd_runs: dict[str, Any]) -> None:
    proc = odd_runs["default"]
    assert proc.returncode == 2
    assert proc.stdout.count("\n") == 1  # one line at default verbosity
    assert proc.stdout.count("|") == 1  # the perfdata separator only
    status, perf = proc.stdout.split("|")
    assert status.startswith("PVE_BACKUP CRITICAL - 1 guest not covered (vm 105 nojob), ")
    assert (
        "3 failed backups (vm 100 wéb-ünïcødé-日本, vm 101 pipe/name second, ct 102 CT102)"
        in status
    )
    assert "2 guests never backed up (vm 103 tab here, ct 104 emoji-🙂)" in status
    assert "guests_total=6;" in perf and "guests_covered=5;" in perf  # "0100", "101;102", ...


def test_long_output_is_one_line_per_item(odd_runs: dict[str, Any]) -> None:
    lines = odd_runs["verbose"].stdout.splitlines()
    assert sum("|" in line for line in lines) == 1 and lines[-1].startswith("| ")
    body = lines[1:-1]
    for label in LABELS.values():
        mine = [line for line in body if line.startswith(label + " (node pve1)")]
        assert len(mine) == 1, (label, body)
    line = {vmid: next(x for x in body if x.startswith(label)) for vmid, label in LABELS.items()}
    assert "latest backup: failed at 2026-11-19T20:00:02Z (disk / full ✗ (ünïcødé))" in line[100]
    assert "(a/b/c)" in line[101]
    assert "no backup job includes it" in line[105]
    assert all("\t" not in x and "\r" not in x for x in lines)


def test_report_tables_keep_their_columns(odd_runs: dict[str, Any]) -> None:
    report: str = odd_runs["report"]
    assert "wéb-ünïcødé-日本" in report and "emoji-🙂" in report
    header_cells = None
    for line in report.splitlines():
        if not line.startswith("|"):
            header_cells = None
            continue
        assert line.endswith("|"), line
        cells = len(re.findall(r"(?<!\\)\|", line))
        if header_cells is None:
            header_cells = cells
        assert cells == header_cells, line
    assert "pipe\\|name second" in report  # escaped, and the line break is gone


def test_json_dumps_keep_the_data_exactly(odd_runs: dict[str, Any]) -> None:
    inv = json.loads(odd_runs["inventory-json"].stdout)
    guests = {g["vmid"]: g for g in inv["guests"]}
    assert guests[101]["name"] == "pipe|name\nsecond"
    assert guests[100]["notes"] == "line one | pipe\nline two\r\nline three"
    assert guests[100]["tags"] == ["prod", "a|b", "ünï"]
    assert guests[101]["tags"] == [] and guests[101]["notes"] == ""
    jobs = {j["id"]: j for j in inv["jobs"]}
    assert jobs["job-zero-padded"]["comment"] == "weird | comment\nwith a line break"
    cov = json.loads(odd_runs["coverage-json"].stdout)
    by_vmid = {g["vmid"]: g for g in cov["guests"]}
    assert by_vmid[100]["jobs"] == ["job-zero-padded"]  # vmid "0100"
    assert by_vmid[101]["jobs"] == by_vmid[102]["jobs"] == ["job-semicolons"]  # "101;102"
    assert by_vmid[103]["jobs"] == by_vmid[104]["jobs"] == ["job-blanks"]  # " 103 , 104 "
    assert by_vmid[105]["coverage"] == "not_covered"
    assert by_vmid[100]["last_backup"]["message"] == "disk | full ✗ (ünïcødé)"


def test_text_dumps_are_one_line_per_item(odd_runs: dict[str, Any]) -> None:
    for name in ("coverage", "inventory", "report-data"):
        text: str = odd_runs[name].stdout
        assert odd_runs[name].returncode == 0
        assert "\nsecond" not in text, name


# --------------------------------------------------------------------------- missing fields


def minimal(*, with_storage_content: bool = True) -> dict[str, Any]:
    """faults.yaml served as bare items: only the fields PVE always sends, or fewer."""
    upid = "UPID:pve1:000003E8:00989680:6AFF5540:vzdump::root@pam:"
    pbs: dict[str, Any] = {"storage": "pbs-main", "type": "pbs"}
    if with_storage_content:
        pbs["content"] = "backup"
    bodies: dict[str, Any] = {
        "/version": {},
        "/cluster/status": [{}],
        "/nodes": [{"node": "pve1", "status": "online"}, {"node": "pve2", "status": "online"}],
        "/storage": [pbs],
        "/cluster/resources": [
            {"vmid": 100, "type": "qemu", "node": "pve1"},
            {"vmid": 101, "type": "qemu", "node": "pve1"},
            {"vmid": 102, "type": "lxc", "node": "pve2"},
        ],
        # no enabled (legacy jobs), no type, no mode, no comment, no next-run
        "/cluster/backup": [
            {"id": "j1", "vmid": "100,101,102", "storage": "pbs-main", "schedule": "21:00"}
        ],
        "/pools": [],
        "/cluster/backup-info/not-backed-up": [],
        # a task item with nothing but its UPID (no status, no endtime: taken as running)
        "/nodes/pve1/tasks": [{"upid": upid}],
        "/nodes/pve2/tasks": [],
        "/nodes/*/time": {"timezone": "Europe/Paris"},
        "/nodes/*/vzdump/defaults": {},
        # snapshots with only volid, vmid, ctime and size (pve-storage
        # ``PBSPlugin::list_volumes`` always sends a size: 1 when PBS gave none, a
        # snapshot without manifest, which is not a finished backup)
        "/nodes/*/storage/*/content": [
            {"volid": f"pbs-main:backup/{kind}/{vmid}/{when}", "vmid": vmid,
             "ctime": parse_timestamp(when), "size": 4 * 1024**3}
            for kind, vmid, when in [("vm", 100, "2026-11-19T20:00:02Z"),
                                     ("vm", 101, "2026-11-19T20:02:03Z"),
                                     ("ct", 102, "2026-11-19T20:30:01Z")]
        ],
    }  # fmt: skip
    data = base()
    data["faults"] = [{"path": p, "body": json.dumps({"data": b})} for p, b in bodies.items()]
    return data


# pve2 lists no task while PBS holds last night's backup of its guest: the one warning
# left is the Sys.Audit trap (task lists are filtered, not refused)
HIDDEN = "node(s) pve2 list no vzdump task although PBS holds backups"


def test_missing_optional_fields(tmp_path: Path) -> None:
    state, status, long, report = check_in_process(minimal(), tmp_path / "r.md")
    assert state == "warning", (status, long)
    assert status.startswith(HIDDEN)
    assert "Anomalies (1):" in long
    assert report is not None and "| 100 |" in report


def test_pbs_storage_without_content_field_is_read(tmp_path: Path) -> None:
    state, status, long, _ = check_in_process(minimal(with_storage_content=False))
    assert state == "warning" and status.startswith(HIDDEN), (status, long)


# --------------------------------------------------------------------------- bad items


def _served(path: str, items: Any) -> dict[str, Any]:
    data = base()
    data["faults"] = [{"path": path, "body": json.dumps({"data": items})}]
    return data


def _storage_items() -> list[Any]:
    return [
        {"storage": "pbs-main", "type": "pbs", "server": "192.0.2.10", "datastore": "main",
         "content": "backup"},
        {"storage": "local", "type": "dir", "content": "iso,vztmpl,backup"},
    ]  # fmt: skip


def _job_items() -> list[Any]:
    return [
        {"id": "backup-daily", "type": "vzdump", "enabled": 1, "schedule": "21:00",
         "storage": "pbs-main", "vmid": "100,101"},
        {"id": "backup-prod", "type": "vzdump", "enabled": 1, "schedule": "21:30",
         "pool": "prod"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "items", "text"),
    [
        ("/cluster/resources", [None, "x", {"vmid": "abc", "type": "qemu", "node": "pve1"},
                                {"vmid": 100, "type": "qemu", "node": "pve1"},
                                {"vmid": 101, "type": "qemu", "node": "pve1"},
                                {"vmid": 102, "type": "lxc", "node": "pve2", "pool": "prod"}],
         "guests: 1 item(s) without the fields"),
        ("/nodes/*/tasks", [None, {"upid": "not a upid"}, {"upid": 5}],
         "3 malformed task item(s) on node pve1 ignored"),
        ("/nodes/*/tasks/*/log", [None, {"n": 1}, {"t": 5}], "unavailable (empty log)"),
        ("/nodes/*/storage/*/content", [None, {"volid": "x"}, {"vmid": "abc", "ctime": "x"},
                                        {"vmid": float("inf"), "ctime": 1}],
         "list no backups"),
        ("/cluster/backup-info/not-backed-up", [None, {"vmid": "x"}], None),
        ("/pools", [None, {"poolid": 5}], None),
        ("/nodes", [None, *base()["nodes"]], None),
    ],
    ids=["resources", "task-list", "task-log", "content", "not-backed-up", "pools", "nodes"],
)  # fmt: skip
def test_items_that_are_not_objects_are_skipped(path: str, items: Any, text: str | None) -> None:
    state, status, long, _ = check_in_process(_served(path, items))
    assert state in ("ok", "warning"), status
    if text is not None:
        assert text in status + long


@pytest.mark.parametrize(
    ("path", "items"),
    [
        ("/storage", [None, "pbs-main", *_storage_items()]),
        ("/cluster/backup", [None, 7, *_job_items()]),
    ],
    ids=["storage", "jobs"],
)
def test_items_that_are_not_objects_in_storages_and_jobs(path: str, items: Any) -> None:
    state, status, long, _ = check_in_process(_served(path, items))
    assert state == "warning", status
    assert "2 item(s) without the fields the analysis needs were skipped" in status + long


def test_infinite_next_run_does_not_crash() -> None:
    jobs = _job_items()
    jobs[0]["next-run"] = float("inf")
    state, status, _, _ = check_in_process(_served("/cluster/backup", jobs))
    assert state in ("ok", "warning"), status


def test_far_future_next_run_keeps_the_report(tmp_path: Path) -> None:
    jobs = _job_items()
    jobs[0]["next-run"] = 99_999_999_999_999
    _, status, _, report = check_in_process(_served("/cluster/backup", jobs), tmp_path / "r")
    assert "report not written" not in status
    assert report is not None


# --------------------------------------------------------------------------- a huge task log

LOG_LINES = 100_000


def huge_log_scenario() -> dict[str, Any]:
    """VM 101's section of last night's task fills 100,000 lines; 101 fails at the end."""
    data = base()
    task = data["tasks"][0]
    lines: list[str] = task["log"].splitlines()
    at = next(i for i, line in enumerate(lines) if "archive 'vm/101/" in line) + 1
    filler = [
        f"INFO: {n % 100:3d}% ({n} MiB of {LOG_LINES} MiB) in {n}s, read: 1 MiB/s, write: 1 MiB/s"
        for n in range(LOG_LINES - len(lines))
    ]
    lines[at:at] = filler
    end = next(i for i, line in enumerate(lines) if "Finished Backup of VM 101" in line)
    lines[end] = "ERROR: Backup of VM 101 failed - broken pipe"
    lines[-2] = "INFO: Backup job finished with errors"
    lines[-1] = "TASK ERROR: job errors"
    task["log"] = "\n".join(lines)
    task["status"] = "job errors"
    assert len(lines) == LOG_LINES
    return data


def assess_huge_log(**settings_kw: Any) -> Assessment:
    with Simulator(Scenario.from_dict(huge_log_scenario())) as sim:
        settings = settings_for(sim, **settings_kw)
        return run_assessment(settings, RunOptions(now=NOW, use_cache=False), PveClient(settings))


def _assert_huge_log_parsed(a: Assessment) -> None:
    by_vmid = {g.guest.vmid: g for g in a.guests}
    failed = by_vmid[101].last_backup
    assert failed is not None and failed.status == "failed"
    assert failed.message == "broken pipe"
    assert by_vmid[100].last_backup is not None and by_vmid[100].last_backup.status == "ok"
    assert [x for x in a.anomalies if x.component == "tasks"] == []


def test_huge_task_log_read_in_full() -> None:
    a = assess_huge_log(task_log_limit=0)  # 0: every line
    _assert_huge_log_parsed(a)


def test_huge_task_log_with_default_settings() -> None:
    a = assess_huge_log()
    _assert_huge_log_parsed(a)


# --------------------------------------------------------------------------- 10,000 guests

POOL_SIZE = 10_000
NEVER = 2_000  # guests of the pool without any backup


def big_pool_scenario() -> dict[str, Any]:
    """Ten thousand guests on two nodes (Paris) in pool ``big``, one job for the pool;
    all but the first ``NEVER`` backed up last night."""
    vmids = range(1000, 1000 + POOL_SIZE)
    return scenario(
        now=NOW_TEXT,
        secret="canary-b1g-p00l",
        privileges={"/": ["PVEAuditor"], "/storage/pbs-main": ["Datastore.Allocate"]},
        nodes=[
            sim_node("pve1", timezone="Europe/Paris"),
            sim_node("pve2", timezone="Europe/Paris"),
        ],
        storages=[pbs_storage("pbs-main", server="192.0.2.10", datastore="main", content=None)],
        pools=[{"poolid": "big", "comment": "ten thousand", "members": list(vmids)}],
        guests=[
            sim_guest(v, type="qemu" if v % 2 else "lxc", node=f"pve{1 + v % 2}", name=f"guest-{v}")
            for v in vmids
        ],
        jobs=[vzdump_job("backup-big", storage="pbs-main", enabled=1, pool="big")],
        backups=[
            backup(v, ctime=parse_timestamp("2026-11-19T20:30:00Z"), storage="pbs-main")
            for v in vmids[NEVER:]
        ],
    )


def test_ten_thousand_guests_in_one_pool() -> None:
    with Simulator(Scenario.from_dict(big_pool_scenario())) as sim:
        proc = cli(sim, "-v")
    lines = proc.stdout.splitlines()
    first = lines[0]
    assert proc.returncode == 1, first
    assert first.startswith(f"PVE_BACKUP WARNING - {NEVER} guests never backed up (")
    assert f", +{NEVER - 4})" in first
    assert len(first) < 300
    assert "|" not in first
    perf = lines[-1]
    assert f"guests_total={POOL_SIZE};" in perf and f"guests_covered={POOL_SIZE};" in perf
    assert f"backups_never={NEVER};" in perf
    # the long output fits Nagios Core's 8 KiB: the list ends with how many are left out
    assert len(proc.stdout.encode()) <= 8192
    shown = sum(line.startswith(("vm ", "ct ")) for line in lines)
    assert 10 < shown < NEVER
    assert f"... and {NEVER - shown} more (see --report or --dump-coverage)" in lines


@pytest.fixture(autouse=True)
def _cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_flags_read_as_pve_serves_them() -> None:
    """``_flag`` reads PVE's boolean strings as pve-common ``src/PVE/JSONSchema.pm``
    ``parse_boolean`` does (``1|on|yes|true`` true, ``0|off|no|false`` false, any case),
    and the API's JSON 0 and 1 and bools. Beyond PVE, our reading is lenient: blanks
    around a value are ignored, a value PVE would refuse (2, 0.0) counts as true, and a
    missing or empty one gives the default."""
    from pve_backup_report.collect.inventory import _flag

    cases = [(0, True, False), (1, False, True), ("0", True, False), ("1", False, True),
             (True, False, True), (False, True, False), (None, True, True), ("", False, False),
             ("off", True, False), ("yes", False, True), (2, False, True), (0.0, True, True),
             (" 0 ", True, False)]  # fmt: skip
    for value, default, expected in cases:
        assert _flag(value, default) is expected, (value, default)


def test_log_lines_taken_from_page_items() -> None:
    """A log page's ``t`` texts. pve-manager ``PVE/API2/Tasks.pm`` ``read_task_log``
    serves pve-common ``src/PVE/Tools.pm`` ``dump_logfile_by_filehandle``'s lines, each
    ``{ n => $count, t => $line }``: a string ``t`` is taken as it is; odd data (a line
    object without one, or with another type) as "", a non-object item skipped."""
    from pve_backup_report.collect.tasks import _lines

    class Item(dict[str, object]):
        pass

    assert _lines([{"n": 1, "t": "a"}, {"n": 2, "t": "b"}]) == ["a", "b"]
    assert _lines([{"t": "a"}, {"n": 2}, {"t": 3}, 5, {"t": "c"}]) == ["a", "", "", "c"]
    assert _lines([{"t": "a"}, None]) == ["a"]
    assert _lines([Item(t="x")]) == ["x"]
    assert _lines({"t": "a"}) == []
