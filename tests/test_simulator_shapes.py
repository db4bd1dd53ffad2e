"""The simulator's answers against real PVE samples and the PVE API schema (keys and JSON types).

Samples and the trimmed schema live in ``tests/fixtures/samples`` (see SOURCE.md there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import SimGet, SimulatorFactory
from pve_sim import Simulator

SAMPLES = Path(__file__).parent / "fixtures" / "samples"
NOW = 1795176000
FULL = ["PVEAuditor", "Datastore.Allocate", "VM.Backup"]


def sample(name: str) -> Any:
    raw = json.loads((SAMPLES / f"{name}.json").read_text())
    return raw["data"] if isinstance(raw, dict) and set(raw) == {"data"} else raw


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def assert_same_shape(ours: dict[str, Any], real: dict[str, Any]) -> None:
    """The same keys, and the same JSON type for every key."""
    assert set(ours) == set(real), (sorted(ours), sorted(real))
    for key in set(ours) & set(real):
        assert json_type(ours[key]) == json_type(real[key]), key


SCHEMA = json.loads((SAMPLES / "pve-api-schema-returns.json").read_text())["returns"]


def schema_errors(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Check required keys and JSON types; PVE booleans are 0/1 integers."""
    kind = schema.get("type")
    errors: list[str] = []
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        errors.append(f"{where}: expected integer, got {value!r}")
    elif kind == "number" and json_type(value) != "number":
        errors.append(f"{where}: expected number, got {value!r}")
    elif kind == "string" and not isinstance(value, str):
        errors.append(f"{where}: expected string, got {value!r}")
    elif kind == "boolean" and value not in (0, 1):
        errors.append(f"{where}: expected 0/1, got {value!r}")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected array"]
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{where}[{i}]")
    elif kind == "object" or (kind is None and "properties" in schema):
        errors += _object_errors(value, schema.get("properties", {}), where)
    return errors


def _object_errors(value: Any, props: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected object"]
    errors = [
        f"{where}.{name}: required key missing"
        for name, prop in props.items()
        if "[n]" not in name and not prop.get("optional") and name not in value
    ]
    for key, item in value.items():
        prop = props.get(key) or next(
            (p for n, p in props.items() if "[n]" in n and re.fullmatch(
                re.escape(n).replace(r"\[n\]", r"\d+"), key)),
            None,
        )  # fmt: skip
        if prop is not None:
            errors += schema_errors(item, prop, f"{where}.{key}")
    return errors


def test_schema_checker_catches_mistakes() -> None:
    schema = SCHEMA["/nodes/{node}/tasks"]
    good = [{"upid": "U", "node": "n", "pid": 1, "pstart": 2, "starttime": 3, "type": "t",
             "id": "", "user": "u", "status": "OK", "endtime": 4}]  # fmt: skip
    assert schema_errors(good, schema) == []
    bad = [{**good[0], "pid": "1"}]
    del bad[0]["user"]
    assert schema_errors(bad, schema) == [
        "[0].user: required key missing",
        "[0].pid: expected integer, got '1'",
    ]


@pytest.fixture(scope="module")
def full_demo(demo_scenario: Any) -> Any:
    """The demo served to a token that may also read backup volumes."""
    from dataclasses import replace

    from pve_sim.permissions import TokenAcl, expand

    token = replace(demo_scenario.token, acl=TokenAcl({"/": expand(FULL)}))
    with Simulator(replace(demo_scenario, token=token)) as sim:
        yield sim


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/version", "/version", None),
        ("/nodes", "/nodes", None),
        ("/cluster/status", "/cluster/status", None),
        ("/cluster/resources", "/cluster/resources", None),
        ("/cluster/backup", "/cluster/backup", None),
        ("/cluster/backup/{id}", "/cluster/backup/backup-4f9a2c1e-7d3b", None),
        ("/cluster/backup-info/not-backed-up", "/cluster/backup-info/not-backed-up", None),
        ("/cluster/tasks", "/cluster/tasks", None),
        ("/nodes/{node}/tasks", "/nodes/pve1/tasks", {"source": "all", "limit": 500}),
        ("/pools", "/pools", None),
        ("/pools", "/pools", {"poolid": "prod"}),
        ("/pools/{poolid}", "/pools/dev", None),
        ("/storage", "/storage", None),
        ("/nodes/{node}/storage/{storage}/content", "/nodes/pve1/storage/pbs-main/content", None),
        ("/nodes/{node}/storage/{storage}/content", "/nodes/pve3/storage/local/content", None),
        ("/nodes/{node}/qemu/{vmid}/config", "/nodes/pve1/qemu/100/config", None),
        ("/nodes/{node}/qemu/{vmid}/config", "/nodes/pve1/qemu/9000/config", None),
        ("/nodes/{node}/lxc/{vmid}/config", "/nodes/pve1/lxc/200/config", None),
        ("/nodes/{node}/vzdump/defaults", "/nodes/pve1/vzdump/defaults", None),
    ],
)
def test_answers_match_the_schema(
    full_demo: Simulator, sim_get: SimGet, pattern: str, path: str, params: Any
) -> None:
    response = sim_get(full_demo, path, params=params)
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] not in (None, [], {}) or path.endswith("not-backed-up")
    assert schema_errors(payload["data"], SCHEMA[pattern]) == []


