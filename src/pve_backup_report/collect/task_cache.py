"""Task-result cache: what finished vzdump tasks taught us, kept between runs.

Finished tasks never change, so a run only needs the logs of tasks it has not seen. The
cache is one small JSON file per cluster, written atomically (temp file, fsync, rename)
under an exclusive ``flock`` on a side lock file, so overlapping runs merge their results
instead of losing them. Entries older than the history window are dropped. A corrupt or
unreadable cache is rebuilt, reported as an ``info`` anomaly, never a failure.

Two small pieces of configuration are kept too, so that a run does not ask them again:
node time zones (a day) and, for the report and the dumps, guest notes (12 to 24 hours,
staggered per guest so that a large cluster refreshes a few at a time; see
docs/performance.md). A run with nothing new does not rewrite the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pve_backup_report.analysis.creation import Candidate, GuestCreation
from pve_backup_report.analysis.history import RESULT_STATUSES, GuestBackupResult, ResultStatus
from pve_backup_report.atomic import atomic_write_text
from pve_backup_report.collect import json_decode
from pve_backup_report.collect.tasks import CachedTask
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Severity, guest_type

FORMAT_VERSION = 1


def default_cache_path(hosts: Iterable[str], token_id: str | None) -> str:
    """``$XDG_CACHE_HOME`` (or ``~/.cache``)``/check_pve_backup/tasks-<cluster>.json``.

    The cluster key is a hash of the configured hosts and the token id, so two clusters
    (or two tokens seeing different tasks) never share a file.
    """
    key = hashlib.sha256(("|".join(sorted(hosts)) + "|" + (token_id or "")).encode()).hexdigest()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "check_pve_backup", f"tasks-{key[:16]}.json")


def _encode_message(message: str | None) -> Any:
    """A result's message; one of ours keeps its code so the report can translate it."""
    if isinstance(message, Msg) and all(
        isinstance(v, (str, int)) and not isinstance(v, Msg) for _, v in message.args
    ):
        return {"text": str(message), "code": message.code, "args": message.params}
    return message


def _decode_message(raw: Any) -> str | None:
    if isinstance(raw, dict):
        try:
            return Msg(str(raw["code"]), **dict(raw["args"]))
        except (KeyError, TypeError, ValueError, IndexError):  # a code this version lacks
            return str(raw.get("text", ""))
    return None if raw is None else str(raw)


def _encode(t: CachedTask) -> dict[str, Any]:
    return {
        "node": t.node,
        "starttime": t.starttime,
        "storage": t.storage,
        "pbs": t.pbs,
        **({"died": t.died} if t.died is not None else {}),
        "results": [
            [
                r.vmid,
                r.status,
                r.started,
                r.ended,
                r.duration_s,
                _encode_message(r.message),
                r.archive,
                r.guest_type,
            ]
            for r in t.results
        ],
    }


def _status(value: object) -> ResultStatus:
    """A cached result's status; anything else makes the entry unreadable (re-read)."""
    for known in RESULT_STATUSES:
        if value == known:
            return known
    raise ValueError(f"unknown status {value!r}")


def _decode(upid: str, d: dict[str, Any]) -> CachedTask:
    node = str(d["node"])
    results = tuple(
        GuestBackupResult(
            vmid=int(r[0]),
            status=_status(r[1]),
            started=r[2],
            ended=r[3],
            duration_s=r[4],
            node=node,
            upid=upid,
            message=_decode_message(r[5]),
            archive=r[6],
            guest_type=guest_type(r[7]),
        )
        for r in d["results"]
    )
    died = d.get("died")
    return CachedTask(
        upid, node, int(d["starttime"]), d.get("storage"), bool(d["pbs"]), results,
        None if died is None else str(died),
    )  # fmt: skip


TIMEZONE_TTL_S = 86400  # node time zones are asked again once a day
NOTES_TTL_S = 86400  # a guest's notes are asked again after 12 to 24 hours (per guest)


def _notes_ttl(vmid: int) -> int:
    """Half to all of NOTES_TTL_S, fixed per guest: refreshes spread over the day."""
    return NOTES_TTL_S // 2 + (vmid * 2654435761 % 1000) * NOTES_TTL_S // 2000


