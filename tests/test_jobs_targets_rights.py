"""Disabled legacy jobs, ``dumpdir`` jobs and a token that sees only some guests, through
the real CLI against the simulator, with what PVE really serves and logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builders import LogGuest, backup, basic, pbs_storage, vzdump_job, vzdump_run, vzdump_task
from conftest import SimGet, SimulatorFactory
from pve_backup_report.analysis.privileges import (
    DATASTORE_AUDIT,
    SYS_AUDIT_NODES,
    VM_AUDIT,
    backup_visibility,
    granted,
)
from pve_backup_report.collect.inventory import default_target
from pve_backup_report.model import GuestType
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator
from test_check_cli import NOW, perfdata, run


def coverage_json(data: dict[str, Any], *args: str) -> dict[str, Any]:
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "--dump-coverage", "--format", "json", *args)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def guests_of(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {g["vmid"]: g for g in result["guests"]}


def legacy_job(**fields: Any) -> dict[str, Any]:
    """A vzdump.cron job as ``/cluster/backup`` serves it (no ``type``; ``schedule`` made
    from starttime/dow; pve-guest-common ``parse_vzdump_cron_config``)."""
    return {"id": "3f1e5a0c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a49:1", "schedule": "sat 01:00",
            "storage": "pbs-main", "vmid": "105", "mode": "snapshot", "quiet": 1,
            **fields}  # fmt: skip


# -- item 2: disabled legacy jobs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [("", "disabled_only"), ("0", "disabled_only"), (0, "disabled_only"),
     (False, "disabled_only"), (1, "covered"), ("1", "covered"), (None, "covered")],
)  # fmt: skip
def test_perl_false_enabled_disables_a_job(enabled: Any, expected: str) -> None:
    """pve-guest-common ``src/PVE/VZDump/Common.pm`` ``parse_vzdump_cron_config`` serves a
    commented-out cron line as ``enabled => !defined($enabled)``, Perl's false ``""``;
    pve-manager ``PVE/Jobs.pm`` ``run_jobs`` skips ``defined($cfg->{enabled}) &&
    !$cfg->{enabled}``: any Perl-false value disables, a missing one enables."""
    job = legacy_job() if enabled is None else legacy_job(enabled=enabled)
    data = basic()
    data["jobs"] = [job, *data["jobs"]]
    guest = guests_of(coverage_json(data))[105]
    assert guest["coverage"] == expected
    if expected == "disabled_only":
        assert guest["reasons"] == [f"job {job['id']} is disabled"]


def test_simulator_serves_enabled_exactly_as_given(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    """pve-manager ``PVE/API2/Backup.pm`` ``index`` returns the parsed vzdump.cron jobs
    (first) and the jobs.cfg jobs as they are: ``""``, ``"0"``, ``0``, ``1`` or absent."""
    data = basic()
    data["jobs"] = [legacy_job(id="a:1", enabled=""), legacy_job(id="a:2", enabled="1"),
                    {"id": "j0", "type": "vzdump", "enabled": "0", "vmid": "100"},
                    {"id": "j1", "type": "vzdump", "enabled": 0, "vmid": "100"},
                    {"id": "j2", "type": "vzdump", "vmid": "100"}]  # fmt: skip
    sim = simulator_factory(data)
    served = sim_get(sim, "/cluster/backup").json()["data"]
    assert [(j["id"], j.get("enabled", "absent")) for j in served] == [
        ("a:1", ""), ("a:2", "1"), ("j0", "0"), ("j1", 0), ("j2", "absent"),
    ]  # fmt: skip


# -- item 3: dumpdir jobs ----------------------------------------------------------------------


def pbs_default_nodes(data: dict[str, Any]) -> dict[str, Any]:
    for node in data["nodes"]:
        node["vzdump_defaults"] = {"storage": "pbs-main"}
    return data


def test_dumpdir_job_is_not_pbs_even_where_the_node_default_is() -> None:
    """pve-manager ``PVE::VZDump::new``: the node's vzdump defaults apply only to a job
    with neither ``storage`` nor ``dumpdir``; ``get_storage_param`` gives no storage for
    a ``dumpdir``: plain files, never PBS. A job with neither writes to the default."""
    data = pbs_default_nodes(basic())
    data["jobs"] += [
        vzdump_job("usb", storage=None, enabled=1, dumpdir="/mnt/usb", vmid="105"),
        vzdump_job("dflt", storage=None, enabled=1, vmid="300"),
    ]
    result = coverage_json(data)
    guests = guests_of(result)
    assert guests[105]["coverage"] == "non_pbs_only"
    assert guests[105]["reasons"] == [
        "job usb writes plain files to directory '/mnt/usb' (dumpdir), not to PBS"
    ]
    assert guests[300]["coverage"] == "covered" and guests[300]["pbs_jobs"] == ["dflt"]
    jobs = {j["id"]: j for j in result["jobs"]}
    assert jobs["usb"]["storage_type"] == "dumpdir" and jobs["usb"]["dumpdir"] == "/mnt/usb"
    assert set(jobs["usb"]["effective_storage"].values()) == {None}
    assert set(jobs["dflt"]["effective_storage"].values()) == {"pbs-main"}


def test_dumpdir_job_in_long_output_and_reports(tmp_path: Path) -> None:
    data = pbs_default_nodes(basic())
    data["jobs"].append(vzdump_job("usb", storage=None, enabled=1, dumpdir="/mnt/usb", vmid="105"))
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "-v", "--report", str(tmp_path / "en.md"))
        run(s, "--now", NOW, "--lang", "fr", "--report", str(tmp_path / "fr.md"))
    line = next(x for x in proc.stdout.splitlines() if "vm 105 db2" in x and "jobs:" in x)
    assert "non_pbs_only" in line and "writes plain files to directory '/mnt/usb'" in line
    en, fr = (tmp_path / "en.md").read_text(), (tmp_path / "fr.md").read_text()
    assert "directory /mnt/usb (dumpdir: plain files, not PBS)" in en
    assert "`dumpdir`" in en and "never reaches PBS" in en
    assert "répertoire /mnt/usb (dumpdir : fichiers simples, pas PBS)" in fr
    assert "n'atteint jamais PBS" in fr


def lxc_log(vmid: int, command: str, archive: str, day: str, hhmmss: str) -> str:
    """A successful single-guest run, lines as pve-manager ``PVE/VZDump.pm`` prints them
    (``exec_backup``: the command line; ``exec_backup_task``: ``creating vzdump
    archive`` for a directory, ``creating Proxmox Backup Server archive`` for PBS)."""
    return "\n".join([
        f"INFO: starting new backup job: {command}",
        f"INFO: Starting Backup of VM {vmid} (lxc)",
        f"INFO: Backup started at {day} {hhmmss}",
        "INFO: status = running",
        f"INFO: creating {archive}",
        f"INFO: Finished Backup of VM {vmid} (00:00:50)",
        f"INFO: Backup finished at {day} {hhmmss[:-2]}51",
        "INFO: Backup job finished successfully",
        "TASK OK",
    ])  # fmt: skip


def dumpdir_run(command: str, start: str) -> dict[str, Any]:
    """Guest 102 backed up by hand to a directory this morning (Paris time)."""
    log = lxc_log(
        102, command, "vzdump archive '/mnt/usb/vzdump-lxc-102-2026_11_20-10_00_01.tar.zst'",
        "2026-11-20", "10:00:01",
    )  # fmt: skip
    return vzdump_task(node="pve2", vmids=[102], start=start, end="2026-11-20T09:01:00Z", log=log)


@pytest.mark.parametrize(
    ("command", "defaults"),
    [("vzdump 102 --dumpdir /mnt/usb --mode snapshot", {"storage": "pbs-main"}),
     ("vzdump 102 --mode snapshot", {"dumpdir": "/mnt/usb"})],
)  # fmt: skip
def test_a_directory_run_is_not_a_pbs_success(command: str, defaults: dict[str, str]) -> None:
    """A run whose command line has ``--dumpdir``, or neither ``--storage`` nor
    ``--dumpdir`` on a node whose vzdump default is a directory, wrote no PBS backup
    (pve-manager ``PVE::VZDump::new``, ``get_storage_param``; the logged line is the
    job's own options, pve-guest-common ``command_line``): guest 102 stays stale."""
    data = basic()
    data["nodes"][1]["vzdump_defaults"] = defaults
    data["tasks"].append(dumpdir_run(command, "2026-11-20T09:00:00Z"))
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "--dump-coverage", "--format", "json")
        logs = [p for p in s.stats.per_path if p.startswith("/nodes/pve2/tasks/")]
    guest = guests_of(json.loads(proc.stdout))[102]
    assert any(":6B000C10:vzdump:102:" in p for p in logs), logs  # its log was read
    assert guest["coverage"] == "covered"
    assert guest["last_success"]["started"] == 1794859201  # 2026-11-16T20:00:01Z, on PBS
    assert "stale" in guest["problems"]


