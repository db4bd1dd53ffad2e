"""The simulated PBS API on its own loopback port, beside the PVE one.

It reuses the PVE simulator's transport (``server.py``: threaded HTTP(S) server, latency,
faults, request statistics); only the API behind it and the error shape differ.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable

from pve_sim.api import ApiRequest, ApiResponse
from pve_sim.faults import FaultTable
from pve_sim.pbs_api import PbsApi, pbs_error
from pve_sim.scenario import Scenario
from pve_sim.stats import RequestRecord, SimulatorStats, StatsCollector

__all__ = ["PbsSimulator"]


class PbsSimulator:
    """Serves ``scenario.pbs``; started and stopped by :class:`~.server.Simulator`."""

    def __init__(
        self,
        scenario: Scenario,
        host: str,
        context: ssl.SSLContext | None,
        stopping: threading.Event,
        clock: Callable[[], float] = time.time,
        verbose: bool = False,
    ) -> None:
        assert scenario.pbs is not None
        self.api = PbsApi(scenario, clock)
        self.faults = FaultTable(scenario.pbs.faults)
        self.latency_ms = scenario.pbs.latency_ms
        self.verbose = verbose
        self._host = host
        self._context = context
        self._stopping = stopping
        self._stats = StatsCollector()
        self._server: object | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def error_response(status: int, message: str) -> ApiResponse:
        return pbs_error(status, message)

    def start(self) -> None:
        from pve_sim.server import _Server, _Server6

        server_class = _Server6 if ":" in self._host else _Server
        server = server_class((self._host, 0), self, self._context)  # type: ignore[arg-type]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="pbs-simulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = int(self._server.server_address[1])  # type: ignore[attr-defined]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'https' if self._context is not None else 'http'}://{host}:{port}"

    # -- what the transport asks of its simulator ------------------------------------------

    @property
    def stats(self) -> SimulatorStats:
        return self._stats.snapshot()

    def record(self, record: RequestRecord, bytes_sent: int) -> None:
        self._stats.record(record, bytes_sent)

    def cached_answer(self, request: ApiRequest) -> tuple[ApiResponse, bytes] | None:
        return None

    def keep_answer(self, request: ApiRequest, response: ApiResponse, body: bytes) -> None:
        return None

    def encoded(
        self, request: ApiRequest | None, body: bytes, accept: str | None
    ) -> tuple[bytes, str | None]:
        """Answers as they are: proxmox-rest-server's compression (``deflate`` only,
        ``extract_compression_method``) is not simulated here."""
        return body, None

    def sleep_ms(self, milliseconds: int) -> None:
        if milliseconds > 0:
            self._stopping.wait(milliseconds / 1000)
