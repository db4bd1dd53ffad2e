"""Operator ignore rules: guests the operator knowingly leaves without a PBS backup.

The configuration holds a list under ``ignore:``; each rule has exactly one matcher
(``vmid``, ``name`` glob, ``tag`` or ``pool``), a required ``reason`` and an optional
``until`` date. ``until`` is a ``YYYY-MM-DD`` date (the rule applies up to and including
the end of that day in UTC) or an ISO 8601 datetime (the rule applies up to and including
that instant; a datetime without a zone is taken as UTC). An expired rule stops applying
and is reported as an ``info`` anomaly.

Ignoring never changes the factual coverage value of a guest; the check decides what an
ignored guest means for the exit state.

Pure functions only: ``now`` (epoch seconds) is always passed in.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Guest, Severity

__all__ = [
    "ALLOWED_KEYS",
    "MATCHER_KEYS",
    "IgnoreMatch",
    "IgnoreRule",
    "IgnoreRuleError",
    "expired_rule_anomalies",
    "match_ignore",
    "parse_ignore_rules",
]

MATCHER_KEYS: tuple[str, ...] = ("vmid", "name", "tag", "pool")
ALLOWED_KEYS: frozenset[str] = frozenset((*MATCHER_KEYS, "reason", "until"))

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_VMID_RE = re.compile(r"[0-9]+")
_UTC = dt.timezone.utc


class IgnoreRuleError(ValueError):
    """A malformed ``ignore:`` section; the message names the rule index and the key."""


@dataclass(frozen=True)
class IgnoreRule:
    """One operator rule. Exactly one of ``vmid``, ``name``, ``tag``, ``pool`` is set.

    ``until`` is the last epoch second (inclusive) at which the rule applies, ``None`` for
    a rule without an end. ``until_text`` is the normalised text of the end
    (``YYYY-MM-DD`` for a date, ``YYYY-MM-DDTHH:MM:SSZ`` for a datetime).
    """

    index: int
    reason: str
    vmid: int | None = None
    name: str | None = None
    tag: str | None = None
    pool: str | None = None
    until: int | None = None
    until_text: str | None = None

    def __post_init__(self) -> None:
        set_matchers = [key for key in MATCHER_KEYS if getattr(self, key) is not None]
        if len(set_matchers) != 1:
            raise ValueError(
                f"ignore[{self.index}]: exactly one of {', '.join(MATCHER_KEYS)} must be set"
            )

    @property
    def matcher(self) -> str:
        """Short text of the matcher, e.g. ``vmid=100`` or ``name=test-*``."""
        for key in MATCHER_KEYS:
            value = getattr(self, key)
            if value is not None:
                return f"{key}={value}"
        raise AssertionError("unreachable: __post_init__ guarantees one matcher")

    @property
    def label(self) -> str:
        """Rule reference for messages, e.g. ``ignore[2] (name=test-*)``."""
        return f"ignore[{self.index}] ({self.matcher})"

    def expired(self, now: int) -> bool:
        return self.until is not None and now > self.until

    def matches(self, guest: Guest) -> bool:
        """Whether the matcher selects ``guest`` (expiry is not considered here).

        ``name`` is an fnmatch glob and ``tag`` an exact tag, both case-insensitive;
        ``vmid`` and ``pool`` compare exactly (``pool`` is the guest's direct pool).
        """
        if self.vmid is not None:
            return guest.vmid == self.vmid
        if self.name is not None:
            return fnmatch.fnmatchcase(guest.name.lower(), self.name.lower())
        if self.tag is not None:
            wanted = self.tag.lower()
            return any(t.lower() == wanted for t in guest.tags)
        return self.pool is not None and guest.pool == self.pool

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rule": self.matcher,
            "reason": self.reason,
            "until": self.until_text,
        }


@dataclass(frozen=True)
class IgnoreMatch:
    """The rule that applies to a guest (the first non-expired matching rule)."""

    rule: IgnoreRule

    @property
    def reason(self) -> str:
        return self.rule.reason

    @property
    def until(self) -> str | None:
        return self.rule.until_text

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.rule.reason, "rule": self.rule.matcher, "until": self.until}


def _fail(index: int, key: str | None, message: str) -> IgnoreRuleError:
    where = f"ignore[{index}]" if key is None else f"ignore[{index}].{key}"
    return IgnoreRuleError(f"{where}: {message}")


def _parse_vmid(index: int, value: object) -> int:
    if isinstance(value, bool):
        raise _fail(index, "vmid", f"expected a VMID (positive integer), got {value!r}")
    if isinstance(value, int):
        vmid = value
    elif isinstance(value, str) and _VMID_RE.fullmatch(value.strip()):
        vmid = int(value.strip())  # "0100" is 100, like PVE
    else:
        raise _fail(index, "vmid", f"expected a VMID (positive integer), got {value!r}")
    if vmid < 1:
        raise _fail(index, "vmid", f"expected a VMID (positive integer), got {value!r}")
    return vmid


def _parse_text(index: int, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(index, key, f"expected a non-empty string, got {value!r}")
    text = value.strip()
    if not text:
        raise _fail(index, key, "must not be empty")
    return text


def _datetime_end(index: int, value: dt.datetime) -> tuple[int, str]:
    aware = value.replace(tzinfo=_UTC) if value.tzinfo is None else value
    try:
        utc = aware.astimezone(_UTC)
    except (OverflowError, ValueError) as exc:
        raise _fail(index, "until", f"invalid datetime {value!r}: {exc}") from None
    text = utc.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return int(utc.timestamp() // 1), text


def _date_end(value: dt.date) -> tuple[int, str]:
    start = dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    return int(start.timestamp()) + 86400 - 1, value.isoformat()


def _parse_until(index: int, value: object) -> tuple[int, str]:
    """Return (last applicable epoch second, normalised text)."""
    hint = "expected YYYY-MM-DD or an ISO 8601 datetime"
    # YAML turns unquoted dates/timestamps into date/datetime objects; datetime first,
    # because it is a subclass of date.
    if isinstance(value, dt.datetime):
        return _datetime_end(index, value)
    if isinstance(value, dt.date):
        return _date_end(value)
    if not isinstance(value, str):
        raise _fail(index, "until", f"{hint}, got {value!r}")
    text = value.strip()
    if _DATE_RE.fullmatch(text):
        try:
            return _date_end(dt.date.fromisoformat(text))
        except ValueError:
            raise _fail(index, "until", f"invalid date {value!r} ({hint})") from None
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    if not _DATE_RE.match(iso) or len(iso) <= 10:
        raise _fail(index, "until", f"invalid date {value!r} ({hint})")
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise _fail(index, "until", f"invalid date {value!r} ({hint})") from None
    return _datetime_end(index, parsed)


def _parse_rule(index: int, raw: object) -> IgnoreRule:
    if not isinstance(raw, Mapping):
        raise _fail(
            index, None, f"expected a mapping with a matcher and a reason, got {type(raw).__name__}"
        )
    unknown = sorted(repr(k) if not isinstance(k, str) else k for k in raw if k not in ALLOWED_KEYS)
    if unknown:
        raise _fail(
            index,
            unknown[0],
            f"unknown key (allowed: {', '.join(sorted(ALLOWED_KEYS))})",
        )
    present = [key for key in MATCHER_KEYS if key in raw]
    if not present:
        raise _fail(index, None, f"needs one matcher: {', '.join(MATCHER_KEYS)}")
    if len(present) > 1:
        raise _fail(
            index,
            present[1],
            f"only one matcher per rule is allowed (also has '{present[0]}'); "
            "write one rule per matcher",
        )
    if "reason" not in raw or raw["reason"] is None:
        raise _fail(index, "reason", "is required: say why this guest needs no PBS backup")
    reason = _parse_text(index, "reason", raw["reason"])

    key = present[0]
    value = raw[key]
    if value is None:
        raise _fail(index, key, "must not be empty")
    fields: dict[str, Any] = {}
    if key == "vmid":
        fields["vmid"] = _parse_vmid(index, value)
    else:
        fields[key] = _parse_text(index, key, value)

    until: int | None = None
    until_text: str | None = None
    if raw.get("until") is not None:
        until, until_text = _parse_until(index, raw["until"])
    return IgnoreRule(index=index, reason=reason, until=until, until_text=until_text, **fields)


def parse_ignore_rules(raw: object) -> tuple[IgnoreRule, ...]:
    """Validate the value of the ``ignore:`` key (a list of rule mappings, or None).

    Raises ``IgnoreRuleError`` for the first problem found, naming the rule index and key.
    """
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise IgnoreRuleError(f"ignore: expected a list of rules, got {type(raw).__name__}")
    return tuple(_parse_rule(index, item) for index, item in enumerate(raw))


def match_ignore(guest: Guest, rules: Sequence[IgnoreRule], now: int) -> IgnoreMatch | None:
    """The first rule (in configuration order) that matches ``guest`` and has not expired."""
    for rule in rules:
        if not rule.expired(now) and rule.matches(guest):
            return IgnoreMatch(rule)
    return None


def expired_rule_anomalies(
    rules: Sequence[IgnoreRule], now: int, guests: Iterable[Guest] = ()
) -> tuple[Anomaly, ...]:
    """One ``info`` anomaly per expired rule, listing the guests it would still match."""
    expired = [rule for rule in rules if rule.expired(now)]
    if not expired:
        return ()
    guest_list = list(guests)
    result: list[Anomaly] = []
    for rule in expired:
        matched = sorted(g.vmid for g in guest_list if rule.matches(g))
        result.append(
            Anomaly(
                severity=Severity.INFO,
                component="config",
                message=Msg("rule_expired", rule=rule.label, until=rule.until_text),
                details={
                    "rule": rule.matcher,
                    "index": rule.index,
                    "reason": rule.reason,
                    "until": rule.until_text,
                    "vmids": matched,
                },
            )
        )
    return tuple(result)
