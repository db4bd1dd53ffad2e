"""The PBS API: config, client, simulator and the check end to end (issue 15).

Upstream: proxmox-backup ``src/api2/admin/datastore.rs`` (``list_snapshots``,
``garbage_collection_status``), ``src/api2/status.rs`` (``datastore_status``),
``src/api2/admin/verify.rs`` (``list_verification_jobs``), ``src/auth.rs``
(``PBSAPIToken``), pve-storage ``src/PVE/Storage/PBSPlugin.pm`` (``list_volumes``) and
``src/PVE/API2/Storage/Status.pm`` (``read_status``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from builders import scenario_file, storage
from pve_backup_report.analysis.pbs_health import (
    JobRun,
    SnapshotVerification,
    job_anomalies,
    outdated_verifications,
    pbs_upid_start,
)
from pve_backup_report.collect.pbs import match_storages, to_pve_item
from pve_backup_report.collect.pbs_client import PbsClient
from pve_backup_report.config import Sources, merge, redact
from pve_backup_report.errors import ApiHttpError, ConfigError
from pve_backup_report.pbs_config import PbsServer
from pve_sim import Scenario, Simulator

HERE = Path(__file__).parent
PBS_YAML = HERE / "scenarios" / "pbs.yaml"
NOW = "2026-11-20T12:00:00Z"
PVE_CANARY = "canary-pve-5ecret-0001"
PBS_CANARY = "canary-pbs-5ecret-0002"


def run(sim: Simulator, *args: str, pbs_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PVE_", "PBS_"))}
    env["XDG_CACHE_HOME"] = os.environ.get("PYTEST_CACHE_HOME", "/nonexistent-cache")
    env.update(
        PVE_HOST=sim.url,
        PVE_API_TOKEN_ID=sim.token_id,
        PVE_API_TOKEN_SECRET=sim.token_secret,
        PBS_HOST=pbs_url or str(sim.pbs_url),
        PBS_API_TOKEN_ID=str(sim.pbs_token_id),
        PBS_API_TOKEN_SECRET=str(sim.pbs_token_secret),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
    )
    for canary in (PVE_CANARY, PBS_CANARY):
        assert canary not in proc.stdout + proc.stderr
    return proc


def perfdata(out: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in out.split("|", 1)[1].split())


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_CACHE_HOME", str(tmp_path / "cache"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- end to end


def test_read_only_tokens_on_a_healthy_cluster_are_ok_without_privilege_warning() -> None:
    """PVEAuditor on PVE + DatastoreAudit on PBS: complete, no write privilege anywhere;
    the snapshots come from PBS, PVE's storage-content call is not made."""
    with Simulator(Scenario.from_dict(scenario_file("pbs"))) as sim:
        proc = run(sim, "--now", NOW, "-v")
        pve_paths = sim.stats.per_path
        pbs_paths = sim.pbs.stats.per_path if sim.pbs else {}
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.startswith("PVE_BACKUP OK - 2 of 2 guests covered")
    assert "permission" not in proc.stdout.lower()
    assert not any(p.endswith("/content") for p in pve_paths)
    assert "/admin/datastore/main/snapshots" in pbs_paths
    perf = perfdata(proc.stdout)
    assert perf["'storage_pbs-main_used'"].startswith("25.0%;85;95")
    assert "'storage_pbs-main_full_in'" in perf


def test_failed_verification_is_found_through_pbs() -> None:
    data = scenario_file("pbs")
    data["backups"][0]["verification"] = "failed"
    with Simulator(Scenario.from_dict(data)) as sim:
        proc = run(sim, "--now", NOW)
    assert proc.returncode == 2
    assert "1 failed verification (vm 100 web1)" in proc.stdout


def test_pbs_down_falls_back_to_pve_with_a_warning_and_right_coverage() -> None:
    with Simulator(Scenario.from_dict(scenario_file("pbs"))) as sim:
        proc = run(sim, "--now", NOW, "-v", pbs_url=f"127.0.0.1:{_free_port()}")
    assert proc.returncode == 1, proc.stdout
    first = proc.stdout.splitlines()[0]
    assert first.startswith("PVE_BACKUP WARNING - ")
    assert "not usable (cannot connect to 127.0.0.1" in proc.stdout
    assert "Traceback" not in proc.stderr
    perf = perfdata(proc.stdout)
    assert perf["guests_covered"].startswith("2;")
    assert perf["guests_not_covered"].startswith("0;")