def test_node_default_dumpdir_is_not_pbs() -> None:
    """pve-manager ``PVE/API2/VZDump.pm`` ``defaults`` answers no ``storage`` when
    vzdump.conf sets ``dumpdir`` (and hides the path without Sys.Audit on the node): a
    job without storage writes plain files there."""
    data = basic()
    data["nodes"][1]["vzdump_defaults"] = {"dumpdir": "/mnt/usb"}
    data["jobs"].append(vzdump_job("dflt", storage=None, enabled=1, vmid="105"))
    guest = guests_of(coverage_json(data))[105]
    assert guest["coverage"] == "non_pbs_only"
    assert guest["reasons"] == [
        "job dflt writes plain files to directory '/mnt/usb' (dumpdir, the vzdump default "
        "of node pve2), not to PBS"
    ]


@pytest.mark.parametrize(
    ("answer", "target"),
    [({"storage": "local", "dumpdir": "/var/lib/vz/dump"}, "local"), ({"storage": "pbs"}, "pbs"),
     ({"dumpdir": "/mnt/usb"}, "dumpdir:/mnt/usb"), ({"mode": "snapshot"}, "dumpdir:")],
)  # fmt: skip
def test_node_default_from_the_defaults_answer(answer: dict[str, str], target: str) -> None:
    """pve-manager ``PVE/API2/VZDump.pm`` ``defaults`` always answers ``storage`` unless
    vzdump.conf sets ``dumpdir``, whose path it drops without Sys.Audit on the node."""
    assert default_target(answer) == target


