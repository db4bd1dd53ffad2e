"""Building blocks of the simulated API: routes, parameters, errors and the request context."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pve_sim.scenario import GuestSpec, Scenario, TaskSpec

__all__ = [
    "ApiError",
    "Context",
    "Page",
    "Param",
    "Route",
    "forbidden",
    "parse_params",
]


class ApiError(Exception):
    """An error answer in PVE's shape: HTTP status, message (also the reason phrase)."""

    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors) if errors else None


def forbidden(path: str, privs: str) -> ApiError:
    """``Permission check failed (<path>, <privs>)`` as ``PVE::Exception`` raises it."""
    return ApiError(403, f"Permission check failed ({path}, {privs})")


@dataclass(frozen=True)
class Page:
    """A list answer that also carries ``total`` (task lists and task logs)."""

    data: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class Param:
    """One query parameter: ``kind`` is int, bool, str or enum (with ``choices``)."""

    kind: str = "str"
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(name: str, spec: Param, raw: str) -> Any:
    if spec.kind == "int":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise ValueError(f"type check ('integer') failed - got '{raw}'")
        value = int(raw)
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"value must have a minimum value of {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"value may have a maximum value of {spec.maximum}")
        return value
    if spec.kind == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"type check ('boolean') failed - got '{raw}'")
    if spec.kind == "enum" and raw not in spec.choices:
        raise ValueError(f"value '{raw}' does not have a value in the enumeration")
    return raw


def parse_params(specs: Mapping[str, Param], query: Mapping[str, str]) -> dict[str, Any]:
    """Validate the query like PVE's JSON schema check (400 with per-parameter errors)."""
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}
    for name, raw in query.items():
        spec = specs.get(name)
        if spec is None:
            errors[name] = (
                "property is not defined in schema and the schema does not allow"
                " additional properties"
            )
            continue
        try:
            result[name] = _convert(name, spec, raw)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ApiError(400, "Parameter verification failed.", errors)
    return result


C = TypeVar("C")  # what a handler is given: the PVE or the PBS request context
Handler = Callable[[C, Mapping[str, str], Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Route(Generic[C]):
    """A GET path pattern like ``/nodes/{node}/tasks/{upid}/log`` and its handler."""

    pattern: str
    handler: Handler[C]
    params: Mapping[str, Param] = field(default_factory=dict)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        object.__setattr__(self, "regex", re.compile(f"^{regex}$"))

    @property
    def proxied(self) -> bool:
        """Paths below ``/nodes/{node}/`` are proxied to that node by PVE."""
        return self.pattern.startswith("/nodes/{node}/")

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.match(path)
        return m.groupdict() if m else None


class Context:
    """What a handler sees: the scenario, the simulated clock and the token's rights."""

    def __init__(self, scenario: Scenario, now: int) -> None:
        self.scenario = scenario
        self.now = now
        self.token = scenario.token

    def privileges(self, path: str) -> frozenset[str]:
        """Privileges reaching ``path``; a guest also gets those of its pool."""
        paths = [path]
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "vms" and parts[2].isdigit():
            pool = self.scenario.pool_of(int(parts[2]))
            if pool is not None:
                paths.append(f"/pool/{pool}")
        return self.token.acl.privileges_at(*paths)

    def can(self, path: str, priv: str) -> bool:
        return priv in self.privileges(path)

    def can_any(self, path: str, privs: Iterable[str]) -> bool:
        have = self.privileges(path)
        return any(p in have for p in privs)

    def require(self, path: str, priv: str) -> None:
        if not self.can(path, priv):
            raise forbidden(path, priv)

    def require_any(self, path: str, privs: Iterable[str]) -> None:
        wanted = list(privs)
        if not self.can_any(path, wanted):
            raise forbidden(path, "|".join(wanted))

    def can_see_guest(self, guest: GuestSpec) -> bool:
        return self.can(f"/vms/{guest.vmid}", "VM.Audit")

    def can_see_storage(self, storage_id: str) -> bool:
        return self.can_any(
            f"/storage/{storage_id}", ("Datastore.Audit", "Datastore.AllocateSpace")
        )

    def owns(self, task: TaskSpec) -> bool:
        return task.user == self.token.id