def test_nearly_full_datastore_warns_with_perfdata() -> None:
    """Space from ``.../storage/{id}/status`` (pve-storage ``Status.pm`` ``read_status``)."""
    data = scenario_file("pbs")
    data["storages"][0]["status"] = {"total": 1000, "used": 910}
    with Simulator(Scenario.from_dict(data)) as sim:
        proc = run(sim, "--now", NOW)
    assert proc.returncode == 1, proc.stdout
    assert "PBS storage pbs-main 91% used (limit 85%)" in proc.stdout.splitlines()[0]
    assert perfdata(proc.stdout)["'storage_pbs-main_used'"].startswith("91.0%;85;95;0;100")


def test_storage_thresholds_are_nagios_ranges_from_the_command_line() -> None:
    data = scenario_file("pbs")
    data["storages"][0]["status"] = {"total": 1000, "used": 910}
    with Simulator(Scenario.from_dict(data)) as sim:
        proc = run(sim, "--now", NOW, "--warn-storage-used", "95", "--crit-storage-used", "99")
    assert proc.returncode == 0, proc.stdout


def test_failed_gc_and_late_verify_job_are_anomalies() -> None:
    data = scenario_file("pbs")
    store = data["pbs"]["datastores"]["main"]
    store["gc"]["state"] = "unable to start garbage collection - disk full"
    store["verify"][0]["last_run"] = "2026-11-10T03:00:00Z"
    with Simulator(Scenario.from_dict(data)) as sim:
        proc = run(sim, "--now", NOW, "-v")
    assert proc.returncode == 1
    assert "garbage collection of datastore main" in proc.stdout
    assert "disk full" in proc.stdout
    assert "verify job v-main of datastore main" in proc.stdout
    assert "has not run within its schedule 'daily'" in proc.stdout


def test_datastore_backup_role_sees_only_owned_groups_and_is_named() -> None:
    data = scenario_file("pbs")
    data["pbs"]["token"]["privileges"] = {"/datastore/main": ["DatastoreBackup"]}
    with Simulator(Scenario.from_dict(data)) as sim:
        proc = run(sim, "--now", NOW, "-v")
    assert proc.returncode == 1
    assert "lacks the DatastoreAudit role on /datastore/main/prod" in proc.stdout


def test_check_api_names_the_missing_pbs_role() -> None:
    data = scenario_file("pbs")
    data["pbs"]["token"]["privileges"] = {"/datastore/other": ["DatastoreAudit"]}
    data["pbs"]["datastores"]["other"] = {}
    with Simulator(Scenario.from_dict(data)) as sim:
        ok = Simulator(Scenario.from_dict(scenario_file("pbs")))
        with ok:
            good = run(ok, "--check-api")
        bad = run(sim, "--check-api")
    assert good.returncode == 0, good.stdout
    assert "Datastore.Audit (role DatastoreAudit) on /datastore/main: yes" in good.stdout
    # PVE's write privileges for listing PBS content are not needed with PBS configured
    assert "Datastore.Allocate " not in good.stdout and "VM.Backup" not in good.stdout
    assert bad.returncode == 1
    assert "Datastore.Audit (role DatastoreAudit) on /datastore/main: no" in bad.stdout
    assert "proxmox-backup-manager acl update /datastore/main DatastoreAudit" in bad.stdout


def test_pbs_secret_never_appears_even_when_pbs_echoes_it() -> None:
    data = scenario_file("pbs")
    data["pbs"]["faults"] = [
        {"path": "/admin/datastore/*/snapshots", "status": 500, "message": f"x {PBS_CANARY}"}
    ]
    with Simulator(Scenario.from_dict(data)) as sim:
        for args in (("--now", NOW, "-vvv"), ("--check-api",), ("--check-api", "--format", "json")):
            proc = run(sim, *args)
            assert "Traceback" not in proc.stderr
            assert proc.returncode in (1, 2), proc.stdout


# --------------------------------------------------------------------------- simulator


def _get(sim: Simulator, path: str, secret: str | None = None, **params: str) -> requests.Response:
    token = f"{sim.pbs_token_id}:{secret or sim.pbs_token_secret}"
    return requests.get(
        f"{sim.pbs_url}/api2/json{path}",
        params=params,
        headers={"Authorization": f"PBSAPIToken={token}"},
        timeout=10,
    )