def test_storage_and_dumpdir_together_never_run() -> None:
    """pve-manager ``PVE::VZDump::new`` dies: ``cannot use options 'storage' and
    'dumpdir' at the same time``."""
    data = basic()
    data["jobs"].append(
        vzdump_job("both", storage="pbs-main", enabled=1, dumpdir="/mnt/usb", vmid="105")
    )
    result = coverage_json(data)
    guest = guests_of(result)[105]
    assert guest["coverage"] == "non_pbs_only"
    assert "PVE refuses to run it" in guest["reasons"][0]
    assert any(
        a["severity"] == "warning" and "sets both 'storage' and 'dumpdir'" in a["message"]
        for a in result["anomalies"]
    )


# -- finding X1: jobs PVE refuses to run -------------------------------------------------------


def refused_jobs(privileges: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """VM 105 is named only by jobs PVE refuses: a hand-edited ``vmid`` + ``all`` job and a
    job whose pool was deleted; VM 300 (in a local job) also by a job of pool ``secret``."""
    data = basic(pools=[{"poolid": "secret", "members": [300]}])
    if privileges is not None:
        data["token"]["privileges"] = privileges
    data["jobs"] += [
        vzdump_job("hand-edited", storage="pbs-main", enabled=1, vmid="105", all=1),
        vzdump_job("gone-pool", storage="pbs-main", enabled=1, pool="gone"),
        vzdump_job("secret-pool", storage="pbs-main", enabled=1, pool="secret"),
    ]
    return data


def test_a_job_pve_refuses_protects_nothing() -> None:
    """pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` calls ``verify_vzdump_parameters``
    (``option conflicts with option 'vmid'``) and ``get_included_guests`` (pve-manager
    ``PVE/API2Tools.pm`` ``get_resource_pool_guest_members``: ``pool 'gone' does not
    exist``) before ``fork_worker``; ``PVE/Jobs.pm`` ``run_jobs`` only logs the error.
    Such a job backs up nothing on every run: VM 105 is not covered (not indeterminate),
    and a WARNING names each job and PVE's reason (finding X1)."""
    result = coverage_json(refused_jobs())
    guests = guests_of(result)
    assert guests[105]["coverage"] == "not_covered"
    assert guests[105]["reasons"] == [
        "no backup job includes it",
        "job hand-edited names it, but PVE refuses to run that job: option 'all' conflicts "
        "with option 'vmid'",
    ]
    assert guests[300]["coverage"] == "covered" and guests[300]["pbs_jobs"] == ["secret-pool"]
    jobs = {j["id"]: j for j in result["jobs"]}
    assert jobs["gone-pool"]["refused"] == "pool 'gone' does not exist"
    assert jobs["gone-pool"]["unresolved"] is None and jobs["gone-pool"]["included"] == []
    warnings = [a["message"] for a in result["anomalies"] if a["severity"] == "warning"]
    for job_id in ("hand-edited", "gone-pool"):
        assert any(m.startswith(f"job {job_id}: PVE refuses to run it (") for m in warnings)


@pytest.mark.parametrize("fault", [None, {"path": "/pools/gone", "status": 500,
                                           "message": "proxy loop detected"}])  # fmt: skip
def test_only_pves_does_not_exist_makes_a_pool_job_refused(fault: dict[str, Any] | None) -> None:
    """pve-manager ``PVE/API2/Pool.pm`` ``read_pool`` dies ``pool 'gone' does not exist``
    for a deleted pool (HTTP 500). With ``/pools`` unreadable the collector asks each pool
    directly: PVE's answer makes the job refused; any other error leaves its members
    unknown (``indeterminate``), with a warning."""
    data = refused_jobs()
    data["faults"] = [{"path": "/pools", "status": 500, "message": "temporary failure"}]
    if fault is not None:
        data["faults"].insert(0, fault)
    result = coverage_json(data)
    guests = guests_of(result)
    assert guests[300]["coverage"] == "covered"  # pool 'secret' read directly
    assert guests[105]["coverage"] == ("not_covered" if fault is None else "indeterminate")
    messages = [a["message"] for a in result["anomalies"]]
    assert any("cannot read pool 'gone'" in m for m in messages) is (fault is not None)


def test_a_refused_job_in_the_reports(tmp_path: Path) -> None:
    with Simulator(Scenario.from_dict(refused_jobs()), tls=False) as s:
        run(s, "--now", NOW, "--report", str(tmp_path / "en.md"))
        run(s, "--now", NOW, "--lang", "fr", "--report", str(tmp_path / "fr.md"))
    en, fr = (tmp_path / "en.md").read_text(), (tmp_path / "fr.md").read_text()
    assert "PVE refuses to run it (pool 'gone' does not exist): it backs up nothing" in en
    assert "PVE refuse de l'exécuter (le pool 'gone' n'existe pas) : elle ne sauvegarde rien" in fr


def test_a_pool_the_token_cannot_see_stays_unknown() -> None:
    """pve-manager ``PVE/API2/Pool.pm`` ``read_pool`` checks ``Pool.Audit`` on
    ``/pool/{poolid}`` before looking the pool up: without it, a deleted pool and a hidden
    one both answer 403. Then the job's guests are truly unknown: ``indeterminate``."""
    data = refused_jobs({"/": ["Sys.Audit", "VM.Audit", "Datastore.Audit"],
                         "/storage/pbs-main": ["Datastore.Allocate"]})  # fmt: skip
    guests = guests_of(coverage_json(data))
    assert guests[105]["coverage"] == "indeterminate"
    assert [r.split(":")[0] for r in guests[105]["reasons"][1:]] == [
        "job gone-pool might include it", "job secret-pool might include it"]  # fmt: skip
    assert guests[300]["coverage"] == "indeterminate"


# -- finding X2: a storage /storage does not list ----------------------------------------------


def unlisted_storages(privileges: dict[str, list[str]]) -> dict[str, Any]:
    """VM 105 is backed up only to ``pbs-b`` (a PBS storage), ct 200 only to ``gone``
    (configured nowhere)."""
    data = basic()
    data["token"]["privileges"] = privileges
    data["storages"].append(
        pbs_storage("pbs-b", server="192.0.2.11", datastore="b", username="backup@pbs!pve")
    )
    data["jobs"] += [
        vzdump_job("to-b", storage="pbs-b", enabled=1, vmid="105"),
        vzdump_job("to-gone", storage="gone", enabled=1, vmid="200"),
    ]
    return data


def test_a_storage_the_token_sees_everywhere_but_not_listed_does_not_exist() -> None:
    """pve-storage ``src/PVE/API2/Storage/Config.pm`` ``index`` lists every storage on which
    the token has Datastore.Audit or Datastore.AllocateSpace; ``GET /access/permissions``
    with ``path=/storage/gone`` (pve-access-control ``src/PVE/API2/AccessControl.pm``
    ``permissions``) shows it has them there: ``gone`` does not exist, and every run of
    ``to-gone`` dies in pve-manager ``PVE/VZDump.pm`` ``new``. ct 200 is not protected
    (``not_covered``) and a WARNING names the job and the storage (finding X2)."""
    data = unlisted_storages(FULL)
    result = coverage_json(data)
    guests = guests_of(result)
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "--dump-inventory", "--format", "json")
    assert json.loads(proc.stdout)["storage_audit"] == {"gone": True}
    assert guests[105]["coverage"] == "covered"
    assert guests[200]["coverage"] == "not_covered"
    assert guests[200]["reasons"][-1].startswith("job to-gone: storage 'gone' does not exist")
    assert any(
        a["severity"] == "warning"
        and a["message"].startswith("job to-gone writes to storage 'gone', which does not exist")
        for a in result["anomalies"]
    )