def test_task_status_and_log_match_the_schema(full_demo: Simulator, sim_get: SimGet) -> None:
    tasks = sim_get(full_demo, "/nodes/pve2/tasks", params={"source": "all"}).json()["data"]
    for task in (tasks[0], next(t for t in tasks if t["status"] == "RUNNING")):
        base = f"/nodes/pve2/tasks/{task['upid']}"
        status = sim_get(full_demo, base + "/status").json()["data"]
        assert schema_errors(status, SCHEMA["/nodes/{node}/tasks/{upid}/status"]) == []
        log = sim_get(full_demo, base + "/log").json()
        assert schema_errors(log["data"], SCHEMA["/nodes/{node}/tasks/{upid}/log"]) == []
        assert isinstance(log["total"], int)


# -- samples ---------------------------------------------------------------------------------


def scenario_for_samples(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "now": NOW,
        "token": {"privileges": {"/": FULL}},
        "nodes": [{"node": "node1"}, {"node": "node2"}, {"node": "iaclab-01-01"}],
        "guests": [
            {"vmid": 100, "type": "qemu", "name": "server1", "node": "node2"},
            {"vmid": 101, "type": "qemu", "name": "test1", "node": "node2", "status": "stopped"},
            {"vmid": 102, "type": "lxc", "name": "ct", "node": "node1"},
        ],
        "pools": [{"poolid": "pool1", "comment": "Test pool", "members": [101]}],
        "storages": [{"storage": "local", "type": "dir", "path": "/var/lib/vz",
                      "content": "backup,vztmpl,iso"}],
    }  # fmt: skip
    data.update(extra)
    return data


@pytest.fixture
def samples_sim(simulator_factory: SimulatorFactory) -> Simulator:
    return simulator_factory(scenario_for_samples())