def test_simulated_pbs_role_filtering_and_error_shapes() -> None:
    """``list_snapshots``: DatastoreAudit lists all groups, DatastoreBackup only owned ones,
    nothing: 403 naming the privileges; errors are the bare message (``error_to_response``)."""
    data = scenario_file("pbs")
    data["backups"][2]["owner"] = "monitor@pbs!check"
    with Simulator(Scenario.from_dict(data)) as sim:
        audit = _get(sim, "/admin/datastore/main/snapshots", ns="prod").json()["data"]
        assert {(i["backup-type"], i["backup-id"]) for i in audit} == {("vm", "100"), ("ct", "102")}
        assert _get(sim, "/admin/datastore/main/snapshots", secret="wrong").status_code == 401
    data["pbs"]["token"]["privileges"] = {"/datastore/main": ["DatastoreBackup"]}
    with Simulator(Scenario.from_dict(data)) as sim:
        owned = _get(sim, "/admin/datastore/main/snapshots", ns="prod").json()["data"]
        assert [i["backup-id"] for i in owned] == ["102"]
        gc = _get(sim, "/admin/datastore/main/gc")
        assert (gc.status_code, gc.text) == (403, "permission check failed")
    data["pbs"]["token"]["privileges"] = {}
    with Simulator(Scenario.from_dict(data)) as sim:
        denied = _get(sim, "/admin/datastore/main/snapshots", ns="prod")
        assert denied.status_code == 403
        assert denied.text == (
            "permission check failed - missing Datastore.Audit|Datastore.Backup on "
            "/datastore/main/prod"
        )


def test_pve_and_pbs_views_agree() -> None:
    """PVE's content list is PBS's snapshot list translated (``PBSPlugin::list_volumes``)."""
    data = scenario_file("pbs")
    data["token"]["privileges"] = {"/": ["PVEAuditor"], "/storage": ["Datastore.Allocate"]}
    with Simulator(Scenario.from_dict(data)) as sim:
        pve = requests.get(
            f"{sim.api_url}/nodes/pve1/storage/pbs-main/content",
            params={"content": "backup"},
            headers=sim.auth_header,
            timeout=10,
        ).json()["data"]
        pbs = _get(sim, "/admin/datastore/main/snapshots", ns="prod").json()["data"]
    translated = [to_pve_item("pbs-main", i) for i in pbs]
    key = ("volid", "vmid", "ctime", "size", "format")
    assert sorted(tuple(t[k] for k in key) for t in translated if t) == sorted(
        tuple(p[k] for k in key) for p in pve
    )


def test_storage_status_route_like_read_status() -> None:
    """pve-storage ``src/PVE/API2/Storage/Status.pm`` ``read_status`` returns the storage's
    ``PVE::Storage::storage_info`` entry; an unknown storage is ``raise_param_exc``."""
    data = scenario_file("pbs")
    data["storages"][0]["status"] = {"total": 1000, "used": 400}
    with Simulator(Scenario.from_dict(data)) as sim:
        r = requests.get(
            f"{sim.api_url}/nodes/pve1/storage/pbs-main/status", headers=sim.auth_header, timeout=10
        )
        missing = requests.get(
            f"{sim.api_url}/nodes/pve1/storage/nope/status", headers=sim.auth_header, timeout=10
        )
    assert r.json()["data"] == {
        "type": "pbs", "content": "backup", "shared": 0, "enabled": 1, "active": 1,
        "total": 1000, "used": 400, "avail": 600,
    }  # fmt: skip
    assert missing.status_code == 400


def test_simulator_prints_the_pbs_line_second() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pve_sim", "--scenario", str(PBS_YAML)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first, second = proc.stdout.readline(), proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert first.startswith("listening on http://127.0.0.1:")
    assert second.startswith("pbs listening on http://127.0.0.1:")


# --------------------------------------------------------------------------- units


def test_pbs_settings_precedence_and_secret_registry(tmp_path: Path) -> None:
    yaml_pbs = {
        "host": "pbs.example",
        "api_token_id": "a@pbs!x",
        "api_token_secret": "yaml-secret-1",
    }
    s = merge(Sources(environ={"PBS_HOST": "pbs2.example:8100"}, yaml={"pbs": yaml_pbs}))
    (server,) = s.pbs_servers
    assert server.url == "https://pbs2.example:8100" and server.token_id == "a@pbs!x"
    assert "yaml-secret-1" not in redact("x yaml-secret-1 x")
    two = merge(Sources(yaml={"pbs": [yaml_pbs, {**yaml_pbs, "host": "other"}]}))
    assert [x.url for x in two.pbs_servers] == ["https://pbs.example:8007", "https://other:8007"]
    with pytest.raises(ConfigError, match="incomplete"):
        merge(Sources(environ={"PBS_HOST": "pbs"}))
    assert merge(Sources()).pbs_servers == ()