def test_a_storage_the_token_may_not_see_is_indeterminate() -> None:
    """Without Datastore.Audit on ``/storage/pbs-b`` PVE leaves it out of ``/storage``
    (pve-storage ``src/PVE/API2/Storage/Config.pm`` ``index``): it may be PBS, so VM 105 is
    ``indeterminate``; ``gone`` cannot be told from a hidden storage either."""
    rights = {
        "/": ["Sys.Audit", "VM.Audit", "Pool.Audit"],
        "/storage/pbs-main": ["Datastore.Allocate"],
        "/storage/local": ["Datastore.Audit"],
    }
    result = coverage_json(unlisted_storages(rights))  # fmt: skip
    guests = guests_of(result)
    assert guests[105]["coverage"] == "indeterminate"
    assert guests[200]["coverage"] == "indeterminate"
    assert any(
        a["component"] == "permissions"
        and "unknown storage 'pbs-b' (Datastore.Audit is missing on /storage/pbs-b)" in a["message"]
        for a in result["anomalies"]
    )


# -- item 8: a token that sees only some guests -----------------------------------------------


def fresh_cluster(privileges: dict[str, list[str]]) -> dict[str, Any]:
    """Three guests in a pool, all backed up last night; three more in no job."""
    data = basic(pools=[{"poolid": "prod", "members": [100, 101, 102]}])
    data["token"]["privileges"] = privileges
    data["jobs"] = [data["jobs"][0]]  # backup-daily: 100, 101, 102 to pbs-main
    runs: list[tuple[str, int, GuestType]] = [("pve1", 100, "qemu"), ("pve1", 101, "qemu"),
                                              ("pve2", 102, "lxc")]  # fmt: skip
    data["tasks"] = []
    data["backups"] = []
    for i, (node, vmid, kind) in enumerate(runs):
        start = parse_timestamp(f"2026-11-19T20:0{i}:01Z")  # 21:0i:01 in Paris
        command = f"vzdump {vmid} --mode snapshot --storage pbs-main"
        data["tasks"].append(vzdump_run([LogGuest(vmid, kind)], start=start, node=node,
                                        end=start + 30, command=command, took=30,
                                        tz_offset=3600))  # fmt: skip
        data["backups"].append(backup(vmid, ctime=start, storage="pbs-main", size=1073741824,
                                      verification="ok"))  # fmt: skip
    return data


