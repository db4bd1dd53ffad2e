"""Strict reading of scenario mappings: every error names the offending key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pve_sim.timeutil import parse_time

__all__ = ["Fields", "ScenarioError"]

T = TypeVar("T")
_MISSING: Any = object()


class ScenarioError(ValueError):
    """The scenario is invalid; the message names the key (``guests[2].vmid: ...``)."""


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Fields:
    """A validated view of one scenario mapping (unknown keys are rejected up front)."""

    def __init__(self, data: object, where: str, allowed: Iterable[str]) -> None:
        label = where or "scenario"
        if not isinstance(data, Mapping):
            raise ScenarioError(f"{label}: expected a mapping, got {_type_name(data)}")
        allowed_set = set(allowed)
        for key in data:
            if not isinstance(key, str) or key not in allowed_set:
                raise ScenarioError(
                    f"{label}: unknown key {key!r} (allowed: {', '.join(sorted(allowed_set))})"
                )
        self.data: Mapping[str, Any] = data
        self.where = where

    def loc(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.loc(key)}: {message}")

    def _get(self, key: str, default: Any) -> Any:
        if self.has(key):
            return self.data[key]
        if default is _MISSING:
            raise ScenarioError(f"{self.loc(key)}: required key is missing")
        return default

    def text(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(key, f"expected a string, got {_type_name(value)}")
        return str(value)

    def nonempty_text(self, key: str) -> str:
        value: str = self.text(key)
        if not value:
            raise self.error(key, "must not be empty")
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            else:
                raise self.error(key, f"expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        return value

    def flag(self, key: str, default: int) -> int:
        """A PVE boolean: accepts true/false or 0/1, returns 0/1."""
        value = self._get(key, default)
        if value in (0, 1) or isinstance(value, bool):
            return int(value)
        raise self.error(key, f"expected 0/1 or true/false, got {value!r}")

    def boolean(self, key: str, default: bool = False) -> bool:
        return bool(self.flag(key, int(default)))

    def time(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        try:
            return parse_time(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def choice(self, key: str, choices: Iterable[str], default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        options = list(choices)
        if value not in options:
            raise self.error(key, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def mapping(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {_type_name(value)}")
        for k in value:
            if not isinstance(k, str):
                raise self.error(key, f"keys must be strings, got {k!r}")
        return dict(value)

    def sequence(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_type_name(value)}")
        return value
