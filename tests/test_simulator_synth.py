"""The log synthesiser and the bundled demo cluster (its story must stay true)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from conftest import SimGet
from pve_sim import Scenario, Simulator
from pve_sim.scenario import load_scenario
from pve_sim.synth import (
    BackupTarget,
    GuestRun,
    demo_yaml,
    dump_scenario,
    task_entry,
    vzdump_command,
    vzdump_run,
)
from pve_sim.tasklog import read_status
from pve_sim.timeutil import epoch_to_iso_z, parse_time

START = parse_time("2026-11-19T20:00:01Z")  # 21:00:01 in Paris
PBS = BackupTarget("pbs-main", server="192.0.2.10", datastore="main", namespace="prod",
                   username="backup@pbs!pve")  # fmt: skip
NOW = 1795176000


def run(*guests: GuestRun, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "node": "pve1",
        "timezone": "Europe/Paris",
        "start": START,
        "command": "vzdump --all 1 --storage pbs-main",
        "guests": guests,
        "target": PBS,
    }
    args.update(kw)
    return vzdump_run(**args)


def test_successful_multi_guest_run() -> None:
    result = run(GuestRun(200, "lxc", "dns"), GuestRun(100, "qemu", "web"), external=[301, 105])
    lines = result.lines
    assert lines[0] == "INFO: starting new backup job: vzdump --all 1 --storage pbs-main"
    assert lines[1] == "INFO: skip external VMs: 105, 301"
    starts = [line for line in lines if line.startswith("INFO: Starting Backup of VM")]
    assert starts == [
        "INFO: Starting Backup of VM 100 (qemu)",
        "INFO: Starting Backup of VM 200 (lxc)",
    ]
    assert lines[3] == "INFO: Backup started at 2026-11-19 21:00:02"  # node local time
    assert "INFO: creating Proxmox Backup Server archive 'vm/100/2026-11-19T20:00:02Z'" in lines
    assert any(
        re.fullmatch(r"INFO: Finished Backup of VM 100 \(\d\d:\d\d:\d\d\)", x) for x in lines
    )
    assert "INFO: CT Name: dns" in lines
    assert any("--ns prod" in x for x in lines) and any("[prod]:ct/200/" in x for x in lines)
    assert lines[-2:] == ("INFO: Backup job finished successfully", "TASK OK")
    assert result.status == "OK" == read_status(lines)
    web, dns = result.snapshots
    assert (web.vmid, web.ctime) == (100, START + 1)
    assert (
        f"INFO: creating Proxmox Backup Server archive 'ct/200/{epoch_to_iso_z(dns.ctime)}'"
        in lines
    )
    finished = [x for x in lines if x.startswith("INFO: Backup finished at ")]
    assert len(finished) == 2 and result.endtime > dns.ctime


def test_failed_guest_and_warnings() -> None:
    result = run(
        GuestRun(100, "qemu", "web", error="VM 100 qmp command 'backup' failed - got timeout"),
        GuestRun(101, "qemu", "app", warnings=("no efidisk configured!",)),
    )
    lines = result.lines
    assert (
        "ERROR: Backup of VM 100 failed - VM 100 qmp command 'backup' failed - got timeout" in lines
    )
    assert any(x.startswith("INFO: Failed at 2026-11-19 21:0") for x in lines)
    assert "WARN: no efidisk configured!" in lines
    assert lines[-3:] == ("INFO: Backup job finished with errors", "", "TASK ERROR: job errors")
    assert (result.status, result.failed) == ("job errors", (100,))
    assert [s.vmid for s in result.snapshots] == [101]
    warned = run(GuestRun(101, "qemu", "app", warnings=("a", "b")))
    assert warned.lines[-1] == "TASK WARNINGS: 2" and warned.status == "WARNINGS: 2"


def test_transfer_failure_stops_part_way() -> None:
    result = run(
        GuestRun(107, "qemu", "files", error="job failed with err -5", error_stage="transfer")
    )
    progress = [x for x in result.lines if re.match(r"INFO: +\d+% \(", x)]
    assert progress and not any(x.startswith("INFO: 100%") for x in progress)
    assert result.lines.index("ERROR: job failed with err -5") > result.lines.index(progress[-1])


def test_job_level_failure_has_no_guest_lines() -> None:
    result = run(GuestRun(100, "qemu", "web"), job_error="could not activate storage 'pbs-main': x")
    assert result.lines == ("TASK ERROR: could not activate storage 'pbs-main': x",)
    assert result.status == "could not activate storage 'pbs-main': x" == read_status(result.lines)
    assert result.snapshots == ()


def test_lock_wait_comes_first_and_moves_the_guests() -> None:
    plain = run(GuestRun(100, "qemu", "web"))
    waited = run(GuestRun(100, "qemu", "web"), lock_wait=600)
    assert waited.lines[:2] == (
        "INFO: trying to get global lock - waiting...",
        "INFO: got global lock",
    )
    assert waited.lines[2].startswith("INFO: starting new backup job: vzdump")
    assert waited.starts == ((100, START + 601),) and plain.starts == ((100, START + 1),)
    assert (waited.starttime, waited.endtime) == (START, plain.endtime + 600)
    assert waited.lines[2:] != plain.lines  # the times in the log moved
    assert not any("global lock" in x for x in plain.lines)


def test_lock_timeout_leaves_no_task_line() -> None:
    error = "can't acquire lock '/var/run/vzdump.lock' - got timeout"
    result = run(GuestRun(100, "qemu", "web"), job_error=error, lock_wait=10800)
    assert result.lines == ("INFO: trying to get global lock - waiting...", f"ERROR: {error}")
    assert result.status == "unexpected status" == read_status(result.lines)
    assert result.endtime == START + 10801 and result.snapshots == ()
    failed = run(GuestRun(100, "qemu", "web"), job_error="could not activate storage", lock_wait=9)
    assert failed.lines[-1] == "TASK ERROR: could not activate storage"
    assert failed.lines[:2] == (
        "INFO: trying to get global lock - waiting...",
        "INFO: got global lock",
    )


def test_dir_target_and_stop_mode() -> None:
    local = BackupTarget("local", "dir", path="/var/lib/vz")
    result = run(
        GuestRun(113, "qemu", "ts"), GuestRun(205, "lxc", "wiki"), target=local, mode="stop"
    )
    text = "\n".join(result.lines)
    assert "/var/lib/vz/dump/vzdump-qemu-113-2026_11_19-21_00_02.vma.zst'" in text
    assert "vzdump-lxc-205-" in text and "tar.zst'" in text
    assert "INFO: stopping virtual guest" in result.lines and "INFO: restarting vm" in result.lines


def test_runs_are_deterministic() -> None:
    one = run(GuestRun(100, "qemu", "web"), GuestRun(200, "lxc", "dns"))
    assert one == run(GuestRun(100, "qemu", "web"), GuestRun(200, "lxc", "dns"))
    assert one.lines != run(GuestRun(100, "qemu", "web"), GuestRun(200, "lxc", "dns"),
                            start=START + 86400).lines  # fmt: skip


def test_vzdump_command() -> None:
    """Values are quoted by pve-common ``PVE::Tools::shellquote`` (String::ShellQuote, which
    also quotes a lone value holding ``=``), as guest-common ``VZDump::Common::command_line``
    writes them."""
    job = {"id": "x", "vmid": "100,101", "mode": "stop", "storage": "local",
           "notes-template": "{{guestname}}", "prune-backups": {"keep-last": "3"}}  # fmt: skip
    assert vzdump_command(job) == (
        "vzdump 100 101 --mode stop --notes-template '{{guestname}}' "
        "--prune-backups 'keep-last=3' --storage local --notification-mode auto"
    )
    notes = {"vmid": "7", "notes-template": "{{guestname}} (team's copy) keep 2 weeks"}
    assert vzdump_command(notes) == (
        "vzdump 7 --notes-template '{{guestname}} (team'\\''s copy) keep 2 weeks' "
        "--notification-mode auto"
    )
    assert vzdump_command({"all": 1, "exclude": "105", "node": "pve3"}) == (
        "vzdump --all 1 --exclude 105 --node pve3 --notification-mode auto"
    )


def test_task_entries_are_valid_scenario_tasks() -> None:
    result = run(GuestRun(100, "qemu", "web"))
    done = task_entry("pve1", "vzdump", START, end=result.endtime, log=result.log,
                      task_id="100", pid=4242, pstart=123456)  # fmt: skip
    busy = task_entry("pve1", "vncproxy", START, end=None, log="", pid=1, pstart=2)
    scenario = Scenario.from_dict({"nodes": [{"node": "pve1"}], "tasks": [done, busy]})
    finished, running = scenario.tasks
    assert finished.upid == f"UPID:pve1:00001092:0001E240:{START:08X}:vzdump:100:root@pam:"
    assert (finished.status, finished.endtime) == ("OK", result.endtime)
    assert running.running


def test_dump_scenario_round_trips_and_uses_blocks_for_logs() -> None:
    data = {"now": "2026-11-20T12:00:00Z", "nodes": [{"node": "pve1"}],
            "tasks": [{"node": "pve1", "type": "x", "starttime": 1, "log": "a\n\nTASK OK"}],
            "pools": [{"poolid": "p", "members": [100, 101]}]}  # fmt: skip
    text = dump_scenario(data, "line one\nline two")
    assert text.startswith("# line one\n# line two\n")
    assert yaml.safe_load(text) == data
    assert "log: |-\n" in text and "members: [100, 101]" in text


def test_the_written_demo_is_the_demo_loaded() -> None:
    """The demo is built when loaded (nothing generated is committed); its YAML, as
    ``--write-demo`` writes it, loads back to the same cluster."""
    written = Scenario.from_dict(yaml.safe_load(demo_yaml()))
    loaded = load_scenario("demo")
    assert written.now == loaded.now
    assert [g.vmid for g in written.guests] == [g.vmid for g in loaded.guests]
    assert [t.upid for t in written.tasks] == [t.upid for t in loaded.tasks]
    assert [written.task_log(t) for t in written.tasks] == [
        loaded.task_log(t) for t in loaded.tasks
    ]


# -- the demo's story --------------------------------------------------------------------------


def get(sim_get: SimGet, sim: Simulator, path: str, /, **params: Any) -> Any:
    response = sim_get(sim, path, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def daily_tasks(sim_get: SimGet, sim: Simulator, node: str) -> list[dict[str, Any]]:
    tasks = get(sim_get, sim, f"/nodes/{node}/tasks", typefilter="vzdump", limit=500)
    return [
        t for t in tasks
        if "--all 1" in get(sim_get, sim, f"/nodes/{node}/tasks/{t['upid']}/log", limit=1)[0]["t"]
    ]  # fmt: skip


def log_text(sim_get: SimGet, sim: Simulator, node: str, upid: str) -> str:
    return "\n".join(i["t"] for i in get(sim_get, sim, f"/nodes/{node}/tasks/{upid}/log", limit=0))


def test_demo_cluster_inventory(demo_simulator: Simulator, sim_get: SimGet) -> None:
    sim = demo_simulator
    assert get(sim_get, sim, "/version")["release"] == "8.3"
    vms = get(sim_get, sim, "/cluster/resources", type="vm")
    assert len(vms) == 25 and sum(v["template"] for v in vms) == 1
    assert {v["type"] for v in vms} == {"qemu", "lxc"}
    assert {s["storage"] for s in get(sim_get, sim, "/storage")} >= {
        "local",
        "pbs-main",
        "pbs-offsite",
    }
    jobs = get(sim_get, sim, "/cluster/backup")
    assert len(jobs) == 5 and "type" not in jobs[0] and jobs[0]["enabled"] == 0
    assert {j.get("pool") for j in jobs} >= {"dev"} and any(j.get("node") == "pve3" for j in jobs)
    assert get(sim_get, sim, "/nodes/pve2/time")["timezone"] == "Europe/Paris"
    # PVE's own check only finds the guest in no job at all
    assert get(sim_get, sim, "/cluster/backup-info/not-backed-up") == [
        {"vmid": 207, "type": "lxc", "name": "scratch"}
    ]


def test_demo_failed_and_stale_guests(demo_simulator: Simulator, sim_get: SimGet) -> None:
    sim = demo_simulator
    pve1 = daily_tasks(sim_get, sim, "pve1")
    assert len(pve1) == 14 and pve1[0]["status"] == "job errors"
    assert "ERROR: Backup of VM 103 failed - VM 103 qmp command 'backup' failed - got timeout" in (
        log_text(sim_get, sim, "pve1", pve1[0]["upid"])
    )
    assert "Backup of VM 103 failed" not in log_text(sim_get, sim, "pve1", pve1[1]["upid"])
    content = get(sim_get, sim, "/nodes/pve1/storage/pbs-main/content", content="backup")
    newest: dict[int, int] = {}
    for item in content:
        newest[item["vmid"]] = max(newest.get(item["vmid"], 0), item["ctime"])
    assert 30 * 3600 < NOW - newest[103] < 50 * 3600  # last success the night before
    assert 4.5 * 86400 < NOW - newest[107] < 6 * 86400  # stale: failing for five nights
    pve2 = daily_tasks(sim_get, sim, "pve2")
    for task in pve2[:5]:
        assert "ERROR: Backup of VM 107 failed - job failed with err -5" in log_text(
            sim_get, sim, "pve2", task["upid"]
        )
    assert pve2[5]["status"] == "WARNINGS: 1"  # win-app's EFI warning
    db1 = sorted((i for i in content if i["vmid"] == 102), key=lambda i: i["ctime"])
    assert db1[-1]["verification"]["state"] == "failed"
    assert {i["verification"]["state"] for i in db1[:-1]} == {"ok"} and db1[0]["protected"] == 1
    assert {113, 114, 207} & set(newest) == set()  # not on PBS


def test_demo_special_jobs(demo_simulator: Simulator, sim_get: SimGet) -> None:
    sim = demo_simulator
    local = get(sim_get, sim, "/nodes/pve3/storage/local/content")
    assert {i["vmid"] for i in local} == {113} and len(local) == 14
    weekly = get(sim_get, sim, "/nodes/pve3/tasks", vmid=205)
    assert len(weekly) == 2  # sun 03:00, node pve3 only; 200 lives on pve1 and is dropped
    assert "Backup of VM 200" not in log_text(sim_get, sim, "pve3", weekly[0]["upid"])
    pool_runs = get(sim_get, sim, "/nodes/pve2/tasks", vmid=204)
    assert len(pool_runs) == 10  # mon..fri 02:00: a single local guest makes the id the vmid
    body = sim_get(sim, "/nodes/pve3/tasks").json()
    assert body["total"] > 50 and len(body["data"]) == 50  # clients must page
    (running,) = get(sim_get, sim, "/nodes/pve2/tasks", source="active")
    assert (running["type"], running["status"]) == ("vncproxy", "RUNNING")
    window = get(sim_get, sim, "/cluster/tasks")
    assert len(window) == 75 and len({t["node"] for t in window}) == 3


def test_demo_logs_match_statuses_and_snapshots(demo_scenario: Scenario) -> None:
    volids = {
        f"pbs-main:backup/{'vm' if b.type == 'qemu' else 'ct'}/{b.vmid}/{epoch_to_iso_z(b.ctime)}"
        for b in demo_scenario.backups
        if b.storage == "pbs-main"
    }
    archives = 0
    for task in demo_scenario.tasks:
        if task.running:
            continue
        log = demo_scenario.task_log(task)
        assert task.status == read_status(log), task.upid
        if task.type != "vzdump":
            continue
        for i, line in enumerate(log):
            m = re.fullmatch(r"INFO: creating Proxmox Backup Server archive '(.+)'", line)
            if m is None:
                continue
            rest = log[i:]
            end = next(
                x for x in rest if x.startswith(("INFO: Finished Backup", "ERROR: Backup of VM"))
            )
            archives += 1
            assert (f"pbs-main:backup/{m.group(1)}" in volids) == end.startswith("INFO: Finished")
    assert archives > 250