FULL = {"/": ["Sys.Audit", "VM.Audit", "Datastore.Audit", "Pool.Audit"],
        "/storage/pbs-main": ["Datastore.Allocate"]}  # fmt: skip


def test_full_rights_see_everything() -> None:
    data = fresh_cluster(FULL)
    data["guests"] = [g for g in data["guests"] if g["vmid"] in (100, 101, 102)]
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "-v")
    assert proc.returncode == 0, proc.stdout
    assert "VM.Audit" not in proc.stdout and perfdata(proc.stdout)["anomalies"] == "0;;;0"


def test_vm_audit_only_through_a_pool_is_a_warning() -> None:
    """pve-manager ``PVE/API2/Cluster.pm`` ``resources`` leaves out every guest without
    VM.Audit on ``/vms/<vmid>`` (HTTP 200); a pool ACL reaches only the pool's guests,
    unpropagated (acl ``compile_acl_path``). ``/access/permissions`` (acl
    ``get_effective_permissions``) shows VM.Audit missing on ``/vms``."""
    rights = {"/": ["Sys.Audit", "Datastore.Audit", "Pool.Audit"],
              "/storage/pbs-main": ["Datastore.Allocate"], "/pool/prod": ["VM.Audit"]}  # fmt: skip
    with Simulator(Scenario.from_dict(fresh_cluster(rights)), tls=False) as s:
        proc = run(s, "--now", NOW, "-v")
        asked = s.stats.count("/access/permissions")
    first = proc.stdout.splitlines()[0]
    assert proc.returncode == 1, proc.stdout
    assert first.startswith("PVE_BACKUP WARNING - ")
    assert "has VM.Audit only on some paths below /vms" in first
    assert perfdata(proc.stdout)["guests_total"] == "3;;;0"
    assert asked == 1


