"""The simulated PVE API without any transport: a request in, PVE's answer out.

Order of checks, as in ``PVE::APIServer``: method, token (401), route (501), node proxying
(595 for an offline node), parameters (400), then the handler's permission checks (403).
"""

from __future__ import annotations

import hmac
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pve_sim import routes_cluster, routes_nodes, routes_storage, routes_tasks
from pve_sim.apibase import ApiError, Context, Page, Route, parse_params
from pve_sim.scenario import Scenario

__all__ = ["API_PREFIX", "ApiRequest", "ApiResponse", "PveApi", "error_response", "perl_json"]

API_PREFIX = "/api2/json"
PROXY_ERROR = "Errors during connection establishment, proxy handler: No route to host"
ROUTES: tuple[Route[Context], ...] = (
    routes_cluster.ROUTES + routes_nodes.ROUTES + routes_storage.ROUTES + routes_tasks.ROUTES
)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # below /api2/json, without query string
    query: Mapping[str, str] = field(default_factory=dict)
    authorization: str | None = None


@dataclass(frozen=True)
class ApiResponse:
    status: int
    reason: str
    payload: Mapping[str, Any]

    def body(self) -> bytes:
        return perl_json(self.payload)


# PVE_SIM_KEY_SEED: the order of every answer's keys, for a run to reproduce
_KEYS = random.Random(os.environ.get("PVE_SIM_KEY_SEED"))


def perl_json(payload: Any) -> bytes:
    """``payload`` as pve-http-server writes it: ``to_json`` without ``canonical``
    (``src/PVE/APIServer/Formatter/Standard.pm``), each hash's keys in an order of its
    own that changes from one request to the next (Perl's hash order is random per hash),
    so the same data is not the same bytes twice."""
    return json.dumps(_unordered(payload), separators=(",", ":")).encode()


def _unordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        _KEYS.shuffle(keys)
        return {k: _unordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_unordered(v) for v in value]
    return value


def error_response(
    status: int, message: str, errors: Mapping[str, str] | None = None
) -> ApiResponse:
    """PVE's error answer: the message is the reason phrase and ``message`` in the body."""
    payload: dict[str, Any] = {"data": None, "message": message.rstrip("\n") + "\n"}
    if errors:
        payload["errors"] = dict(errors)
    reason = message.strip().replace("\r", " ").replace("\n", " ")
    return ApiResponse(status, reason, payload)


class PveApi:
    """Answers requests for one scenario; ``clock`` is used when the scenario has no ``now``."""

    def __init__(self, scenario: Scenario, clock: Callable[[], float] = time.time) -> None:
        self.scenario = scenario
        self._clock = clock

    def now(self) -> int:
        return self.scenario.now if self.scenario.now is not None else int(self._clock())

    def handle(self, request: ApiRequest) -> ApiResponse:
        path = "/" + "/".join(part for part in request.path.split("/") if part)
        if request.method != "GET":
            return error_response(501, f"Method '{request.method} {path}' not implemented")
        if not self._authenticated(request.authorization):
            return ApiResponse(401, "authentication failure", {"data": None})
        for route in ROUTES:
            path_args = route.match(path)
            if path_args is not None:
                return self._dispatch(route, path_args, request.query)
        return error_response(501, f"Method 'GET {path}' not implemented")

    def _authenticated(self, header: str | None) -> bool:
        prefix = "PVEAPIToken="
        if not header or not header.startswith(prefix):
            return False
        token_id, sep, secret = header[len(prefix) :].strip().partition("=")
        token = self.scenario.token
        return bool(sep) and token_id == token.id and hmac.compare_digest(secret, token.secret)

    def _dispatch(
        self, route: Route[Context], path_args: Mapping[str, str], query: Mapping[str, str]
    ) -> ApiResponse:
        try:
            if route.proxied:
                node = self.scenario.node(path_args["node"])
                if node is None:
                    raise ApiError(500, f"no such cluster node '{path_args['node']}'")
                if not node.online:
                    raise ApiError(595, PROXY_ERROR)
            args = parse_params(route.params, query)
            result = route.handler(Context(self.scenario, self.now()), path_args, args)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.errors)
        if isinstance(result, Page):
            return ApiResponse(200, "OK", {"data": result.data, "total": result.total})
        return ApiResponse(200, "OK", {"data": result})