def test_pbs_ca_bundle_must_be_pem_and_errors_name_the_setting(tmp_path: Path) -> None:
    """PBS_CA_BUNDLE gets the same check as PVE_CA_BUNDLE: a DER file (what a browser
    export often gives) fails with the setting that named it, not at the first request."""
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a" + b"\x00" * 64)
    env = {"PBS_HOST": "pbs", "PBS_API_TOKEN_ID": "a@pbs!x", "PBS_API_TOKEN_SECRET": "s1"}
    with pytest.raises(ConfigError, match=r"PBS_CA_BUNDLE.*not a PEM CA bundle.*openssl x509"):
        merge(Sources(environ={**env, "PBS_CA_BUNDLE": str(der)}))
    with pytest.raises(ConfigError, match=r"pbs.*ca_bundle.*cannot read CA bundle"):
        yaml_pbs = {"host": "pbs", "api_token_id": "a@pbs!x", "api_token_secret": "s1",
                    "ca_bundle": str(tmp_path / "missing.pem")}  # fmt: skip
        merge(Sources(yaml={"pbs": yaml_pbs}))
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (server,) = merge(Sources(environ={**env, "PBS_CA_BUNDLE": str(pem)})).pbs_servers
    assert server.ca_bundle == str(pem)


def test_matching_one_server_serves_every_datastore_it_has() -> None:
    st = [
        storage("a", server="10.0.0.1", datastore="main"),
        storage("b", server="10.0.0.2", datastore="other"),
        storage("c", server="10.0.0.2", port=8100, datastore="x"),
    ]
    one = PbsServer("https://pbs:8007", "a@pbs!x", None)
    assert match_storages(st, [one], [{"main", "other"}]) == {"a": 0, "b": 0}
    s1 = PbsServer("https://10.0.0.1:8007", "a@pbs!x", None)
    s2 = PbsServer("https://10.0.0.2:8100", "a@pbs!x", None)
    both = match_storages(st, [s1, s2], [{"main", "other", "x"}, {"main", "other", "x"}])
    assert both == {"a": 0, "c": 1}


def test_unfinished_snapshot_keeps_pve_size_one() -> None:
    """``list_volumes``: ``size => $item->{size} // 1``; vm/ct only, numeric ids only."""
    item = {"backup-type": "vm", "backup-id": "100", "backup-time": 1795000000, "files": []}
    out = to_pve_item("s", item)
    assert out is not None and out["size"] == 1 and out["volid"].startswith("s:backup/vm/100/")
    assert to_pve_item("s", {**item, "backup-type": "host"}) is None
    assert to_pve_item("s", {**item, "backup-id": "web"}) is None


def test_pbs_health_rules() -> None:
    upid = "UPID:pbs1:00001F2E:00A1B2C3:00000038:6AF28838:verificationjob:main\\x3av:root@pam:"
    assert pbs_upid_start(upid) == 0x6AF28838
    now = 2_000_000_000
    late = JobRun("verify", "v", "main", "pbs:8007", "daily", now - 3 * 86400, "OK", now - 86400)
    fine = JobRun("gc", "gc", "main", "pbs:8007", "daily", now - 3600, "WARNINGS: 2", now + 3600)
    failed = JobRun("gc", "gc", "main", "pbs:8007", "daily", now - 3600, "ERROR: x", now + 60)
    assert len(job_anomalies([late], now, 3 * 3600)) == 1
    assert job_anomalies([fine], now, 3 * 3600) == []
    assert "failed" in job_anomalies([failed], now, 3 * 3600)[0].message
    snaps = [
        SnapshotVerification("s", "vm/1/a", now - 90 * 86400, None),
        SnapshotVerification("s", "vm/1/b", now - 90 * 86400, now - 86400),
        SnapshotVerification("s", "vm/1/c", now - 86400, None),
    ]
    (anomaly,) = outdated_verifications(snaps, now, 40 * 86400)
    assert anomaly.details["archives"] == ["vm/1/a"]
    assert outdated_verifications(snaps, now, 0) == []


def test_client_sends_pbs_token_header_and_reads_plain_error(tmp_path: Path) -> None:
    from pve_backup_report.config import Secret, Settings

    with Simulator(Scenario.from_dict(scenario_file("pbs"))) as sim:
        server = PbsServer(str(sim.pbs_url), "monitor@pbs!check", Secret(PBS_CANARY))
        client = PbsClient(server, Settings())
        try:
            assert client.get("/version")["version"]
            with pytest.raises(ApiHttpError) as err:
                client.get("/admin/datastore/nope/snapshots")
        finally:
            client.close()
    assert err.value.status == 403 and "missing Datastore.Audit" in err.value.message
    assert PBS_CANARY not in str(err.value)
