"""The simulator's API semantics over real HTTP: auth, permissions, filtering, tasks, logs."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from conftest import SimGet, SimulatorFactory
from pve_sim import Simulator

NOW = 1795176000  # 2026-11-20T12:00:00Z
H = 3600
TOKEN = "monitor@pve!check"
AUDITOR = ["Sys.Audit", "VM.Audit", "Datastore.Audit", "Pool.Audit"]


def cluster(privileges: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "now": NOW,
        "cluster_name": "lab",
        "token": {
            "id": TOKEN,
            "secret": "s3cret",
            "privileges": {"/": AUDITOR} if privileges is None else privileges,
        },
        "nodes": [
            {"node": "pve1", "timezone": "Europe/Paris",
             "vzdump_defaults": {"storage": "pbs", "mailto": "root@example.com"}},
            {"node": "pve2", "timezone": "Europe/Paris"},
            {"node": "pve3", "status": "offline"},
        ],
        "storages": [
            {"storage": "pbs", "type": "pbs", "server": "192.0.2.1", "datastore": "main"},
            {"storage": "offsite", "type": "pbs", "server": "192.0.2.2", "datastore": "o",
             "nodes": "pve2"},
            {"storage": "old", "type": "pbs", "server": "192.0.2.3", "datastore": "x",
             "disable": 1},
            {"storage": "local", "type": "dir", "path": "/var/lib/vz",
             "content": "iso,vztmpl,backup"},
        ],
        "pools": [{"poolid": "prod", "comment": "Production", "members": [100, 101]},
                  {"poolid": "dev", "members": [200]}],
        "guests": [
            {"vmid": 100, "type": "qemu", "name": "web", "node": "pve1", "tags": "prod;web",
             "description": "Main web server", "hastate": "started"},
            {"vmid": 101, "type": "qemu", "name": "db", "node": "pve2", "lock": "backup"},
            {"vmid": 102, "type": "qemu", "name": "tmpl", "node": "pve1", "template": 1},
            {"vmid": 200, "type": "lxc", "name": "dns", "node": "pve2"},
            {"vmid": 300, "type": "qemu", "name": "lost", "node": "pve3"},
        ],
        "jobs": [
            {"id": "daily", "type": "vzdump", "schedule": "21:00", "storage": "pbs", "all": 1,
             "exclude": "102", "next-run": NOW + 9 * H, "enabled": 1},
            {"id": "abc:1", "enabled": 0, "schedule": "sat 01:00", "vmid": "102"},
        ],
        "tasks": [
            {"node": "pve1", "type": "vzdump", "starttime": NOW - 16 * H,
             "endtime": NOW - 15 * H, "log": "\n".join(f"INFO: line {i}" for i in range(1, 121))
             + "\nTASK OK"},
            {"node": "pve1", "type": "vzdump", "id": "100", "starttime": NOW - 40 * H,
             "status": "job errors"},
            {"node": "pve1", "type": "qmstart", "id": "100", "user": "admin@pam",
             "starttime": NOW - 2 * H, "log": "TASK WARNINGS: 1"},
            {"node": "pve1", "type": "vncproxy", "id": "100", "user": "admin@pam",
             "starttime": NOW - 60, "status": "running", "log": "connecting"},
            {"node": "pve1", "type": "aptupdate", "user": TOKEN, "starttime": NOW - 5 * H,
             "log": ""},
            {"node": "pve2", "type": "vzdump", "starttime": NOW - 16 * H, "status": "OK"},
        ],
        "backups": [
            {"storage": "pbs", "vmid": 100, "ctime": "2026-11-19T20:00:05Z", "size": 5,
             "verification": "ok", "notes": "web\nsecond line", "protected": 1},
            {"storage": "pbs", "vmid": 100, "ctime": "2026-11-18T20:00:05Z", "size": 5,
             "verification": {"state": "failed", "upid": "UPID:pbs:x"}},
            {"storage": "pbs", "vmid": 200, "ctime": "2026-11-19T20:01:00Z", "size": 7,
             "encrypted": "1"},
            {"storage": "local", "vmid": 101, "ctime": "2026-11-19T21:00:00Z", "size": 9},
        ],
    }  # fmt: skip
    data.update(extra)
    return data


@pytest.fixture
def lab(simulator_factory: SimulatorFactory) -> Simulator:
    return simulator_factory(cluster())


def data(sim_get: SimGet, sim: Simulator, path: str, /, **params: Any) -> Any:
    response = sim_get(sim, path, params=params or None)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()["data"]


def assert_error(response: Any, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.reason == message
    assert response.json() == {"data": None, "message": message + "\n"}


# -- protocol ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"PVEAPIToken={TOKEN}=wrong"},
        {"Authorization": "PVEAPIToken=other@pve!check=s3cret"},
        {"Authorization": f"Bearer {TOKEN}=s3cret"},
        {"Authorization": f"PVEAPIToken={TOKEN}"},
    ],
)
def test_authentication_failure(lab: Simulator, sim_get: SimGet, headers: dict[str, str]) -> None:
    response = sim_get(lab, "/version", auth=False, headers=headers)
    assert response.status_code == 401
    assert response.reason == "authentication failure"
    assert response.json() == {"data": None}


def test_version_envelope_and_headers(lab: Simulator, sim_get: SimGet) -> None:
    response = sim_get(lab, "/version")
    assert response.json() == {
        "data": {"version": "8.3.0", "release": "8.3", "repoid": "c1689ccb1065a83b"}
    }
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Server"].startswith("pve-api-daemon")


def test_unknown_paths_and_methods_are_501(lab: Simulator, sim_get: SimGet) -> None:
    assert_error(sim_get(lab, "/cluster/nope"), 501, "Method 'GET /cluster/nope' not implemented")
    response = requests.post(
        lab.api_url + "/nodes/pve1/vzdump", headers=lab.auth_header, data={"all": 1}, timeout=5
    )
    assert_error(response, 501, "Method 'POST /nodes/pve1/vzdump' not implemented")
    assert sim_get(lab, "/version/").status_code == 200  # trailing slash is fine


def test_parameters_are_validated(lab: Simulator, sim_get: SimGet) -> None:
    response = sim_get(lab, "/nodes/pve1/tasks", params={"limit": "x", "bogus": "1"})
    assert response.status_code == 400
    assert response.reason == "Parameter verification failed."
    errors = response.json()["errors"]
    assert errors["limit"] == "type check ('integer') failed - got 'x'"
    assert "not defined in schema" in errors["bogus"]
    assert sim_get(lab, "/cluster/resources", params={"type": "pool"}).status_code == 400
    assert sim_get(lab, "/nodes/pve1/tasks", params={"start": "-1"}).status_code == 400


# -- cluster --------------------------------------------------------------------------------


def test_cluster_index_and_status(lab: Simulator, sim_get: SimGet) -> None:
    index = data(sim_get, lab, "/cluster")
    assert {"name": "backup"} in index and {"name": "resources"} in index
    assert {"name": "backup-info"} in index
    status = data(sim_get, lab, "/cluster/status")
    assert status[0] == {"type": "cluster", "id": "cluster", "name": "lab", "nodes": 3,
                         "quorate": 1, "version": 4}  # fmt: skip
    assert [(n["name"], n["online"]) for n in status[1:]] == [
        ("pve1", 1), ("pve2", 1), ("pve3", 0),
    ]  # fmt: skip


def test_resources_rows_and_type_filter(lab: Simulator, sim_get: SimGet) -> None:
    rows = data(sim_get, lab, "/cluster/resources")
    kinds = [r["type"] for r in rows]
    assert kinds.count("qemu") == 4 and kinds.count("lxc") == 1 and kinds.count("node") == 3
    assert {r["id"] for r in rows if r["type"] == "pool"} == {"/pool/prod", "/pool/dev"}
    # storages: one row per node where enabled; disabled storage absent; offsite only on pve2
    storages = sorted(r["id"] for r in rows if r["type"] == "storage")
    assert storages == [
        "storage/pve1/local", "storage/pve1/pbs", "storage/pve2/local", "storage/pve2/offsite",
        "storage/pve2/pbs", "storage/pve3/local", "storage/pve3/pbs",
    ]  # fmt: skip
    vms = data(sim_get, lab, "/cluster/resources", type="vm")
    assert [r["vmid"] for r in vms] == [100, 101, 102, 200, 300]
    web = vms[0]
    assert (web["id"], web["pool"], web["tags"], web["hastate"], web["template"]) == (
        "qemu/100", "prod", "prod;web", "started", 0,
    )  # fmt: skip
    assert vms[1]["lock"] == "backup" and "tags" not in vms[1]
    assert vms[2]["template"] == 1 and "pool" not in vms[2]
    assert [r["type"] for r in data(sim_get, lab, "/cluster/resources", type="node")] == [
        "node"
    ] * 3


def test_offline_node(lab: Simulator, sim_get: SimGet) -> None:
    vms = {r["vmid"]: r for r in data(sim_get, lab, "/cluster/resources", type="vm")}
    assert vms[300] == {"id": "qemu/300", "vmid": 300, "node": "pve3", "type": "qemu",
                        "status": "unknown"}  # fmt: skip
    nodes = {n["node"]: n for n in data(sim_get, lab, "/nodes")}
    assert nodes["pve3"]["status"] == "offline" and "uptime" not in nodes["pve3"]
    assert nodes["pve1"]["status"] == "online" and nodes["pve1"]["uptime"] > 0
    for path in ("/nodes/pve3/tasks", "/nodes/pve3/time", "/nodes/pve3/qemu/300/config"):
        assert_error(
            sim_get(lab, path),
            595,
            "Errors during connection establishment, proxy handler: No route to host",
        )
    assert sim_get(lab, "/nodes/pve9/tasks").status_code == 500
    storage_rows = data(sim_get, lab, "/cluster/resources", type="storage")
    offline = [r for r in storage_rows if r["node"] == "pve3"]
    assert offline and all(r["status"] == "unknown" and "disk" not in r for r in offline)


def test_backup_jobs(lab: Simulator, sim_get: SimGet) -> None:
    jobs = data(sim_get, lab, "/cluster/backup")
    assert [j["id"] for j in jobs] == ["abc:1", "daily"]  # legacy first
    assert "next-run" not in jobs[0] and jobs[1]["next-run"] == NOW + 9 * H
    assert jobs[1]["exclude"] == "102" and jobs[1]["all"] == 1
    assert data(sim_get, lab, "/cluster/backup/daily") == jobs[1]
    response = sim_get(lab, "/cluster/backup/nope")
    assert response.status_code == 400
    assert response.json()["errors"] == {"id": "No such job 'nope'"}


def test_not_backed_up_follows_pve_semantics(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    jobs = [
        # disabled and local-storage jobs still count as covering (PVE ignores both)
        {"id": "off", "type": "vzdump", "enabled": 0, "vmid": "100", "storage": "pbs"},
        {"id": "loc", "type": "vzdump", "vmid": "101", "storage": "local"},
        # node restriction drops guests that live elsewhere (200 is on pve2)
        {"id": "n1", "type": "vzdump", "vmid": "200", "node": "pve1"},
        # a pool job ignores exclude
        {"id": "pool", "type": "vzdump", "pool": "prod", "exclude": "100"},
        # exclude without all selects nothing in this endpoint
        {"id": "ex", "type": "vzdump", "exclude": "102"},
    ]
    sim = simulator_factory(cluster(jobs=jobs))
    assert data(sim_get, sim, "/cluster/backup-info/not-backed-up") == [
        {"vmid": 102, "type": "qemu", "name": "tmpl"},
        {"vmid": 200, "type": "lxc", "name": "dns"},
        {"vmid": 300, "type": "qemu", "name": "lost"},
    ]


def test_not_backed_up_fails_as_a_whole_for_a_missing_pool(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    sim = simulator_factory(cluster(jobs=[{"id": "p", "type": "vzdump", "pool": "gone"}]))
    assert_error(
        sim_get(sim, "/cluster/backup-info/not-backed-up"), 500, "pool 'gone' does not exist"
    )


def test_pools(lab: Simulator, sim_get: SimGet) -> None:
    assert data(sim_get, lab, "/pools") == [
        {"poolid": "prod", "comment": "Production"}, {"poolid": "dev"},
    ]  # fmt: skip
    (prod,) = data(sim_get, lab, "/pools", poolid="prod")
    assert prod["poolid"] == "prod" and prod["comment"] == "Production"
    assert [m["id"] for m in prod["members"]] == ["qemu/100", "qemu/101"]
    assert all("pool" not in m and "tags" not in m for m in prod["members"])
    assert data(sim_get, lab, "/pools", poolid="prod", type="lxc")[0]["members"] == []
    single = data(sim_get, lab, "/pools/prod")
    assert "poolid" not in single and single["members"] == prod["members"]
    assert_error(sim_get(lab, "/pools", params={"poolid": "x"}), 500, "pool 'x' does not exist")
    assert sim_get(lab, "/pools", params={"type": "qemu"}).status_code == 400


def test_storage_config(lab: Simulator, sim_get: SimGet) -> None:
    storages = data(sim_get, lab, "/storage")
    assert [s["storage"] for s in storages] == ["pbs", "offsite", "old", "local"]
    assert len({s["digest"] for s in storages}) == 1
    assert storages[0]["content"] == "backup" and storages[2]["disable"] == 1
    assert [s["storage"] for s in data(sim_get, lab, "/storage", type="dir")] == ["local"]


def test_node_time_in_the_node_timezone(lab: Simulator, sim_get: SimGet) -> None:
    assert data(sim_get, lab, "/nodes/pve1/time") == {
        "timezone": "Europe/Paris", "time": NOW, "localtime": NOW + 3600,
    }  # fmt: skip


def test_access_permissions(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    """acl ``PVE::RPCEnvironment::get_effective_permissions``: top-level paths, ACL paths
    and pool members, ``{priv: propagate}``, paths without privileges left out; pool-only
    privileges reach the members unpropagated (``compile_acl_path``)."""
    sim = simulator_factory(
        cluster(privileges={"/nodes": ["Sys.Audit"], "/storage": ["Datastore.Audit"],
                            "/pool/prod": ["VM.Audit", "Pool.Audit"]})
    )  # fmt: skip
    pool_only = {"Pool.Audit": 0, "VM.Audit": 0}
    assert data(sim_get, sim, "/access/permissions") == {
        "/nodes": {"Sys.Audit": 1}, "/storage": {"Datastore.Audit": 1},
        "/pool/prod": {"Pool.Audit": 1, "VM.Audit": 1},
        "/vms/100": pool_only, "/vms/101": pool_only,
    }  # fmt: skip
    assert data(sim_get, sim, "/access/permissions", path="/vms/100") == {"/vms/100": pool_only}
    assert data(sim_get, sim, "/access/permissions", path="/vms/200") == {}
    assert data(sim_get, sim, "/access/permissions", path="/nodes/pve1") == {
        "/nodes/pve1": {"Sys.Audit": 1}
    }


# -- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/cluster/backup", "Permission check failed (/, Sys.Audit)"),
        ("/cluster/backup/daily", "Permission check failed (/, Sys.Audit)"),
        ("/cluster/backup-info/not-backed-up", "Permission check failed (/, Sys.Audit)"),
        ("/cluster/status", "Permission check failed (/, Sys.Audit)"),
        ("/nodes/pve1/time", "Permission check failed (/nodes/pve1, Sys.Audit)"),
        ("/pools/prod", "Permission check failed (/pool/prod, Pool.Audit)"),
        ("/nodes/pve1/qemu/100/config", "Permission check failed (/vms/100, VM.Audit)"),
        (
            "/nodes/pve1/storage/pbs/content",
            "Permission check failed (/storage/pbs, Datastore.Audit|Datastore.AllocateSpace)",
        ),
        (
            "/nodes/pve1/vzdump/defaults",
            "Permission check failed (/storage/pbs, Datastore.Audit|Datastore.AllocateSpace)",
        ),
    ],
)
def test_hard_permission_checks(
    simulator_factory: SimulatorFactory, sim_get: SimGet, path: str, message: str
) -> None:
    sim = simulator_factory(cluster(privileges={}))
    assert_error(sim_get(sim, path), 403, message)


def test_task_log_and_status_need_sys_audit_unless_own_task(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    sim = simulator_factory(cluster(privileges={"/vms": ["VM.Audit"]}))
    tasks = data(sim_get, sim, "/nodes/pve1/tasks")
    assert [t["type"] for t in tasks] == ["aptupdate"]  # only the token's own task
    own = tasks[0]
    assert (own["user"], own["tokenid"]) == ("monitor@pve", "check")
    assert data(sim_get, sim, f"/nodes/pve1/tasks/{own['upid']}/log") == [
        {"n": 1, "t": "no content"}
    ]
    root_upid = data(sim_get, simulator_factory(cluster()), "/nodes/pve1/tasks")[0]["upid"]
    for suffix in ("log", "status"):
        assert_error(
            sim_get(sim, f"/nodes/pve1/tasks/{root_upid}/{suffix}"),
            403,
            "Permission check failed (/nodes/pve1, Sys.Audit)",
        )
    assert data(sim_get, sim, "/cluster/tasks") == []


def test_silent_filtering_of_guests_pools_and_storages(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    sim = simulator_factory(
        cluster(
            privileges={
                "/": ["Sys.Audit"],
                "/vms/100": ["VM.Audit"],
                "/pool/dev": ["VM.Audit"],  # reaches 200, a dev member
                "/storage/local": ["Datastore.AllocateSpace"],
            }
        )
    )
    vms = data(sim_get, sim, "/cluster/resources", type="vm")
    assert [v["vmid"] for v in vms] == [100, 200]
    assert all("pool" not in v for v in vms)  # no Pool.Audit anywhere
    assert data(sim_get, sim, "/pools") == []
    assert data(sim_get, sim, "/cluster/resources", type="storage") == []  # needs Datastore.Audit
    assert [s["storage"] for s in data(sim_get, sim, "/storage")] == ["local"]
    assert [g["vmid"] for g in data(sim_get, sim, "/cluster/backup-info/not-backed-up")] == []
    (prod,) = data(sim_get, sim, "/pools", poolid="prod")  # Pool.Audit not enforced upstream
    assert [m["vmid"] for m in prod["members"]] == [100]
    nodes = data(sim_get, sim, "/cluster/resources", type="node")
    assert len(nodes) == 3  # node rows are always listed


def test_node_stats_need_sys_audit(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(cluster(privileges={"/vms": ["VM.Audit"]}))
    pve1 = data(sim_get, sim, "/nodes")[0]
    assert pve1["status"] == "online" and "mem" not in pve1 and "uptime" not in pve1


@pytest.mark.parametrize(
    ("privileges", "visible"),
    [
        ({"/": ["PVEAuditor"]}, []),  # the famous trap: 200 with an empty list
        ({"/": ["PVEAuditor"], "/storage/pbs": ["Datastore.Allocate"]}, [200, 100, 100]),
        ({"/": ["PVEAuditor", "Datastore.AllocateSpace"], "/vms/200": ["VM.Backup"]}, [200]),
        ({"/": ["PVEAuditor", "VM.Backup"]}, []),  # VM.Backup without AllocateSpace
    ],
)
def test_backup_volumes_need_more_than_audit(
    simulator_factory: SimulatorFactory,
    sim_get: SimGet,
    privileges: dict[str, Any],
    visible: list[int],
) -> None:
    sim = simulator_factory(cluster(privileges=privileges))
    items = data(sim_get, sim, "/nodes/pve1/storage/pbs/content", content="backup")
    assert [i["vmid"] for i in items] == visible


# -- storage content and configs ---------------------------------------------------------------


@pytest.fixture
def admin(simulator_factory: SimulatorFactory) -> Simulator:
    return simulator_factory(cluster(privileges={"/": ["PVEAuditor", "Datastore.Allocate"]}))


def test_pbs_content_items(admin: Simulator, sim_get: SimGet) -> None:
    items = data(sim_get, admin, "/nodes/pve1/storage/pbs/content", content="backup")
    assert [i["volid"] for i in items] == [
        "pbs:backup/ct/200/2026-11-19T20:01:00Z",
        "pbs:backup/vm/100/2026-11-18T20:00:05Z",
        "pbs:backup/vm/100/2026-11-19T20:00:05Z",
    ]
    ct, old, new = items
    assert ct == {
        "volid": ct["volid"], "vmid": 200, "ctime": 1795118460, "size": 7, "format": "pbs-ct",
        "subtype": "lxc", "content": "backup", "encrypted": "1",
    }  # fmt: skip
    assert old["verification"] == {"state": "failed", "upid": "UPID:pbs:x"}
    assert new["verification"] == {"state": "ok"}
    assert (new["notes"], new["protected"]) == ("web", 1)
    assert data(sim_get, admin, "/nodes/pve2/storage/pbs/content") == items  # shared
    assert [
        i["vmid"] for i in data(sim_get, admin, "/nodes/pve1/storage/pbs/content", vmid=200)
    ] == [200]
    assert data(sim_get, admin, "/nodes/pve1/storage/pbs/content", content="iso") == []


def test_dir_content_is_per_node(admin: Simulator, sim_get: SimGet) -> None:
    assert data(sim_get, admin, "/nodes/pve1/storage/local/content") == []
    (item,) = data(sim_get, admin, "/nodes/pve2/storage/local/content")
    assert item["volid"] == "local:backup/vzdump-qemu-101-2026_11_19-22_00_00.vma.zst"
    assert (item["format"], item["subtype"]) == ("vma.zst", "qemu")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nodes/pve1/storage/old/content", "storage 'old' is disabled"),
        (
            "/nodes/pve1/storage/offsite/content",
            "storage 'offsite' is not available on node 'pve1'",
        ),
        ("/nodes/pve1/storage/nope/content", "storage 'nope' does not exist"),
    ],
)
def test_storage_content_errors(admin: Simulator, sim_get: SimGet, path: str, message: str) -> None:
    assert_error(sim_get(admin, path), 500, message)


def test_guest_configs(lab: Simulator, sim_get: SimGet) -> None:
    web = data(sim_get, lab, "/nodes/pve1/qemu/100/config")
    assert (web["name"], web["description"], web["tags"], web["memory"]) == (
        "web", "Main web server", "prod;web", "2048",
    )  # fmt: skip
    assert isinstance(web["cores"], int) and len(web["digest"]) == 40
    assert data(sim_get, lab, "/nodes/pve1/qemu/102/config")["template"] == 1
    dns = data(sim_get, lab, "/nodes/pve2/lxc/200/config")
    assert dns["hostname"] == "dns" and dns["memory"] == 2048
    assert data(sim_get, lab, "/nodes/pve2/qemu/101/config")["lock"] == "backup"
    assert_error(
        sim_get(lab, "/nodes/pve2/qemu/100/config"),
        500,
        "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist",
    )
    assert_error(
        sim_get(lab, "/nodes/pve2/lxc/101/config"),
        500,
        "Configuration file 'nodes/pve2/lxc/101.conf' does not exist",
    )
    assert sim_get(lab, "/nodes/pve1/qemu/abc/config").status_code == 400


def test_vzdump_defaults(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    """mgr ``PVE/API2/VZDump.pm`` ``defaults``: ``storage: local`` when vzdump.conf sets
    neither storage nor dumpdir, a directory storage's backup directory as ``dumpdir``
    (``PVE::VZDump::storage_info``), ``dumpdir`` hidden without Sys.Audit on the node."""
    full = simulator_factory(cluster())
    assert data(sim_get, full, "/nodes/pve1/vzdump/defaults") == {
        "storage": "pbs", "mailto": "root@example.com",
    }  # fmt: skip
    assert data(sim_get, full, "/nodes/pve2/vzdump/defaults") == {
        "storage": "local", "dumpdir": "/var/lib/vz/dump",
    }  # fmt: skip
    limited = simulator_factory(cluster(privileges={"/storage": ["Datastore.Audit"]}))
    assert data(sim_get, limited, "/nodes/pve1/vzdump/defaults") == {"storage": "pbs"}
    assert data(sim_get, limited, "/nodes/pve2/vzdump/defaults") == {"storage": "local"}


def test_vzdump_defaults_with_dumpdir(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    """mgr ``PVE/API2/VZDump.pm`` ``defaults``: a vzdump.conf ``dumpdir`` without
    ``storage`` is answered as ``dumpdir`` and no ``storage`` (hidden entirely without
    Sys.Audit on the node); with ``storage`` too, ``read_vzdump_defaults`` drops it."""

    def with_dumpdir(privileges: dict[str, Any] | None = None) -> dict[str, Any]:
        scenario = cluster(privileges)
        scenario["nodes"][0]["vzdump_defaults"] = {"storage": "pbs", "dumpdir": "/mnt/usb"}
        scenario["nodes"][1]["vzdump_defaults"] = {"dumpdir": "/mnt/usb"}
        return scenario

    full = simulator_factory(with_dumpdir())
    assert data(sim_get, full, "/nodes/pve2/vzdump/defaults") == {"dumpdir": "/mnt/usb"}
    assert data(sim_get, full, "/nodes/pve1/vzdump/defaults") == {"storage": "pbs"}
    limited = simulator_factory(with_dumpdir({"/storage": ["Datastore.Audit"]}))
    assert data(sim_get, limited, "/nodes/pve2/vzdump/defaults") == {}


# -- task lists, logs and status -------------------------------------------------------------


def test_node_task_list_defaults(lab: Simulator, sim_get: SimGet) -> None:
    body = sim_get(lab, "/nodes/pve1/tasks").json()
    tasks = body["data"]
    assert body["total"] == 4 == len(tasks)  # the running one only with source=active|all
    assert [t["starttime"] for t in tasks] == sorted((t["starttime"] for t in tasks), reverse=True)
    first = tasks[0]
    assert set(first) == {"upid", "node", "pid", "pstart", "starttime", "type", "id", "user",
                          "endtime", "status"}  # fmt: skip
    assert first["upid"].startswith("UPID:pve1:") and first["upid"].endswith(":admin@pam:")


def test_task_sources_and_running(lab: Simulator, sim_get: SimGet) -> None:
    (running,) = data(sim_get, lab, "/nodes/pve1/tasks", source="active")
    assert running["status"] == "RUNNING" and "endtime" not in running
    assert len(data(sim_get, lab, "/nodes/pve1/tasks", source="all")) == 5
    status = data(sim_get, lab, f"/nodes/pve1/tasks/{running['upid']}/status")
    assert status["status"] == "running" and "exitstatus" not in status


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"typefilter": "vzdump"}, ["vzdump", "vzdump"]),
        ({"vmid": "100"}, ["qmstart", "vzdump"]),  # only tasks whose id is the vmid
        ({"userfilter": "ADMIN"}, ["qmstart"]),
        ({"since": NOW - 6 * H}, ["qmstart", "aptupdate"]),
        ({"until": NOW - 16 * H}, ["vzdump", "vzdump"]),
        ({"errors": "1"}, ["qmstart", "aptupdate", "vzdump"]),
        ({"statusfilter": "warning,unknown"}, ["qmstart", "aptupdate"]),
        ({"source": "all", "statusfilter": "ok"}, ["vzdump"]),
        ({"start": "1", "limit": "2"}, ["aptupdate", "vzdump"]),
        ({"limit": "0"}, []),
    ],
)
def test_task_list_filters(
    lab: Simulator, sim_get: SimGet, params: dict[str, Any], expected: list[str]
) -> None:
    body = sim_get(lab, "/nodes/pve1/tasks", params=params).json()
    assert [t["type"] for t in body["data"]] == expected
    if "start" in params or "limit" in params:
        assert body["total"] == 4


def test_task_log_paging(lab: Simulator, sim_get: SimGet) -> None:
    upid = data(sim_get, lab, "/nodes/pve1/tasks", typefilter="vzdump")[0]["upid"]
    path = f"/nodes/pve1/tasks/{upid}/log"
    first = sim_get(lab, path).json()
    assert first["total"] == 121 and len(first["data"]) == 50  # default limit
    assert first["data"][0] == {"n": 1, "t": "INFO: line 1"}
    page = sim_get(lab, path, params={"start": 100, "limit": 50}).json()
    assert [i["n"] for i in page["data"]] == list(range(101, 122))
    assert page["data"][-1] == {"n": 121, "t": "TASK OK"}
    everything = sim_get(lab, path, params={"limit": 0}).json()
    assert len(everything["data"]) == 121 == everything["total"]
    assert sim_get(lab, path, params={"start": 500}).json() == {"data": [], "total": 121}


def test_task_status_and_unknown_tasks(lab: Simulator, sim_get: SimGet) -> None:
    tasks = {t["type"] + t["id"]: t for t in data(sim_get, lab, "/nodes/pve1/tasks")}
    failed = tasks["vzdump100"]
    status = data(sim_get, lab, f"/nodes/pve1/tasks/{failed['upid']}/status")
    assert status == {k: failed[k] for k in ("upid", "node", "pid", "pstart", "starttime",
                                            "type", "id", "user")} | {
        "status": "stopped", "exitstatus": "job errors"}  # fmt: skip
    assert data(sim_get, lab, f"/nodes/pve1/tasks/{failed['upid']}/log") == [
        {"n": 1, "t": "TASK ERROR: job errors"}
    ]
    # a valid UPID the node does not know: PVE cannot open the log file
    ghost = failed["upid"].replace("vzdump", "qmstart")
    assert data(sim_get, lab, f"/nodes/pve1/tasks/{ghost}/log") == [
        {"n": 1, "t": "unable to open file - No such file or directory"}
    ]
    assert data(sim_get, lab, f"/nodes/pve1/tasks/{ghost}/status")["exitstatus"].startswith(
        "unable to open file"
    )
    assert sim_get(lab, "/nodes/pve1/tasks/not-a-upid/log").status_code == 500


def test_cluster_tasks_window(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    many = [
        {"node": "pve1", "type": "qmstart", "id": "100", "starttime": NOW - i * 60}
        for i in range(1, 31)
    ] + [{"node": "pve2", "type": "vncproxy", "starttime": NOW - 5, "status": "running"}]
    sim = simulator_factory(cluster(tasks=many))
    items = data(sim_get, sim, "/cluster/tasks")
    pve1 = [i for i in items if i["node"] == "pve1"]
    assert len(pve1) == 25 and pve1[0]["starttime"] == NOW - 60
    assert all("pstart" not in i and "pid" not in i and i["saved"] == 1 for i in pve1)
    (running,) = [i for i in items if i["node"] == "pve2"]
    assert running["saved"] == 0 and "pid" in running and "status" not in running
