"""Shared pytest fixtures (add new sections below, one per topic)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import settings

from pve_sim import Scenario, Simulator, load_scenario

# -- hypothesis ------------------------------------------------------------------------------
# CI explores the same examples on every run (a red build must be reproducible); a
# developer's run keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# -- simulator -------------------------------------------------------------------------------

ScenarioLike = Scenario | Mapping[str, Any] | str | Path
SimulatorFactory = Callable[..., Simulator]
SimGet = Callable[..., requests.Response]


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    """``simulator_factory(scenario="demo", tls=False, **kwargs)`` -> a started Simulator.

    Every simulator started through the factory is stopped at the end of the test.
    """
    started: list[Simulator] = []

    def start(scenario: ScenarioLike = "demo", **kwargs: Any) -> Simulator:
        sim = Simulator(scenario, **kwargs).start()
        started.append(sim)
        return sim

    yield start
    for sim in reversed(started):
        sim.stop()


@pytest.fixture(scope="session")
def demo_scenario() -> Scenario:
    """The bundled demo scenario, loaded once."""
    return load_scenario("demo")


@pytest.fixture(scope="module")
def demo_simulator(demo_scenario: Scenario) -> Iterator[Simulator]:
    """A plain-HTTP simulator serving the demo, shared by a test module (do not mutate)."""
    with Simulator(demo_scenario) as sim:
        yield sim


@pytest.fixture
def sim_get() -> SimGet:
    """``sim_get(sim, "/cluster/resources", params=None, auth=True, **kw)`` -> Response.

    Sends the token header unless ``auth=False``; over HTTPS it verifies with the
    simulator's CA (passed per request, so ``REQUESTS_CA_BUNDLE`` cannot override it).
    """

    def get(
        sim: Simulator,
        path: str,
        params: Mapping[str, Any] | None = None,
        auth: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(sim.auth_header) if auth else {}
        headers.update(kwargs.pop("headers", {}))
        if sim.ca_path is not None:
            kwargs.setdefault("verify", str(sim.ca_path))
        kwargs.setdefault("timeout", 10)
        return requests.get(sim.api_url + path, params=params, headers=headers, **kwargs)

    return get


# -- JSON decoding ---------------------------------------------------------------------------


@pytest.fixture(params=["orjson", "json only"])
def json_decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test twice: with orjson (in the dev extra), and as on a machine without the
    extra ``fast`` (``collect/json_decode.py``)."""
    from pve_backup_report.collect import json_decode

    if request.param == "json only":
        monkeypatch.setattr(json_decode, "orjson", None)
    return str(request.param)
