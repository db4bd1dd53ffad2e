"""The API client against the simulator over real HTTP and HTTPS (no mocks of requests)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import builders
from builders import pbs_storage, sim_guest, sim_node, vzdump_job
from pve_backup_report.collect.pve_client import LARGE_ANSWER, PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.errors import (
    ApiConnectionError,
    ApiDataError,
    ApiError,
    ApiHttpError,
    ApiJsonError,
    ApiTimeout,
    ApiTlsError,
)
from pve_sim import Scenario, Simulator

CANARY = "canary-c1ient-5ecret-do-not-print"
TOKEN = "monitor@pve!check"


def scenario(**extra: Any) -> Scenario:
    """pve1 (Paris) with VM 100 in the ``all`` job ``daily`` to PBS ``pbs1``."""
    return Scenario.from_dict(
        builders.scenario(
            secret=CANARY,
            nodes=[sim_node(timezone="Europe/Paris")],
            storages=[pbs_storage("pbs1", server="192.0.2.1")],
            guests=[sim_guest(100, name="web")],
            jobs=[vzdump_job("daily", storage="pbs1", all=1)],
            tasks=[],
        )
        | extra
    )


def settings_for(sim: Simulator, **kw: Any) -> Settings:
    s = Settings(
        hosts=(sim.url,),
        token_id=TOKEN,
        token_secret=Secret(CANARY),
        request_timeout=2.0,
        ca_bundle=str(sim.ca_path) if sim.ca_path else None,
    )
    return replace(s, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def client_for(sim: Simulator, **kw: Any) -> Iterator[PveClient]:
    with PveClient(settings_for(sim, **kw)) as client:
        yield client


def assert_no_canary(exc: BaseException) -> None:
    assert CANARY not in str(exc)
    assert CANARY not in repr(exc)


def test_plain_http_get_and_stats() -> None:
    with Simulator(scenario(), tls=False) as sim, client_for(sim) as client:
        jobs = client.get("/cluster/backup")
        assert jobs[0]["id"] == "daily"
        page = client.get_page("/nodes/pve1/tasks", {"typefilter": "vzdump"})
        assert page.total == 0
        assert client.stats.requests == 2
        assert client.stats.bytes > 0
        assert client.stats.per_path["/nodes/{node}/tasks"] == 1
        assert client.tls_mode == "plain http"


def test_https_needs_verification_by_default() -> None:
    with Simulator(scenario(), tls=True) as sim:
        with client_for(sim, ca_bundle=None) as client, pytest.raises(ApiTlsError) as err:
            client.get("/version")
        assert "127.0.0.1" in str(err.value)
        assert "verification" in str(err.value)
        with client_for(sim) as client:  # with the CA bundle
            assert client.get("/version")["version"]
            assert client.tls_mode == "verified"


def test_fingerprint_pinning() -> None:
    with Simulator(scenario(), tls=True) as sim:
        assert sim.fingerprint is not None
        with client_for(sim, ca_bundle=None, tls_fingerprint=sim.fingerprint) as client:
            assert client.get("/version")
            assert client.tls_mode == "pinned"
        wrong = ":".join(["AB"] * 32)
        with client_for(sim, ca_bundle=None, tls_fingerprint=wrong) as client:
            presented = f"the server presented {sim.fingerprint}$"
            with pytest.raises(
                ApiTlsError, match=f"does not match the fingerprint pinned.*{presented}"
            ):
                client.get("/version")


def test_verification_disabled_is_visible() -> None:
    with Simulator(scenario(), tls=True) as sim:
        with client_for(sim, ca_bundle=None, verify_tls=False) as client:
            assert client.get("/version")
            assert client.tls_mode == "not verified"


# a PEM marker and no certificate in it: OpenSSL loads nothing from such a CA file
PEM_WITHOUT_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nTUlJQmFk\n-----END CERTIFICATE-----\n"


def test_a_ca_bundle_without_a_certificate_is_one_line(tmp_path: Path) -> None:
    """A CA file with a PEM marker and no certificate: the shared TLS context cannot be
    made (``http.shared_tls``), and the connection fails as it did, in one line naming
    the file."""
    broken = tmp_path / "broken.pem"
    broken.write_text(PEM_WITHOUT_CERTIFICATE)
    with Simulator(scenario(), tls=True) as sim:
        with client_for(sim, ca_bundle=str(broken)) as client, pytest.raises(ApiTlsError) as err:
            client.get("/version")
    assert str(err.value) == f"/version: CA bundle {broken} () holds no PEM certificate"
    assert_no_canary(err.value)


def test_dead_host_falls_over_to_the_next() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with Simulator(scenario(), tls=False) as sim:
        with client_for(sim, hosts=(dead, sim.url)) as client:
            assert client.get("/version")
            assert client.get("/nodes")  # the working host is now preferred
    with (
        PveClient(
            Settings(hosts=(dead,), token_id=TOKEN, token_secret=Secret(CANARY), request_timeout=2)
        ) as client,
        pytest.raises(ApiConnectionError, match="connection refused") as err,
    ):
        client.get("/version")
    assert_no_canary(err.value)


def test_http_errors_carry_pve_message_and_privilege() -> None:
    faults = [{"path": "/cluster/backup", "status": 403,
               "message": "Permission check failed (/, Sys.Audit)"}]  # fmt: skip
    with Simulator(scenario(faults=faults), tls=False) as sim, client_for(sim) as client:
        with pytest.raises(ApiHttpError) as err:
            client.get("/cluster/backup")
        assert err.value.status == 403
        assert err.value.missing_privilege == "Sys.Audit on /"
        assert "Permission check failed (/, Sys.Audit)" in str(err.value)
        assert client.get("/version")  # one failing endpoint does not break the client


def test_wrong_secret_is_401_and_never_echoed() -> None:
    with Simulator(scenario(), tls=False) as sim:
        with client_for(sim, token_secret=Secret(CANARY + "-wrong")) as client:
            with pytest.raises(ApiHttpError) as err:
                client.get("/version")
        assert err.value.status == 401
        assert_no_canary(err.value)


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ({"body": "<html>oops"}, ApiJsonError, "not JSON"),
        ({"no_data": True}, ApiDataError, "without a 'data' field"),
        ({"truncate": True}, ApiConnectionError, "truncated"),
        ({"drop": True}, ApiConnectionError, "cannot connect|closed"),
        ({"delay_ms": 3000}, ApiTimeout, "no answer .* within 1s"),
        ({"status": 500, "message": "got timeout"}, ApiHttpError, "500 got timeout"),
        ({"status": 595, "message": "Errors during connection establishment"}, ApiHttpError,
         "595"),
    ],
)  # fmt: skip
def test_faults_map_to_distinct_errors(
    fault: dict[str, Any], error: type[ApiError], text: str
) -> None:
    faults = [{"path": "/cluster/resources", **fault}]
    with Simulator(scenario(faults=faults), tls=False) as sim:
        with client_for(sim, request_timeout=1.0) as client:
            with pytest.raises(error, match=text) as err:
                client.get("/cluster/resources", {"type": "vm"})
            assert err.value.endpoint == "/cluster/resources"
            assert_no_canary(err.value)


def test_retry_on_503_then_success() -> None:
    faults = [{"path": "/version", "status": 503, "message": "busy", "times": 1}]
    with Simulator(scenario(faults=faults), tls=False) as sim, client_for(sim) as client:
        assert client.get("/version")["version"]


def test_secret_only_in_authorization_header() -> None:
    with Simulator(scenario(), tls=False) as sim, client_for(sim) as client:
        assert CANARY not in repr(client.__dict__.get("_settings"))
        assert client.redact(f"x{CANARY}y") == "x********y"


def _meeting(timeout_s: float) -> tuple[Any, list[bool]]:
    """A ``reduce`` that waits for a second reduction to run at the same time (a
    barrier of two), and records whether it came."""
    barrier = threading.Barrier(2)
    met: list[bool] = []

    def reduce(data: Any) -> Any:
        try:
            barrier.wait(timeout_s)
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        return len(data)

    return reduce, met


@pytest.mark.parametrize(("items", "alone"), [(6000, True), (10, False)], ids=["large", "small"])
def test_large_answers_are_decoded_and_reduced_one_at_a_time(items: int, alone: bool) -> None:
    """``PveClient.get_reduced``: the reduction (a PBS content list parsed) runs in the
    worker on the decoded ``data``; answers over ``LARGE_ANSWER`` bytes are decoded and
    reduced one at a time, smaller ones side by side (both over real HTTP)."""
    volid = "pbs1:backup/vm/{0}/2026-11-19T20:00:{1:02d}Z"
    data = [
        {"volid": volid.format(100 + i, i % 60), "vmid": 100 + i, "ctime": i, "size": 9 << 30,
         "content": "backup", "format": "pbs-vm", "subtype": "qemu",
         "verification": {"state": "ok", "upid": "UPID:pbs1:0:0:0:0:verify:x:root@pam:"}}
        for i in range(items)
    ]  # fmt: skip
    body = json.dumps({"data": data})
    assert (len(body) > LARGE_ANSWER) is alone
    faults = [{"path": "/nodes/pve1/storage/*/content", "body": body}]
    storages = [pbs_storage(f"pbs{n}", server="192.0.2.1") for n in (1, 2)]
    # one at a time, the first reduction waits alone until the barrier breaks
    reduce, met = _meeting(1.0 if alone else 30.0)
    sc = scenario(faults=faults, storages=storages)
    with Simulator(sc, tls=False) as sim, client_for(sim) as client:
        paths = [f"/nodes/pve1/storage/pbs{n}/content" for n in (1, 2)]
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda p: client.get_reduced(p, None, reduce), paths))
    assert done == [items, items]
    assert met == [not alone, not alone]


def test_a_large_answer_being_decoded_is_named_in_flight() -> None:
    """A run that times out while a large answer waits for its turn or is decoded names
    it (``PveClient.inflight``, in the timeout message), as it names a request."""
    data = [{"volid": f"pbs1:backup/vm/{v}/2026-11-19T20:00:00Z", "vmid": v, "ctime": v,
             "notes": "x" * 200} for v in range(100, 6100)]  # fmt: skip
    faults = [{"path": "/nodes/pve1/storage/pbs1/content", "body": json.dumps({"data": data})}]
    path = "/nodes/pve1/storage/pbs1/content"
    with Simulator(scenario(faults=faults), tls=False) as sim, client_for(sim) as client:
        seen = client.get_reduced(path, None, lambda _data: client.inflight())
        assert seen == [f"{path} (decoding)"]
        assert client.inflight() == []
        assert client.get_reduced("/version", None, lambda _d: client.inflight()) == []
