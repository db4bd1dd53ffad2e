"""The simulator's transport: faults, latency, statistics, HTTPS and the command line."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

from conftest import SimGet, SimulatorFactory
from pve_sim import Simulator, TlsError

TOKEN = "monitor@pve!check"


def small(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "now": "2026-11-20T12:00:00Z",
        "token": {"id": TOKEN, "secret": "t0ken"},
        "nodes": [{"node": "pve1"}],
        "guests": [{"vmid": 100, "type": "qemu", "name": "web", "node": "pve1"}],
        "jobs": [{"id": "daily", "type": "vzdump", "schedule": "21:00", "all": 1}],
        "tasks": [{"node": "pve1", "type": "vzdump", "starttime": 1795118400, "status": "OK"}],
    }
    data.update(extra)
    return data


def with_faults(*faults: dict[str, Any]) -> dict[str, Any]:
    return small(faults=list(faults))


# -- faults -----------------------------------------------------------------------------------


def test_fault_status_and_message(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(
        with_faults({"path": "/cluster/backup", "status": 403,
                     "message": "Permission check failed (/, Sys.Audit)"})
    )  # fmt: skip
    response = sim_get(sim, "/cluster/backup")
    assert response.status_code == 403
    assert response.reason == "Permission check failed (/, Sys.Audit)"
    assert response.json() == {"data": None, "message": "Permission check failed (/, Sys.Audit)\n"}
    assert sim_get(sim, "/cluster/resources").status_code == 200


def test_fault_raw_body(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(
        with_faults(
            {"path": "/cluster/resources", "body": "<html>oops"},
            {"path": "/version", "status": 502, "body": "bad gateway", "content_type": "text/html"},
        )
    )
    response = sim_get(sim, "/cluster/resources")
    assert (response.status_code, response.text) == (200, "<html>oops")
    with pytest.raises(ValueError):
        response.json()
    response = sim_get(sim, "/version")
    assert (response.status_code, response.reason, response.text) == (
        502, "Bad Gateway", "bad gateway",
    )  # fmt: skip
    assert response.headers["Content-Type"] == "text/html"


def test_fault_no_data(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(with_faults({"path": "/nodes/*/tasks", "no_data": True}))
    assert sim_get(sim, "/nodes/pve1/tasks").json() == {"total": 1}
    assert "data" in sim_get(sim, "/version").json()


def test_fault_delay_and_latency(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(with_faults({"path": "/version", "delay_ms": 300}), latency_ms=50)
    t0 = time.monotonic()
    assert sim_get(sim, "/version").status_code == 200
    assert time.monotonic() - t0 >= 0.35
    t0 = time.monotonic()
    sim_get(sim, "/cluster")
    assert time.monotonic() - t0 >= 0.05  # the scenario latency applies to every path
    with pytest.raises(requests.exceptions.Timeout):
        sim_get(sim, "/version", timeout=0.1)


def test_scenario_latency(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(small(latency_ms=120))
    assert sim.latency_ms == 120
    t0 = time.monotonic()
    sim_get(sim, "/version")
    assert time.monotonic() - t0 >= 0.12


def test_fault_drop(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(with_faults({"path": "/version", "drop": True}))
    with pytest.raises(requests.exceptions.ConnectionError):
        sim_get(sim, "/version")
    assert sim.stats.records[-1].status == 0
    assert sim_get(sim, "/cluster").status_code == 200


def test_fault_truncate(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(with_faults({"path": "/cluster/resources", "truncate": True}))
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        sim_get(sim, "/cluster/resources")
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(
            b"GET /api2/json/cluster/resources HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: PVEAPIToken={TOKEN}=t0ken\r\n\r\n".encode()
        )
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert 0 < len(body) < length


def test_fault_times_then_normal(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(with_faults({"path": "/version", "status": 503, "times": 2}))
    first = sim_get(sim, "/version")
    assert (first.status_code, first.reason) == (503, "Service Unavailable")
    assert [sim_get(sim, "/version").status_code for _ in range(3)] == [503, 200, 200]
    # a new scenario resets the counters
    sim.set_scenario(with_faults({"path": "/version", "status": 500, "times": 1}))
    assert [sim_get(sim, "/version").status_code for _ in range(2)] == [500, 200]


def test_first_matching_fault_wins(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(
        with_faults(
            {"path": "/nodes/pve1/*", "status": 500, "message": "first", "times": 1},
            {"path": "/nodes/*", "status": 501, "message": "second"},
        )
    )
    assert sim_get(sim, "/nodes/pve1/tasks").reason == "first"
    assert sim_get(sim, "/nodes/pve1/tasks").reason == "second"
    assert sim_get(sim, "/nodes").status_code == 200  # "/nodes/*" needs something after it
    assert sim_get(sim, "/version").status_code == 200


# -- statistics ------------------------------------------------------------------------------


def test_stats_and_reset(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(small())
    bodies = [sim_get(sim, "/version").content, sim_get(sim, "/version").content]
    bodies.append(sim_get(sim, "/nodes/pve1/tasks", params={"limit": 5}).content)
    stats = sim.stats
    assert stats.requests == 3
    assert stats.count("/version") == 2 and stats.per_path["/nodes/pve1/tasks"] == 1
    assert stats.bytes_sent > sum(len(b) for b in bodies)  # headers included
    last = stats.records[-1]
    assert (last.method, last.path, last.query, last.status) == (
        "GET", "/nodes/pve1/tasks", "limit=5", 200,
    )  # fmt: skip
    sim.reset_stats()
    assert (sim.stats.requests, sim.stats.bytes_sent, sim.stats.per_path) == (0, 0, {})


def test_the_same_answer_comes_in_other_bytes_as_from_pve(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    """pve-http-server ``src/PVE/APIServer/Formatter/Standard.pm`` writes answers with
    ``to_json($res->{data}, {utf8 => 1, allow_nonref => 1})``, without ``canonical``,
    and Perl walks each hash in its own random order: the same data comes with its keys
    in another order from one request to the next. A check must never key anything on
    an answer's bytes (a PBS content cache so keyed looked like a gain on a simulator
    that sorted its keys, and was reverted)."""
    guests = [{"vmid": v, "type": "qemu", "name": f"g{v}", "node": "pve1"} for v in range(100, 140)]
    sim = simulator_factory(small(guests=guests))
    answers = [sim_get(sim, "/cluster/resources").content for _ in range(2)]
    assert answers[0] != answers[1]
    assert json.loads(answers[0]) == json.loads(answers[1])
    orders = {tuple(item) for a in answers for item in json.loads(a)["data"]}
    assert len(orders) > 1  # items of one kind differ in order too


def test_keep_alive_session(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(small())
    with requests.Session() as session:
        session.headers.update(sim.auth_header)
        codes = [session.get(sim.api_url + "/version", timeout=5).status_code for _ in range(5)]
    assert codes == [200] * 5


# -- HTTPS ------------------------------------------------------------------------------------


def peer_fingerprint(sim: Simulator) -> str:
    context = ssl.create_default_context(cafile=str(sim.ca_path))
    with (
        socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def test_https_with_generated_ca(simulator_factory: SimulatorFactory, sim_get: SimGet) -> None:
    sim = simulator_factory(small(), tls=True)
    assert sim.url.startswith("https://127.0.0.1:")
    assert sim.ca_path is not None and sim.ca_path.read_text().startswith("-----BEGIN CERT")
    assert sim_get(sim, "/version").status_code == 200  # verified against the CA
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", sim.fingerprint or "")
    assert sim.fingerprint == peer_fingerprint(sim)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sim.api_url + "/version", verify=True, timeout=5)
    ca_path = sim.ca_path
    sim.stop()
    assert not ca_path.exists()  # the generated files are removed


def test_https_with_given_cert_files(
    tmp_path: Path, simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    ca_file.write_bytes(ca.cert_pem.bytes())
    sim = simulator_factory(small(), cert=cert, key=key)
    assert sim.ca_path is None and sim.url.startswith("https://")
    response = sim_get(sim, "/version", verify=str(ca_file))
    assert response.status_code == 200
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    assert sim.fingerprint == ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def test_bad_cert_files(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("nope")
    with pytest.raises(TlsError, match=r"cannot use certificate 'c\.pem'"):
        Simulator(small(), cert=tmp_path / "c.pem", key=tmp_path / "c.pem").start()
    with pytest.raises(ValueError, match="both cert and key"):
        Simulator(small(), cert=tmp_path / "c.pem")


def test_missing_trustme_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)
    sim = Simulator(small(), tls=True)
    with pytest.raises(TlsError, match=re.escape("install check-pve-backup[demo]")):
        sim.start()
    sim.stop()


# -- command line -----------------------------------------------------------------------------


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pve_sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_cli(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.terminate()
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def test_cli_listens_serves_and_stops(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "token: {id: 'monitor@pve!check', secret: cli-secret}\nnodes: [{node: pve1}]\n"
    )
    proc = start_cli("--scenario", str(scenario), "--listen", "127.0.0.1:0")
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match.group(2)) > 0
        response = requests.get(
            match.group(1) + "/api2/json/nodes",
            headers={"Authorization": f"PVEAPIToken={TOKEN}=cli-secret"},
            timeout=5,
        )
        assert [n["node"] for n in response.json()["data"]] == ["pve1"]
    finally:
        code, out, err = stop_cli(proc)
    assert code == 0
    assert out == ""  # exactly one line on stdout
    assert "cli-secret" not in err


def test_cli_tls_with_demo_prints_ca_path() -> None:
    proc = start_cli("--scenario", "demo", "--tls")
    try:
        url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
        assert url.startswith("https://127.0.0.1:")
        err_lines = [proc.stderr.readline() for _ in range(3)]  # type: ignore[union-attr]
        ca_line = next(x for x in err_lines if x.startswith("CA certificate written to "))
        ca_path = ca_line.removeprefix("CA certificate written to ").strip()
        assert Path(ca_path).is_file()
        response = requests.get(url + "/api2/json/version", verify=ca_path, timeout=5)
        assert response.status_code == 401  # TLS verified; no token sent
    finally:
        code, _, _ = stop_cli(proc)
    assert code == 0
    assert not Path(ca_path).exists()


def test_cli_writes_the_demos_ground_truth(tmp_path: Path) -> None:
    """``--ground-truth`` with the demo: the truth of the preset, then the demo served."""
    truth = tmp_path / "truth.json"
    proc = start_cli("--ground-truth", str(truth))
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("listening on http://127.0.0.1:"), line
    finally:
        code, _, _ = stop_cli(proc)
    assert code == 0
    doc = json.loads(truth.read_text())
    assert doc["spec"] == "demo" and len(doc["guests"]) == 25
    problems = {g["name"]: g["problems"] for g in doc["guests"] if g["problems"]}
    assert problems["mail"] == ["failed"] and problems["scratch"] == ["not_covered"]
    bad = subprocess.run(
        [sys.executable, "-m", "pve_sim", "--scenario", str(truth), "--ground-truth", "x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "goes with --generate or the demo" in bad.stderr


def test_cli_rejects_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("guests: [{vmid: 100, type: qemu, node: nowhere}]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pve_sim", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "guests[0].node: unknown node 'nowhere'" in proc.stderr


# -- compression ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "notes", "encoding"),
    [
        ("gzip, deflate", 1600, "gzip"),
        ("deflate", 1600, "deflate"),
        ("identity", 1600, None),
        ("gzip, deflate", 100, None),  # an answer of 1024 bytes or less: as it is
    ],
)
def test_answers_compressed_as_pve_http_server_does(
    simulator_factory: SimulatorFactory, accept: str, notes: int, encoding: str | None
) -> None:
    """pve-http-server ``src/PVE/APIServer/AnyEvent.pm`` ``response``: a body over 1024
    bytes is sent with ``Compress::Zlib::memGzip`` when ``Accept-Encoding`` matches
    ``gzip``, else ``Compress::Zlib::compress`` (zlib format) when it matches
    ``deflate``; compression is on unless pveproxy's ``COMPRESSION`` turns it off
    (``new``: ``$self->{compression} //= 1``)."""
    text = "x" * notes
    data = small(guests=[{"vmid": 100, "type": "qemu", "name": "web", "node": "pve1",
                          "description": text}])  # fmt: skip
    sim = simulator_factory(data)
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    conn.request(
        "GET", "/api2/json/nodes/pve1/qemu/100/config",
        headers={**sim.auth_header, "Accept-Encoding": accept},
    )  # fmt: skip
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.getheader("Content-Encoding") == encoding
    assert int(resp.getheader("Content-Length") or -1) == len(body)
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    assert json.loads(body)["data"]["description"] == text
    assert (len(body) > 1024) == (notes > 1000)  # the config around the notes: about 500
    off = simulator_factory(data, compression=False)
    conn = http.client.HTTPConnection("127.0.0.1", off.port, timeout=10)
    conn.request("GET", "/api2/json/version", headers={"Accept-Encoding": "gzip"})
    assert conn.getresponse().getheader("Content-Encoding") is None
    conn.close()