def get(sim_get: SimGet, sim: Simulator, path: str, **params: Any) -> Any:
    response = sim_get(sim, path, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_cluster_resources_rows(samples_sim: Simulator, sim_get: SimGet) -> None:
    real_rows = sample("cluster-resources.pve8x.go-proxmox")
    real = {r["type"]: r for r in real_rows if "tags" not in r}
    ours = {
        r["type"] + str(r.get("vmid", "")): r
        for r in get(sim_get, samples_sim, "/cluster/resources")
    }
    assert_same_shape(ours["qemu100"], real["qemu"])
    assert_same_shape(ours["node"], real["node"])
    assert_same_shape(ours["storage"], real["storage"])
    assert ours["qemu100"]["template"] == 0 and isinstance(ours["qemu100"]["vmid"], int)
    vm_rows = {r["id"]: r for r in sample("cluster-resources.vm.community-proxmox")}
    assert_same_shape(ours["qemu101"], vm_rows["qemu/101"])  # with "pool"
    assert_same_shape(ours["lxc102"], vm_rows["lxc/102"])
    (pool_row,) = [r for r in ours.values() if r["type"] == "pool"]
    assert pool_row == {"id": "/pool/pool1", "pool": "pool1", "type": "pool"}


def test_nodes_and_cluster_status(samples_sim: Simulator, sim_get: SimGet) -> None:
    assert_same_shape(get(sim_get, samples_sim, "/nodes")[0], sample("nodes.go-proxmox-pve9x")[0])
    real = sample("cluster-status.community-proxmox-inventory")
    ours = get(sim_get, samples_sim, "/cluster/status")
    assert_same_shape(ours[0], real[0])  # a node entry (no cluster_name: standalone)


def test_cluster_backup_round_trips_the_real_pvesh_output(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    real = sample("cluster-backup.cv4pve-admin-issue48")
    sim = simulator_factory(scenario_for_samples(jobs=real))
    assert get(sim_get, sim, "/cluster/backup") == real
    assert get(sim_get, sim, f"/cluster/backup/{real[1]['id']}") == real[1]


def test_storage_round_trip(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    real = sample("storage.with-pbs.community-proxmox")
    given = [{k: v for k, v in s.items() if k != "digest"} for s in real]
    sim = simulator_factory(scenario_for_samples(storages=given))
    ours = get(sim_get, sim, "/storage")
    assert [{k: v for k, v in s.items() if k != "digest"} for s in ours] == given
    assert_same_shape(ours[0], real[0])


def test_node_task_item_equals_the_real_one(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    real = sample("nodes-node-tasks.pve6.4.community-proxmox")
    tasks = [{"upid": t["upid"], "endtime": t["endtime"], "status": t["status"]} for t in real]
    sim = simulator_factory(scenario_for_samples(tasks=tasks))
    assert get(sim_get, sim, "/nodes/iaclab-01-01/tasks") == real


def test_task_status_and_log_shapes(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    real_status = sample("nodes-node-tasks-upid-status.vzdump.community-proxmox")["node1"]
    real_log = sample("nodes-node-tasks-upid-log.vzdump.abridged.community-proxmox")["node1"]
    log = "\n".join(item["t"] for item in real_log)
    upid = real_status["upid"]
    sim = simulator_factory(scenario_for_samples(tasks=[{"upid": upid, "log": log}]))
    status = get(sim_get, sim, f"/nodes/node1/tasks/{upid}/status")
    assert_same_shape(status, real_status)
    assert (status["status"], status["exitstatus"]) == ("stopped", "OK")
    page = get(sim_get, sim, f"/nodes/node1/tasks/{upid}/log")
    assert [item["t"] for item in page] == [item["t"] for item in real_log]
    for ours, theirs in zip(page, real_log, strict=True):
        assert_same_shape(ours, theirs)


def test_pbs_content_item_equals_the_real_one(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    real = sample("nodes-node-storage-content.pbs.community-proxmox")
    sim = simulator_factory(
        scenario_for_samples(
            storages=[{"storage": "datastore", "type": "pbs", "server": "192.0.2.1",
                       "datastore": "ds"}],
            backups=[{"storage": "datastore", "vmid": r["vmid"], "type": "qemu",
                      "ctime": r["ctime"], "size": r["size"]} for r in real],
        )
    )  # fmt: skip
    assert get(sim_get, sim, "/nodes/node1/storage/datastore/content", content="backup") == real


def test_pools_shapes(samples_sim: Simulator, sim_get: SimGet) -> None:
    real = sample("pools-with-members.go-proxmox-pve9x")[0]
    (ours,) = get(sim_get, samples_sim, "/pools", poolid="pool1")
    assert_same_shape(ours, real)
    assert_same_shape(ours["members"][0], real["members"][0])
    other = sample("pools-query-poolid.community-proxmox-inventory")[0]
    assert_same_shape(ours["members"][0], other["members"][0])
    single = get(sim_get, samples_sim, "/pools/pool1")
    assert_same_shape(single, sample("pools-poolid.go-proxmox-pve9x"))
    assert_same_shape(get(sim_get, samples_sim, "/pools")[0], sample("pools.go-proxmox-pve9x")[0])


def test_not_backed_up_shape(samples_sim: Simulator, sim_get: SimGet) -> None:
    real = sample("cluster-backup-info-not-backed-up.go-proxmox-pve9x")[0]
    ours = get(sim_get, samples_sim, "/cluster/backup-info/not-backed-up")
    assert ours[0] == {"vmid": 100, "type": "qemu", "name": "server1"}
    assert_same_shape(ours[0], real)


def test_guest_config_types(samples_sim: Simulator, sim_get: SimGet) -> None:
    qemu = get(sim_get, samples_sim, "/nodes/node2/qemu/101/config")
    real_qemu = sample("nodes-node-qemu-vmid-config.101.community-proxmox-inventory")
    for key in set(qemu) & set(real_qemu) - {"memory"}:  # PVE 8+ sends memory as a string
        assert json_type(qemu[key]) == json_type(real_qemu[key]), key
    assert isinstance(qemu["memory"], str)
    lxc = get(sim_get, samples_sim, "/nodes/node1/lxc/102/config")
    real_lxc = sample("nodes-node-lxc-vmid-config.100.community-proxmox-inventory")
    shared = set(lxc) & set(real_lxc)
    assert {"hostname", "memory", "cores", "digest", "net0", "rootfs"} <= shared
    for key in shared:
        assert json_type(lxc[key]) == json_type(real_lxc[key]), key
