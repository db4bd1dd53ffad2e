"""The check as Icinga runs it: a real process against the simulator over HTTP/HTTPS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from builders import basic, vzdump_job, vzdump_task
from pve_sim import Scenario, Simulator

HERE = Path(__file__).parent
BASIC = HERE / "scenarios" / "basic.yaml"
NOW = "2026-11-20T12:00:00Z"
CANARY = "canary-b4sic-5ecret"


def run(
    sim: Simulator | None, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    full_env["XDG_CACHE_HOME"] = full_env.get("PYTEST_CACHE_HOME", "/nonexistent-cache")
    if sim is not None:
        full_env.update(
            PVE_HOST=sim.url,
            PVE_API_TOKEN_ID=sim.token_id,
            PVE_API_TOKEN_SECRET=sim.token_secret,
        )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
    )
    assert CANARY not in proc.stdout + proc.stderr
    return proc


def perfdata(out: str) -> dict[str, str]:
    perf = out.split("|", 1)[1]
    return dict(item.split("=", 1) for item in perf.split())


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(Scenario.from_dict(basic()), tls=False) as s:
        yield s


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_CACHE_HOME", str(tmp_path / "cache"))


def test_status_line_names_worst_problems_first(sim: Simulator) -> None:
    proc = run(sim, "--now", NOW)
    assert proc.returncode == 2
    first = proc.stdout.splitlines()[0]
    assert first.startswith(
        "PVE_BACKUP CRITICAL - 1 guest not covered (vm 105 db2), 1 failed backup (vm 101 mail), "
    )
    assert "1 guest only in disabled jobs (ct 200 cache)" in first
    assert len(first.split("|")[0]) < 260
    perf = perfdata(proc.stdout)
    assert perf["guests_total"] == "6;;;0"
    assert perf["guests_covered"] == "3;;;0"
    assert perf["guests_not_covered"] == "1;;0;0"
    assert perf["backups_failed"] == "1;;0;0"
    assert perf["backups_stale"] == "1;0;;0"
    assert perf["guests_disabled_only"] == "1;0;;0"
    assert perf["guests_non_pbs_only"] == "1;0;;0"
    assert perf["jobs_enabled"] == "2;;;0" and perf["jobs_disabled"] == "1;;;0"
    assert perf["oldest_success_age"] == "316799s;691200;1296000;0"
    assert perf["anomalies"] == "0;;;0"
    # 16 + /access/permissions (analysis/privileges.py) + the log of pve1's run of the 18th (named
    # by VMID 100 alone, it left out 101, which lacks a success: collect/tasks.py reads it)
    assert int(perf["api_requests"].split(";")[0]) <= 18
    for key in ("guests_ignored", "guests_indeterminate", "backups_never", "verify_failed",
                "collect_time"):  # fmt: skip
        assert key in perf


def test_long_output_lists_every_problem_guest(sim: Simulator) -> None:
    proc = run(sim, "--now", NOW, "-v")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("PVE_BACKUP CRITICAL - ")
    body = "\n".join(lines[1:])
    for label in ("vm 101 mail", "ct 102 dns", "vm 105 db2", "ct 200 cache", "vm 300 scratch"):
        assert label in body
    assert "qmp command 'backup' failed - got timeout" in body
    assert lines[-1].startswith("| ")
    assert sum("|" in line for line in lines) == 1


def test_thresholds_and_ignore_rules(sim: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "ignore": [
                    {"vmid": 105, "reason": "scratch VM, agreed"},
                    {"name": "scr*", "reason": "test"},
                    {"tag": "never-used", "reason": "x", "until": "2020-01-01"},
                ],
                "thresholds": {"crit_failed": "", "warn_failed": "0"},
            }
        )
    )
    proc = run(sim, "--now", NOW, "--config", str(cfg), "--warn-disabled-only", "")
    first = proc.stdout.splitlines()[0]
    assert proc.returncode == 1, proc.stdout
    assert first.startswith("PVE_BACKUP WARNING - 1 failed backup (vm 101 mail), 1 stale backup")
    assert "db2" not in first and "cache" not in first
    perf = perfdata(proc.stdout)
    assert perf["guests_ignored"] == "2;;;0"
    assert perf["guests_not_covered"] == "0;;0;0"
    assert perf["backups_failed"] == "1;0;;0"
    assert perf["anomalies"] == "1;;;0"  # the expired rule, as info


def test_guest_only_in_disabled_job_with_old_backup_warns() -> None:
    data = basic(jobs=[vzdump_job("old", storage="pbs-main", enabled=0, all=1)], tasks=[])
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "--crit-not-covered", "", "--dump-coverage", "--format", "json")
        assert proc.returncode == 0
        assert '"disabled_only"' in proc.stdout
        proc = run(s, "--now", NOW)
    assert proc.returncode == 1
    assert proc.stdout.startswith("PVE_BACKUP WARNING - 6 guests only in disabled jobs (")


def test_missing_sys_audit_is_unknown_not_ok() -> None:
    data = basic()
    data["token"]["privileges"] = {"/": ["VM.Audit", "Datastore.Audit", "Pool.Audit"]}
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW)
    assert proc.returncode == 3
    assert proc.stdout.startswith("PVE_BACKUP UNKNOWN - cannot read backup jobs: 403 Permission")
    assert "Sys.Audit" in proc.stdout.splitlines()[0]
    perf = perfdata(proc.stdout)  # without the jobs no guest is called "not covered"
    assert perf["guests_not_covered"] == "0;;0;0"
    assert perf["guests_indeterminate"] == "6;0;;0"


def test_missing_vm_audit_never_says_ok() -> None:
    data = basic()
    data["token"]["privileges"] = {"/": ["Sys.Audit", "Datastore.Audit", "Pool.Audit"]}
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW)
    assert proc.returncode != 0
    assert "VM.Audit" in proc.stdout


def test_unreachable_api_is_one_line_unknown() -> None:
    proc = run(
        None,
        "--now",
        NOW,
        env={"PVE_HOST": "http://127.0.0.1:9", "PVE_API_TOKEN_ID": "a@pve!b",
             "PVE_API_TOKEN_SECRET": CANARY},
    )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stdout.strip().count("\n") == 0
    assert re.match(r"PVE_BACKUP UNKNOWN - PVE API not usable: .*127\.0\.0\.1:9", proc.stdout)
    assert "Traceback" not in proc.stdout + proc.stderr


def test_hanging_endpoint_returns_within_timeout_and_names_it() -> None:
    """The endpoint answers after 30 s; ``-t 4`` ends the run first (the status line says
    so), and no timing is measured here (the run's own bound is ``run``'s timeout)."""
    data = basic(faults=[{"path": "/cluster/resources", "delay_ms": 30000}])
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "-t", "4")
    assert proc.returncode == 3
    assert "/cluster/resources" in proc.stdout.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "env", "text"),
    [
        (["--warn-stale", "5:1"], {}, "invalid range"),
        (["--max-age", "2d,1d"], {}, "critical age must not be smaller"),
        (["--bogus"], {}, "unrecognized arguments"),
        ([], {"PVE_TIMEOUT": "soon"}, "PVE_TIMEOUT (environment): must be a number"),
        ([], {"PVE_HOST": ""}, "no PVE host"),
        (["--config", "/nonexistent.yaml"], {}, "cannot read config file"),
    ],
)
def test_bad_input_is_one_clear_line_exit_3(
    sim: Simulator, args: list[str], env: dict[str, str], text: str
) -> None:
    proc = run(sim, *args, env=env)
    assert proc.returncode == 3
    assert text in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_help_and_version_exit_3() -> None:
    proc = run(None, "--help")
    assert proc.returncode == 3 and "--check-api" in proc.stdout
    proc = run(None, "-V")
    assert proc.returncode == 3 and re.match(r"check_pve_backup \d+\.\d+\.\d+", proc.stdout)


def test_check_api_shows_403_and_counts_everything_else() -> None:
    data = basic(faults=[{"path": "/cluster/backup", "status": 403,
                          "message": "Permission check failed (/, Sys.Audit)"}])  # fmt: skip
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--check-api")
    assert proc.returncode == 1
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("/")}
    assert "FAILED" in lines["/cluster/backup"]
    assert "403 Permission check failed (/, Sys.Audit)" in lines["/cluster/backup"]
    assert "the token lacks Sys.Audit on /" in lines["/cluster/backup"]
    for endpoint, count in (("/nodes", 2), ("/storage", 2), ("/cluster/resources", 6)):
        assert re.search(rf"OK\s+{count}\s+\d+", lines[endpoint]), lines[endpoint]


def test_https_with_ca_bundle_pin_and_insecure() -> None:
    with Simulator(Scenario.from_dict(basic()), tls=True) as s:
        proc = run(s, "--now", NOW)
        assert proc.returncode == 3 and "TLS verification of 127.0.0.1" in proc.stdout
        proc = run(s, "--now", NOW, env={"PVE_CA_BUNDLE": str(s.ca_path)})
        assert proc.returncode == 2
        proc = run(s, "--now", NOW, env={"PVE_TLS_FINGERPRINT": str(s.fingerprint)})
        assert proc.returncode == 2
        proc = run(s, "--now", NOW, env={"PVE_TLS_FINGERPRINT": ":".join(["00"] * 32)})
        assert proc.returncode == 3
        assert proc.stdout.startswith("PVE_BACKUP UNKNOWN - PVE API not usable: /version: ")
        # where the pin came from, and what to pin instead
        assert "does not match the fingerprint pinned by PVE_TLS_FINGERPRINT (environment)" in (
            proc.stdout
        )
        assert f"; the server presented {s.fingerprint}\n" in proc.stdout
        proc = run(s, "--now", NOW, "--tls-fingerprint", ":".join(["00"] * 32))
        assert "pinned by --tls-fingerprint (Icinga: vars.pve_backup_tls_fingerprint)" in (
            proc.stdout
        )
        proc = run(s, "--now", NOW, env={"PVE_VERIFY_TLS": "false"})
        assert proc.returncode == 2 and "[TLS NOT VERIFIED]" in proc.stdout.splitlines()[0]


def test_plain_http_is_marked_in_the_status_line(sim: Simulator) -> None:
    proc = run(sim, "--now", NOW, "-v")
    first, *long = proc.stdout.splitlines()
    assert first.endswith(" [PLAIN HTTP, NO TLS]")
    assert (
        "plain HTTP: the token and the answers travel unencrypted "
        "(http:// host in PVE_HOST (environment))"
    ) in long


def test_configuration_errors_carry_the_check_prefix(sim: Simulator) -> None:
    """Icinga shows the first line: every UNKNOWN starts like the check's own lines."""
    for args, env in (
        ([], {"PVE_HOST": ""}),
        (["--bogus"], {}),
        ([], {"PVE_VERIFY_TLS": "/etc/pve/pve-root-ca.pem"}),
    ):
        proc = run(sim, *args, env=env)
        assert proc.returncode == 3
        assert proc.stdout.startswith("PVE_BACKUP UNKNOWN - "), proc.stdout
    assert "set PVE_CA_BUNDLE to '/etc/pve/pve-root-ca.pem'" in proc.stdout