def test_storages_visible_only_one_by_one_are_named() -> None:
    rights = {"/": ["Sys.Audit", "VM.Audit", "Pool.Audit"],
              "/storage/pbs-main": ["Datastore.Audit", "Datastore.Allocate"]}  # fmt: skip
    data = fresh_cluster(rights)
    data["guests"] = [g for g in data["guests"] if g["vmid"] in (100, 101, 102)]
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "-v")
    assert proc.returncode == 1, proc.stdout
    assert (
        "has Datastore.Audit or Datastore.AllocateSpace only on some paths below /storage"
        in proc.stdout
    )


def test_check_api_says_the_same() -> None:
    rights = {"/": ["Sys.Audit", "Datastore.Audit", "Pool.Audit"], "/pool/prod": ["VM.Audit"]}
    with Simulator(Scenario.from_dict(fresh_cluster(rights)), tls=False) as s:
        proc = run(s, "--check-api", "--format", "json")
    privileges = {p["privilege"]: p["granted"] for p in json.loads(proc.stdout)["privileges"]}
    assert privileges["VM.Audit"] == "partly"
    assert privileges["Datastore.Audit or Datastore.AllocateSpace"] == "yes"
    assert proc.returncode == 1


@pytest.mark.parametrize(
    ("answer", "vms", "nodes"),
    [
        # PVEAuditor on / (propagated): every top-level path carries it
        ({"/": {"VM.Audit": 1, "Sys.Audit": 1}, "/vms": {"VM.Audit": 1, "Sys.Audit": 1},
          "/nodes": {"VM.Audit": 1, "Sys.Audit": 1}}, "yes", "yes"),
        # ACL on / without propagate: only / itself
        ({"/": {"VM.Audit": 0, "Sys.Audit": 0}}, "no", "no"),
        # VM.Audit only through a pool: unpropagated on the members
        ({"/": {"Sys.Audit": 1}, "/nodes": {"Sys.Audit": 1}, "/vms": {"Sys.Audit": 1},
          "/pool/prod": {"VM.Audit": 1}, "/vms/100": {"Sys.Audit": 1, "VM.Audit": 0}},
         "partly", "yes"),
        # a guest whose own ACL replaces what /vms grants
        ({"/vms": {"VM.Audit": 1}, "/vms/100": {"VM.Backup": 1}}, "partly", "no"),
        # Sys.Audit on one node only
        ({"/nodes/pve1": {"Sys.Audit": 1}}, "no", "partly"),
    ],
)  # fmt: skip
def test_granted_reads_pve_permission_answers(
    answer: dict[str, dict[str, int]], vms: str, nodes: str
) -> None:
    """acl ``src/PVE/API2/AccessControl.pm`` ``permissions``: ``{path: {priv: propagate}}``;
    ``get_effective_permissions`` always evaluates ``/vms``, ``/nodes``, ``/storage``."""
    assert granted(answer, VM_AUDIT) == vms
    assert granted(answer, SYS_AUDIT_NODES) == nodes
    assert granted(None, DATASTORE_AUDIT) == "unknown"