@dataclass
class TaskCache:
    """What finished vzdump tasks taught, kept between runs (one JSON file, written
    atomically under a lock), with the time zones and notes read recently.

    Example::

        cache = TaskCache.load(default_cache_path(settings))
        history = collect_history(client, inventory, coverage, now, options, cache.tasks)
        cache.save(history.new_tasks, now - window_s(options.history_days))
    """

    path: str
    tasks: dict[str, CachedTask]
    anomalies: list[Anomaly]
    timezones: dict[str, tuple[str, int]] = field(default_factory=dict)  # node -> (tz, read at)
    notes: dict[int, tuple[str, int]] = field(default_factory=dict)  # vmid -> (notes, read at)
    # the creation tasks found of guests without a result (``known_creations``)
    creations: dict[int, GuestCreation] = field(default_factory=dict)
    # What the file held when it was read cleanly (None: missing or unreadable).
    _as_read: tuple[Any, ...] | None = field(default=None, repr=False)

    def known_creations(
        self, candidates: Mapping[int, Candidate], since: int
    ) -> dict[int, GuestCreation]:
        """The cached creations that settle a candidate without asking PVE again: one
        of the guest's type that started after the run it was expected in, and within
        the history window (``since``: older ones are dropped when the cache is saved).
        The guest is pending then, and stays so whatever newer creation (a re-created
        VMID) there is, as long as that run is the expected one; once a later run is
        expected, PVE is asked again."""
        out: dict[int, GuestCreation] = {}
        for vmid, c in candidates.items():
            found = self.creations.get(vmid)
            if (
                found
                and found.guest_type == c.guest_type
                and found.started > c.expected
                and found.started >= since
            ):
                out[vmid] = found
        return out

    def fresh_notes(self, wall_clock: int) -> dict[int, str]:
        return {
            vmid: text
            for vmid, (text, read_at) in self.notes.items()
            if 0 <= wall_clock - read_at < _notes_ttl(vmid)
        }

    def fresh_timezones(self, wall_clock: int) -> dict[str, str]:
        return {
            node: tz
            for node, (tz, read_at) in self.timezones.items()
            if 0 <= wall_clock - read_at < TIMEZONE_TTL_S
        }

    @classmethod
    def load(cls, path: str) -> TaskCache:
        anomalies: list[Anomaly] = []
        tasks: dict[str, CachedTask] = {}
        timezones: dict[str, tuple[str, int]] = {}
        notes: dict[int, tuple[str, int]] = {}
        creations: dict[int, GuestCreation] = {}
        try:
            with open(path, "rb") as fh:
                raw = json_decode.loads(fh.read())
            if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION:
                raise ValueError("unknown format")
            for upid, d in raw["tasks"].items():
                tasks[upid] = _decode(upid, d)
            for node, (tz, read_at) in raw.get("timezones", {}).items():
                timezones[str(node)] = (str(tz), int(read_at))
            for vmid, (text, read_at) in raw.get("notes", {}).items():
                notes[int(vmid)] = (str(text), int(read_at))
            for item in raw.get("creations", []):
                creation = GuestCreation.from_json(item)
                creations[creation.vmid] = creation
        except FileNotFoundError:
            pass
        # RecursionError: a value nested deeper than Python recurses (orjson reads
        # up to 1,024 levels), met when it is turned into text
        except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
            tasks, timezones, notes, creations = {}, {}, {}, {}
            anomalies.append(
                Anomaly(
                    Severity.INFO,
                    "cache",
                    Msg("cache_unreadable", path=path, error=type(exc).__name__),
                    {"path": path},
                )
            )
        cache = cls(path, tasks, anomalies, timezones, notes, creations)
        if not anomalies and (tasks or timezones or notes or creations):
            cache._as_read = cache._state()
        return cache

    def _state(self) -> tuple[Any, ...]:
        return (dict(self.timezones), dict(self.notes), dict(self.creations))

    def _unchanged(self, new: list[CachedTask], oldest: int) -> bool:
        """Nothing to write: no new task, none to drop, time zones as read."""
        return (
            not new
            and self._as_read is not None
            and self._state() == self._as_read
            and all(t.starttime >= oldest for t in self.tasks.values())
        )

    def save(self, new: Iterable[CachedTask], oldest: int) -> bool:
        """Merge ``new`` into the file (under a lock) and drop entries before ``oldest``;
        True when the file was written."""
        new = list(new)
        if self._unchanged(new, oldest):
            return False  # a warm run with nothing new: no lock, no re-read, no rewrite
        directory = os.path.dirname(self.path) or "."
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            with _locked(self.path + ".lock"):
                on_disk = TaskCache.load(self.path)
                merged = {**on_disk.tasks, **self.tasks, **{t.upid: t for t in new}}
                kept = {u: t for u, t in merged.items() if t.starttime >= oldest}
                zones = {**on_disk.timezones, **self.timezones}
                wall = int(time.time())
                notes = {
                    vmid: entry
                    for vmid, entry in {**on_disk.notes, **self.notes}.items()
                    if 0 <= wall - entry[1] < NOTES_TTL_S
                }
                payload = {
                    "version": FORMAT_VERSION,
                    "timezones": {n: list(v) for n, v in sorted(zones.items())},
                    "tasks": {u: _encode(t) for u, t in sorted(kept.items())},
                }
                if notes:
                    payload["notes"] = {str(v): list(e) for v, e in sorted(notes.items())}
                made = {**on_disk.creations, **self.creations}
                if made := {v: c for v, c in made.items() if c.started >= oldest}:
                    payload["creations"] = [c.to_json() for _, c in sorted(made.items())]
                atomic_write_text(self.path, json_decode.dumps(payload))
                self.tasks, self.creations = kept, made
                self._as_read = self._state()
                return True
        except OSError as exc:
            self.anomalies.append(
                Anomaly(
                    Severity.INFO,
                    "cache",
                    Msg("cache_unwritable", path=self.path, error=exc.strerror),
                    {"path": self.path},
                )
            )
            return False


@contextlib.contextmanager
def _locked(lock_path: str) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