def test_dead_then_alive_host(sim: Simulator) -> None:
    """A dead first host is tried once per run, not again for every request."""
    proc = run(sim, "--now", NOW, "--no-cache")
    single = int(perfdata(proc.stdout)["api_requests"].split(";")[0])
    served = sim.stats.requests
    sim.reset_stats()
    proc = run(sim, "--now", NOW, "--no-cache", env={"PVE_HOST": f"http://127.0.0.1:9,{sim.url}"})
    assert proc.returncode == 2
    assert sim.stats.requests == served  # the same answers from the live host
    assert perfdata(proc.stdout)["api_requests"].split(";")[0] == str(single + 1)


def test_secret_never_printed_at_any_verbosity(sim: Simulator) -> None:
    for extra in ([], ["-v"], ["-vv"], ["-vvv"], ["--dump-report-data"], ["--dump-inventory"]):
        run(sim, "--now", NOW, *extra)  # run() asserts the canary is absent


def test_explain_schedule_json() -> None:
    proc = run(None, "--explain-schedule", "mon..fri 02:00", "--now", NOW, "--tz",
               "Europe/Paris", "--count", "2", "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    # Mon 2026-11-23 and Tue 2026-11-24, 02:00 Paris = 01:00Z; previous: Fri 01:00Z
    assert '"next": [1795395600, 1795482000], "previous": 1795136400' in proc.stdout
    proc = run(None, "--explain-schedule", "mon-fri", "--format", "json")
    assert proc.returncode == 3


def test_old_pve_log_only_reachable_by_paging(tmp_path: Path) -> None:
    """PVE before 7.3 answers limit=0 with no lines: the client must page with a limit."""
    data = basic(version={"version": "7.2.4", "release": "7.2", "repoid": "old"})
    long_log = ["INFO: starting new backup job: vzdump 100 --mode snapshot --storage pbs-main"]
    long_log += [f"INFO: progress line {i}" for i in range(1200)]
    long_log += [
        "INFO: Starting Backup of VM 100 (qemu)",
        "INFO: Backup started at 2026-11-19 21:30:00",
        "INFO: creating Proxmox Backup Server archive 'vm/100/2026-11-19T20:30:00Z'",
        "INFO: Finished Backup of VM 100 (00:00:30)",
        "INFO: Backup finished at 2026-11-19 21:30:30",
        "INFO: Backup job finished successfully",
        "TASK OK",
    ]
    data["tasks"] = [
        vzdump_task(vmids=[100], start="2026-11-19T20:30:00Z", end="2026-11-19T20:30:30Z",
                    log="\n".join(long_log)),
    ]  # fmt: skip
    for env in ({"PVE_TASK_LOG_LIMIT": "0"}, {}):
        with Simulator(Scenario.from_dict(data), tls=False) as s:
            proc = run(s, "--now", NOW, "--dump-coverage", "--format", "json", env=env)
            logs = sum(n for path, n in s.stats.per_path.items() if path.endswith("/log"))
        assert proc.returncode == 0, proc.stdout
        guests = {g["vmid"]: g for g in yaml.safe_load(proc.stdout)["guests"]}
        assert guests[100]["last_backup"]["status"] == "ok"
        assert guests[100]["last_backup"]["duration_s"] == 30
        # the client never sends limit=0 (which gives no line before PVE 7.3): a page of
        # 50,000 lines reads this log in one request on any version
        assert logs == 1


def test_success_known_only_from_pbs_says_where_its_age_comes_from(sim: Simulator) -> None:
    """ct 102's only task (2026-11-16) is outside a 2-day history; its PBS snapshot is the
    success the age belongs to."""
    proc = run(sim, "--now", NOW, "-v", "--history-days", "2")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("ct 102 dns"))
    assert (
        "latest backup: none in the task history; latest success: 2026-11-16T20:00:01Z "
        "(PBS snapshot on pbs-main, no task in the history); age: 3d 15h"
    ) in line