@pytest.mark.parametrize(
    ("answer", "seen", "hidden"),
    [
        # Datastore.Allocate on /storage (PVEDatastoreAdmin): every backup listed
        ({"/storage": {"Datastore.Allocate": 1, "Datastore.AllocateSpace": 1}},
         [("pbs-a", 100), ("pbs-b", 101)], []),
        # the setup of docs/proxmox-setup.md: AllocateSpace on /storage, VM.Backup on /vms
        ({"/storage": {"Datastore.AllocateSpace": 1}, "/vms": {"VM.Backup": 1}},
         [("pbs-a", 100), ("pbs-b", 101)], []),
        # VM.Backup through a pool only (unpropagated on its members)
        ({"/storage": {"Datastore.AllocateSpace": 1}, "/vms/100": {"VM.Backup": 0}},
         [("pbs-a", 100)], [("pbs-a", 101)]),
        # a storage whose own ACL replaces what /storage grants
        ({"/storage": {"Datastore.AllocateSpace": 1}, "/storage/pbs-b": {"Datastore.Audit": 1},
          "/vms": {"VM.Backup": 1}},
         [("pbs-a", 101)], [("pbs-b", 101)]),
        # PVEAuditor: Datastore.Audit lists the storage, none of its backups
        ({"/": {"Datastore.Audit": 1, "VM.Audit": 1}, "/storage": {"Datastore.Audit": 1},
          "/vms": {"VM.Audit": 1}},
         [], [("pbs-a", 100)]),
    ],
)  # fmt: skip
def test_backup_visibility_follows_check_volume_access(
    answer: dict[str, dict[str, int]], seen: list[tuple[str, int]], hidden: list[tuple[str, int]]
) -> None:
    """pve-storage ``src/PVE/API2/Storage/Content.pm`` ``index`` drops each volume that
    ``src/PVE/Storage.pm`` ``check_volume_access`` refuses (no VMID asked): a backup is
    listed with ``Datastore.Allocate`` on ``/storage/<id>``, or with
    ``Datastore.AllocateSpace`` there and ``VM.Backup`` on ``/vms/<its VMID>``. The
    answers are shaped as pve-access-control ``src/PVE/RPCEnvironment.pm``
    ``get_effective_permissions`` builds them: the top-level paths, every path an ACL
    names, ``{privilege: propagate}``, paths with no privilege left out. The history
    fetches a guest's runs ahead on no snapshot only where it is listed."""
    visibility = backup_visibility(answer, ["pbs-a", "pbs-b"], [100, 101])
    assert visibility is not None
    assert all(visibility.sees(s, v) for s, v in seen)
    assert not any(visibility.sees(s, v) for s, v in hidden)
    assert backup_visibility(None, ["pbs-a"], [100]) is None
