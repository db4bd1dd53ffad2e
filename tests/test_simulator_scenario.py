"""Scenario loading and validation: defaults, derived values and one clear error per mistake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from pve_backup_report.pve.upid import parse_upid
from pve_sim import Scenario, ScenarioError, load_scenario
from pve_sim.permissions import PVE_AUDITOR

NOW = 1795176000  # 2026-11-20T12:00:00Z


def base(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "now": "2026-11-20T12:00:00Z",
        "nodes": [{"node": "pve1"}, {"node": "pve2", "status": "offline"}],
        "storages": [
            {"storage": "pbs", "type": "pbs", "server": "192.0.2.1", "datastore": "d"},
            {"storage": "local", "type": "dir", "path": "/var/lib/vz", "content": "backup"},
        ],
        "guests": [
            {"vmid": 100, "type": "qemu", "name": "web", "node": "pve1"},
            {"vmid": 200, "type": "lxc", "node": "pve2", "status": "stopped"},
        ],
    }
    data.update(extra)
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    return str(info.value)


def task(**fields: Any) -> dict[str, Any]:
    return {"node": "pve1", "type": "vzdump", "starttime": NOW - 3600, **fields}


def test_defaults() -> None:
    s = Scenario.from_dict({})
    assert s.now is None and s.latency_ms == 0
    assert s.version["release"] == "8.3"
    assert s.token.id == "monitor@pve!check"
    assert s.token.acl.privileges_at("/vms/100") == PVE_AUDITOR
    assert (s.nodes, s.guests, s.jobs, s.tasks, s.faults) == ((), (), (), (), ())


def test_guest_and_node_defaults() -> None:
    s = Scenario.from_dict(base())
    web, ct = s.guests
    assert (web.status, web.template, web.display_name) == ("running", 0, "web")
    assert (ct.status, ct.display_name) == ("stopped", "CT200")
    assert s.node("pve1") is not None and s.node("pve1").timezone == "UTC"  # type: ignore[union-attr]
    assert not s.node("pve2").online  # type: ignore[union-attr]
    assert s.storage("pbs").content == ("backup",)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T12:00:00Z", NOW),
        ("2026-11-20T13:00:00+01:00", NOW),
        (NOW, NOW),
        (str(NOW), NOW),
        (dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc), NOW),
        (dt.datetime(2026, 11, 20, 12, 0), NOW),  # naive: UTC
    ],
)
def test_time_formats(value: object, expected: int) -> None:
    assert Scenario.from_dict({"now": value}).now == expected


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"nodez": []}, "scenario: unknown key 'nodez' (allowed: backups, cluster_name"),
        (base(guests=[{"vmid": 100, "type": "qemu", "nmae": "x", "node": "pve1"}]),
         "guests[0]: unknown key 'nmae'"),
        (base(guests=[{"vmid": "abc", "type": "qemu", "node": "pve1"}]),
         "guests[0].vmid: expected an integer"),
        (base(guests=[{"vmid": 100, "type": "vm", "node": "pve1"}]),
         "guests[0].type: expected one of qemu, lxc"),
        (base(guests=[{"vmid": 100, "type": "qemu", "node": "pve9"}]),
         "guests[0].node: unknown node 'pve9'"),
        (base(guests=[{"vmid": 100, "type": "qemu", "node": "pve1"}] * 2),
         "guests: duplicate entry 100"),
        (base(guests=[{"vmid": 100, "type": "qemu", "node": "pve1", "template": 2}]),
         "guests[0].template: expected 0/1"),
        ({"nodes": [{"node": "a", "status": "down"}]}, "nodes[0].status: expected one of"),
        ({"nodes": [{"node": "a", "timezone": "Mars/Base"}]}, "nodes[0].timezone: unknown"),
        ({"now": "yesterday"}, "now: not an ISO 8601 time"),
        ({"latency_ms": -1}, "latency_ms: must be >= 0"),
        ({"storages": [{"type": "dir"}]}, "storages[0].storage: required key is missing"),
        ({"storages": [{"storage": "s", "type": "pbs", "server": "x"}]},
         "storages[0].datastore: required key is missing"),
        ({"storages": [{"storage": "s", "type": "dir", "paht": "/x"}]},
         "storages[0]: unknown key 'paht'"),
        ({"jobs": [{"id": "j", "type": "vzdump", "shedule": "21:00"}]},
         "jobs[0]: unknown key 'shedule'"),
        ({"jobs": [{"id": "j", "type": "realm-sync"}]}, "jobs[0].type: expected 'vzdump'"),
        ({"jobs": [{"id": "j", "enabled": "yes"}]}, "jobs[0].enabled: expected 0/1"),
        ({"jobs": [{"id": "j"}, {"id": "j"}]}, "jobs: duplicate entry 'j'"),
        ({"pools": [{"poolid": "a", "members": [100]}, {"poolid": "b", "members": [100]}]},
         "guest 100 is in pools 'a' and 'b'"),
        ({"pools": [{"poolid": "a", "members": ["x"]}]}, "pools[0].members[0]: expected a VMID"),
        ({"token": {"id": "monitor"}}, "token.id: expected USER@REALM!TOKENID"),
        ({"token": {"privileges": {"/": ["Sys.audit"]}}},
         "token.privileges['/']: unknown privilege or role 'Sys.audit'"),
        ({"token": {"privileges": {"vms": ["VM.Audit"]}}}, "must start with '/'"),
        ({"faults": [{"path": "/version"}]}, "faults[0]: a fault needs one of"),
        ({"faults": [{"path": "version", "status": 500}]}, "faults[0].path: must start with '/'"),
        ({"faults": [{"path": "/v", "status": 700}]}, "faults[0].status: not an HTTP status"),
        ({"faults": [{"path": "/v", "drop": True, "body": "x"}]}, "faults[0].drop: cannot"),
        ({"faults": [{"path": "/v", "status": 500, "times": 0}]}, "faults[0].times: must be >= 1"),
        (base(tasks=[{"node": "pve1", "type": "vzdump"}]),
         "tasks[0].starttime: required key is missing"),
        (base(tasks=[task(node="pve7")]), "tasks[0].node: unknown node 'pve7'"),
        (base(tasks=[task(status="running", endtime=NOW)]),
         "tasks[0].endtime: a running task has no endtime"),
        (base(tasks=[task(endtime=NOW - 7200)]), "tasks[0].endtime: is before starttime"),
        (base(tasks=[task(log="x", log_file="y.log")]), "tasks[0].log_file: give either"),
        (base(tasks=[task(upid="UPID:garbage")]), "tasks[0].upid: invalid UPID"),
        (base(tasks=[task(upid="UPID:pve1:00000001:00000002:6AFF5540:vzdump::root@pam:",
                          type="qmstart")]),
         "tasks[0].type: 'qmstart' contradicts the upid ('vzdump')"),
        (base(backups=[{"storage": "nope", "vmid": 100, "ctime": NOW}]),
         "backups[0].storage: unknown storage 'nope'"),
        (base(backups=[{"storage": "pbs", "vmid": 999, "ctime": NOW}]),
         "backups[0].type: required for a VMID that is not a scenario guest"),
        (base(backups=[{"storage": "local", "vmid": 999, "type": "qemu", "ctime": NOW}]),
         "backups[0].node: required for the non-shared storage 'local'"),
        (base(backups=[{"storage": "pbs", "vmid": 100, "ctime": NOW, "verification": "bad"}]),
         "backups[0].verification: state must be ok or failed"),
        (base(backups=[{"storage": "pbs", "vmid": 100, "ctime": NOW, "format": "vma"}]),
         "backups[0].format: PBS backups always"),
        (base(backups=[{"storage": "pbs", "vmid": 100, "ctime": NOW, "unfinished": True,
                        "verification": "ok"}]),
         "backups[0].verification: an unfinished snapshot has no manifest"),
        (base(backups=[{"storage": "pbs", "vmid": 100, "ctime": NOW, "unfinished": True,
                        "size": 5}]),
         "backups[0].size: an unfinished snapshot has no manifest"),
        (base(backups=[{"storage": "local", "vmid": 100, "ctime": NOW, "unfinished": True}]),
         "backups[0].unfinished: only a PBS snapshot"),
        ({"guests": "none"}, "guests: expected a list"),
        ({"version": {"version": "8.3.0", "codename": "x"}}, "version: unknown key 'codename'"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_key(data: dict[str, Any], fragment: str) -> None:
    assert fragment in error_of(data)


def test_pve_booleans_become_ints_and_vmid_lists_strings() -> None:
    s = Scenario.from_dict(
        {"jobs": [{"id": "j", "type": "vzdump", "enabled": True, "all": False, "vmid": 100}]}
    )
    assert s.jobs[0].config == {"id": "j", "type": "vzdump", "enabled": 1, "all": 0, "vmid": "100"}


def test_next_run_only_for_jobs_cfg_jobs_with_schedule_and_legacy_first() -> None:
    s = Scenario.from_dict(
        {
            "jobs": [
                {"id": "new", "type": "vzdump", "schedule": "21:00", "next-run": NOW},
                {"id": "noschedule", "type": "vzdump", "next-run": NOW},
                {"id": "abc:1", "schedule": "21:00", "next-run": NOW},
            ]
        }
    )
    assert [j.id for j in s.jobs] == ["abc:1", "new", "noschedule"]
    assert [("next-run" in j.config) for j in s.jobs] == [False, True, False]
    assert s.jobs[0].legacy and not s.jobs[1].legacy


@pytest.mark.parametrize(
    ("log", "status"),
    [
        ("INFO: x\nTASK OK", "OK"),
        ("WARN: y\nTASK WARNINGS: 2\n", "WARNINGS: 2"),
        ("INFO: Backup job finished with errors\n\nTASK ERROR: job errors", "job errors"),
        ("ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout", "unexpected status"),
        ("", "unexpected status"),
    ],
)
def test_status_is_derived_from_the_last_log_line(log: str, status: str) -> None:
    s = Scenario.from_dict(base(tasks=[task(log=log)]))
    assert s.tasks[0].status == status


def test_task_defaults_status_log_endtime_and_ids() -> None:
    s = Scenario.from_dict(base(tasks=[task(), task(status="job errors"), task(status="running")]))
    ok, failed, running = s.tasks
    assert (ok.status, ok.log, ok.endtime) == ("OK", ("TASK OK",), NOW - 3599)
    assert failed.log == ("TASK ERROR: job errors",)
    assert (running.running, running.endtime, running.log) == (True, None, ())
    assert len({t.pid for t in s.tasks}) == 3  # deterministic, distinct per index
    assert Scenario.from_dict(base(tasks=[task()])).tasks[0].upid == ok.upid
    upid = parse_upid(ok.upid)
    assert (upid.node, upid.type, upid.id, upid.user, upid.starttime) == (
        "pve1", "vzdump", "", "root@pam", NOW - 3600,
    )  # fmt: skip


def test_task_from_upid() -> None:
    text = "UPID:pve1:0002BFF5:14418E05:6AFF5541:vzdump:100:root@pam:"
    s = Scenario.from_dict(base(tasks=[{"upid": text, "endtime": 1795118500}]))
    t = s.tasks[0]
    assert t.upid == text
    assert (t.node, t.pid, t.id, t.starttime) == ("pve1", 0x2BFF5, "100", 0x6AFF5541)


def test_log_file_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "t.log").write_text("INFO: hi\nTASK WARNINGS: 1\n")
    (tmp_path / "s.yaml").write_text(
        "nodes: [{node: pve1}]\n"
        "tasks:\n"
        "  - {node: pve1, type: vzdump, starttime: 2026-11-19T20:00:00Z, log_file: logs/t.log}\n"
    )
    s = load_scenario(tmp_path / "s.yaml")
    assert s.tasks[0].log == ("INFO: hi", "TASK WARNINGS: 1")
    assert s.tasks[0].status == "WARNINGS: 1"
    assert s.tasks[0].starttime == 1795118400


def test_missing_log_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "nodes: [{node: pve1}]\n"
        "tasks: [{node: pve1, type: vzdump, starttime: 1, log_file: nope.log}]\n"
    )
    with pytest.raises(ScenarioError, match=r"tasks\[0\]\.log_file: cannot read 'nope.log'"):
        load_scenario(tmp_path / "s.yaml")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("nodes: [", "invalid YAML"), ("- a\n- b\n", "must be a mapping")],
)
def test_yaml_errors(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario(tmp_path / "bad.yaml")


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "absent.yaml")


def test_privileges_roles_and_pool_membership() -> None:
    s = Scenario.from_dict(
        base(
            token={"privileges": {"/storage/pbs": "PVEDatastoreAdmin", "/vms/": ["VM.Audit"]}},
            pools=[{"poolid": "prod", "members": [100]}],
        )
    )
    acl = s.token.acl
    assert "Datastore.Allocate" in acl.privileges_at("/storage/pbs")
    assert acl.privileges_at("/storage/pbs2") == frozenset()
    assert acl.privileges_at("/vms/100") == {"VM.Audit"}
    assert acl.privileges_at("/") == frozenset()
    assert s.pool_of(100) == "prod" and s.pool_of(200) is None


def test_backups_on_non_shared_storage_default_to_the_guest_node() -> None:
    s = Scenario.from_dict(
        base(backups=[{"storage": "local", "vmid": 100, "ctime": NOW, "protected": True}])
    )
    b = s.backups[0]
    # without a size: the guest's disk (a finished backup; see ``unfinished`` for size 1)
    assert (b.node, b.type, b.protected, b.size) == ("pve1", "qemu", True, 32 * 1024**3)


def test_demo_scenario_loads(demo_scenario: Scenario) -> None:
    assert demo_scenario.now == NOW
    assert [n.node for n in demo_scenario.nodes] == ["pve1", "pve2", "pve3"]
    assert len(demo_scenario.guests) == 25
    assert demo_scenario.source == "demo"