def test_no_known_success_leaves_the_age_out_of_perfdata() -> None:
    """0 would look perfectly fresh on a graph."""
    data = basic(tasks=[], backups=[])
    data["jobs"] = [j for j in data["jobs"] if j["id"] == "backup-old"]
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW)
    perf = perfdata(proc.stdout)
    assert "oldest_success_age" not in perf
    assert perf["guests_total"] == "6;;;0"


def test_ok_within_thresholds_does_not_claim_all_backups_fresh(sim: Simulator) -> None:
    off = ["--crit-not-covered", "", "--crit-failed", "", "--warn-disabled-only", ""]
    off += ["--warn-non-pbs-only", "", "--warn-stale", ""]
    proc = run(sim, "--now", NOW, *off)
    assert proc.returncode == 0
    status = proc.stdout.split(" | ")[0]
    assert status.startswith(
        "PVE_BACKUP OK - 3 of 6 guests covered by active PBS backup jobs; within thresholds: "
        "1 guest not covered (vm 105"
    )
    for part in ("1 failed backup", "1 guest only in disabled jobs", "1 stale backup"):
        assert part in status
    assert "fresh" not in status


def test_dump_inventory_shows_the_effective_vzdump_default_storage() -> None:
    """Every job of basic.yaml names its storage, so the check does not ask the node
    defaults; the inventory dump does, and shows what PVE uses: pve-manager
    ``PVE/API2/VZDump.pm`` ``defaults`` answers ``storage: local`` when vzdump.conf sets
    neither storage nor dumpdir (pve1 here), else the configured storage (pve2)."""
    data = basic()
    data["nodes"][1]["vzdump_defaults"] = {"storage": "pbs-main"}
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--dump-inventory")
        js = run(s, "--dump-inventory", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[:8] if line}
    assert rows["pve1"][-1] == "local" and rows["pve2"][-1] == "pbs-main"
    doc = json.loads(js.stdout)
    assert doc["node_default_storage"] == {"pve1": "local", "pve2": "pbs-main"}
