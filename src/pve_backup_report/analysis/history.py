"""Per-guest backup results from vzdump tasks and their logs (pure functions, no I/O).

The collector fetches ``/nodes/{node}/tasks`` items and their logs; this module turns one
task (:func:`task_from_api`) plus its log lines into :class:`GuestBackupResult` values
(:func:`parse_task`) and picks the newest result per guest (:func:`latest_results`).

Log format (pve-facts §2): every line is ``INFO: …``, ``ERROR: …`` or ``WARN: …`` (tool
output may come without a prefix); a guest section starts with ``Starting Backup of VM N``
and ends with ``Finished Backup of VM N (HH:MM:SS)`` or ``Backup of VM N failed - …``;
the task's last line is ``TASK OK`` / ``TASK WARNINGS: n`` / ``TASK ERROR: …`` (missing when
the worker was killed).

Decisions where the sources leave room:

* A guest that finished but logged ``ERROR:`` or ``WARN:`` lines inside its section is
  ``warning``; ``message`` is the first such line (plus ``(+N more)``).
  ``WARN:``/``ERROR:`` lines outside a guest section are not attributed to a guest.
* A guest whose section never ended: ``running`` while the task runs; in an ended task
  ``failed`` with the job error or ``backup did not finish (task ended: <status>)`` –
  unless the task ended ``OK``/``WARNINGS`` (PVE only ends that way when every guest
  succeeded), then the log is incomplete: the guest gets the task's verdict and an
  anomaly is added.
* Guests in ``expected_vmids`` (and the VMID in a single-guest task's id) without any line
  in the log get a ``failed`` result only when the job died (no ``Backup job finished …``
  line, status an error other than ``job errors``, or unknown). Guests listed in
  ``skip external VMs`` are never filled in.
* ``Backup started at`` / ``Backup finished at`` / ``Failed at`` are node-local; with no
  (or an unknown) time zone they are read as UTC and an anomaly says so. In the repeated
  hour of a DST change the first occurrence is taken.
* Only PBS archives (``creating Proxmox Backup Server archive '…'``) are kept in
  ``archive``; file archives of other storages are not.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from functools import cached_property, lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, GuestType, Severity, guest_type
from pve_backup_report.pve.upid import UpidError, parse_upid
from pve_backup_report.records import quick_init

# a guest's result in one task, and a whole task's outcome
ResultStatus = Literal["ok", "warning", "failed", "running"]
JobStatus = Literal["ok", "warning", "failed", "running", "unknown"]
RESULT_STATUSES: tuple[ResultStatus, ...] = ("ok", "warning", "failed", "running")
# a task record's status kind (task_status_kind) -> the job's status
_RECORD_STATUS: dict[str, JobStatus] = {
    "ok": "ok", "warning": "warning", "error": "failed", "running": "running",
}  # fmt: skip

__all__ = [
    "GuestBackupResult",
    "GuestHistory",
    "HistoryDataError",
    "TaskInfo",
    "TaskParse",
    "latest_results",
    "parse_task",
    "same_guest_results",
    "task_from_api",
    "task_status_kind",
]

GUEST_STATUSES = ("ok", "warning", "failed", "running")
JOB_STATUSES = ("ok", "warning", "failed", "running", "unknown")

_MAX_VMID_DIGITS = 9  # PVE VMIDs are 100..999999999
_MAX_MESSAGE = 2000  # cap for messages built from several log lines
_JOB_ERRORS = "job errors"
_UNEXPECTED = "unexpected status"
_CONTROL_MESSAGE = "got unexpected control message"


class HistoryDataError(ValueError):
    """A task record or input value is unusable; the caller turns it into an anomaly."""


# --------------------------------------------------------------------------- task records


@quick_init
@dataclass(frozen=True)
class TaskInfo:
    """One item of ``/nodes/{node}/tasks`` (or ``/cluster/tasks``)."""

    upid: str
    node: str
    starttime: int
    endtime: int | None
    status: str | None  # OK / WARNINGS: n / job errors / <error> / RUNNING / None
    type: str
    id: str
    user: str

    @cached_property
    def vmid(self) -> int | None:
        """The guest id when the task id is a VMID (a single-guest vzdump run)."""
        return _vmid_or_none(self.id)

    @cached_property
    def pstart(self) -> int:
        """The worker's start in clock ticks since boot (from the UPID): orders the tasks
        started in one second."""
        try:
            return parse_upid(self.upid).pstart
        except UpidError:
            return 0

    @property
    def is_running(self) -> bool:
        """The task list says it still runs (``RUNNING``, or neither status nor endtime)."""
        if self.status is not None:
            return self.status.upper() == "RUNNING"
        return self.endtime is None


def _vmid_or_none(text: str) -> int | None:
    if 0 < len(text) <= _MAX_VMID_DIGITS and text.isascii() and text.isdigit():
        value = int(text)
        return value if value > 0 else None
    return None


def _field_str(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HistoryDataError(f"task field {key!r} is not a string: {value!r:.80}")
    return value


def _field_int(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    result: int | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int):
        result = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12
    ):
        result = int(value)
    if result is None or not 0 <= result < 2**53:
        raise HistoryDataError(f"task field {key!r} is not an epoch time: {value!r:.80}")
    return result


def task_from_api(item: Mapping[str, Any]) -> TaskInfo:
    """Build a :class:`TaskInfo` from a task-list item.

    ``upid`` is required and must be a valid UPID; ``node``, ``starttime``, ``type``, ``id``
    and ``user`` fall back to the UPID's values when missing. Raises :class:`HistoryDataError`
    for missing or malformed fields.
    """
    fast = _well_formed_task(item)
    if fast is not None:
        return fast
    if not isinstance(item, Mapping):
        raise HistoryDataError(f"task item is not an object: {type(item).__name__}")
    raw = item.get("upid")
    if not isinstance(raw, str) or not raw:
        raise HistoryDataError("task item has no 'upid' string")
    try:
        upid = parse_upid(raw)
    except UpidError as exc:
        raise HistoryDataError(f"task item has an invalid upid: {raw[:120]!r}") from exc
    node = _field_str(item, "node") or upid.node
    if node != upid.node:
        raise HistoryDataError(f"task node {node!r} does not match its upid {raw!r}")
    starttime = _field_int(item, "starttime")
    endtime = _field_int(item, "endtime")
    status = _field_str(item, "status")
    task_type = _field_str(item, "type") or upid.type
    raw_id = item.get("id")
    if raw_id is None:
        task_id = upid.id
    elif isinstance(raw_id, str):
        task_id = raw_id
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        task_id = str(raw_id)
    else:
        raise HistoryDataError(f"task field 'id' is not a string: {raw_id!r:.80}")
    user = _field_str(item, "user") or upid.user
    return TaskInfo(
        upid=raw,
        node=node,
        starttime=upid.starttime if starttime is None else starttime,
        endtime=endtime,
        status=status,
        type=task_type,
        id=task_id,
        user=user,
    )


_EPOCH_LIMIT = 2**53


def _well_formed_task(item: object) -> TaskInfo | None:
    """:func:`task_from_api` for the usual item (every field present with PVE's type),
    with fewer checks; None sends anything else through the full validation.

    A node lists up to thousands of tasks, and this runs for each of them on every run.
    """
    if type(item) is not dict:
        return None
    raw = item.get("upid")
    node = item.get("node")
    starttime = item.get("starttime")
    endtime = item.get("endtime")
    status = item.get("status")
    task_type = item.get("type")
    task_id = item.get("id")
    user = item.get("user")
    if not (
        type(raw) is str
        and type(node) is str
        and node
        and type(task_type) is str
        and task_type
        and type(task_id) is str
        and type(user) is str
        and user
        and type(starttime) is int
        and 0 <= starttime < _EPOCH_LIMIT
        and (endtime is None or (type(endtime) is int and 0 <= endtime < _EPOCH_LIMIT))
        and (status is None or type(status) is str)
    ):
        return None
    try:
        upid = parse_upid(raw)
    except UpidError:
        return None
    if upid.node != node:
        return None
    # a node lists thousands of tasks of a few types, users and statuses: the decoded
    # answer gives each its own copies, the parsed UPID shares one (``intern``)
    status = "OK" if status == "OK" else status
    task_type = upid.type if task_type == upid.type else task_type
    user = upid.user if user == upid.user else user
    return TaskInfo(raw, upid.node, starttime, endtime, status, task_type, task_id, user)


_WARNINGS_RE = re.compile(r"WARNINGS: [0-9]+")


def task_status_kind(status: str | None) -> str:
    """Classify a task status like ``PVE::Tools::normalize_status_type`` (plus ``running``).

    ``OK`` → ``ok``; ``WARNINGS: n`` → ``warning``; empty/None/``0`` (Perl-false)/
    ``unexpected status`` → ``unknown``; ``RUNNING`` → ``running``; anything else (an
    error text) → ``error``.
    """
    if not status or status == "0" or status == _UNEXPECTED:  # Perl: ``!$status``
        return "unknown"
    if status == "OK":
        return "ok"
    if _WARNINGS_RE.fullmatch(status):
        return "warning"
    if status.upper() == "RUNNING":
        return "running"
    return "error"


# --------------------------------------------------------------------------- results


@quick_init
@dataclass(frozen=True, slots=True)
class GuestBackupResult:
    """The outcome of one guest's backup in one vzdump task."""

    vmid: int
    status: ResultStatus
    started: int | None  # epoch
    ended: int | None  # epoch
    duration_s: int | None
    node: str
    upid: str
    message: str | None  # failure reason or warnings summary
    archive: str | None = None  # PBS snapshot, e.g. "vm/100/2024-01-01T01:00:05Z"
    guest_type: GuestType | None = None  # from the Starting line

    @property
    def is_success(self) -> bool:
        return self.status in ("ok", "warning")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "duration_s": self.duration_s,
            "node": self.node,
            "upid": self.upid,
            "message": self.message,
            "archive": self.archive,
        }


@dataclass(frozen=True)
class TaskParse:
    """Everything :func:`parse_task` learned from one task."""

    task: TaskInfo
    results: tuple[GuestBackupResult, ...]
    job_status: JobStatus
    job_error: str | None
    anomalies: tuple[Anomaly, ...]
    log_available: bool
    skip_lists: tuple[str, ...] = ()  # the log's ``skip external VMs`` lists, unread

    @property
    def skipped_external(self) -> tuple[int, ...]:
        """The guests of other nodes the job skipped, each once in log order. Read only
        when asked: one list can name thousands of guests, and a run rarely needs it."""
        return _skipped(self.skip_lists)


@quick_init
@dataclass(frozen=True)
class GuestHistory:
    """Newest result of a guest, and newest successful (``ok``/``warning``) one.

    ``last_finished`` is the newest result that is not ``running``: while a run is
    going, the previous result stands (docs/states-and-perfdata.md).
    """

    last_backup: GuestBackupResult | None
    last_success: GuestBackupResult | None
    last_finished: GuestBackupResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "last_backup": None if self.last_backup is None else self.last_backup.to_json(),
            "last_success": None if self.last_success is None else self.last_success.to_json(),
        }


# --------------------------------------------------------------------------- log parsing

_STARTING_RE = re.compile(r"([0-9]{1,9}) \(([^()\s]*)\)")
_FINISHED_RE = re.compile(r"([0-9]{1,9}) \(([0-9]{1,12}):([0-9]{2}):([0-9]{2})\)")
_FAILED_RE = re.compile(r"Backup of VM ([0-9]{1,9}) failed -(.*)", re.DOTALL)
_LOCAL_TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_ARCHIVE_RE = re.compile(r"'([^']+)'")
# one VMID of a comma-separated list, spaces allowed around it
_SKIP_RE = re.compile(rf"(?:^|,)\s*([0-9]{{1,{_MAX_VMID_DIGITS}}})\s*(?=,|$)")

_P_INFO = "INFO: "
_P_ERROR = "ERROR: "
_P_WARN = "WARN: "
_INFO_STARTING = "Starting Backup of VM "
_INFO_FINISHED = "Finished Backup of VM "
_INFO_STARTED_AT = "Backup started at "
_INFO_FINISHED_AT = "Backup finished at "
_INFO_FAILED_AT = "Failed at "
_INFO_PBS_ARCHIVE = "creating Proxmox Backup Server archive "
_INFO_SKIP = "skip external VMs: "
_INFO_JOB_OK = "Backup job finished successfully"
_INFO_JOB_ERRORS = "Backup job finished with errors"
_ERROR_JOB_FAILED = "Backup job failed - "
# the first four characters of every INFO text ``_LogState._info`` looks at
_INFO_HEADS = frozenset(
    p[:4]
    for p in (
        _INFO_STARTING, _INFO_FINISHED, _INFO_STARTED_AT, _INFO_FINISHED_AT, _INFO_FAILED_AT,
        _INFO_PBS_ARCHIVE, _INFO_SKIP, _INFO_JOB_OK, _INFO_JOB_ERRORS,
    )
)  # fmt: skip


class _Guest:
    """Mutable state of one guest section while the log is read."""

    __slots__ = (
        "archive",
        "duration",
        "ended",
        "fail_len",
        "fail_parts",
        "first_issue",
        "guest_type",
        "issue_count",
        "started",
        "state",
        "vmid",
    )

    def __init__(self, vmid: int, guest_type: GuestType | None, state: str) -> None:
        self.vmid = vmid
        self.guest_type = guest_type
        self.state = state  # open / finished / failed
        self.started: int | None = None
        self.ended: int | None = None
        self.duration: int | None = None
        self.archive: str | None = None
        self.first_issue: str | None = None
        self.issue_count = 0
        self.fail_parts: list[str] = []
        self.fail_len = 0

    def add_issue(self, text: str) -> None:
        if self.first_issue is None:
            self.first_issue = text
        self.issue_count += 1

    def add_failure_text(self, text: str) -> None:
        if self.fail_len < _MAX_MESSAGE and text:
            self.fail_parts.append(text)
            self.fail_len += len(text) + 1


def _local_epoch(text: str, zone: tzinfo) -> int | None:
    """The epoch of a node-local ``YYYY-MM-DD HH:MM:SS`` (as ``datetime(...,
    tzinfo=zone).timestamp()``, fold 0); None when it is no valid time."""
    m = _LOCAL_TIME_RE.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    start = _minute_start(year, month, day, hour, minute, zone)
    if start is None or second > 59:
        return _exact_epoch(year, month, day, hour, minute, second, zone)
    return start + second


@lru_cache(maxsize=1 << 16)
def _minute_start(
    year: int, month: int, day: int, hour: int, minute: int, zone: tzinfo
) -> int | None:
    """The epoch of that local minute's first second, when the zone's UTC offset is the
    same for all its seconds; None when it is no valid time or the offset changes within
    the minute (then each second is computed). A log has a time on most of its lines:
    the zone is asked once a minute."""
    try:
        first = datetime(year, month, day, hour, minute, 0, tzinfo=zone)
        last = datetime(year, month, day, hour, minute, 59, tzinfo=zone)
    except (ValueError, OverflowError):
        return None
    if first.utcoffset() != last.utcoffset():
        return None
    return int(first.timestamp())


def _exact_epoch(
    year: int, month: int, day: int, hour: int, minute: int, second: int, zone: tzinfo
) -> int | None:
    try:
        return int(datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp())
    except (ValueError, OverflowError):
        return None


def _resolve_zone(tz: str | None) -> tuple[tzinfo, str | None]:
    """The zone to read log times in, and a problem text when it is not the node's."""
    if tz is None or not tz.strip():
        return timezone.utc, Msg("tz_node_unknown")
    try:
        return ZoneInfo(tz.strip()), None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return timezone.utc, Msg("tz_unknown", zone=tz.strip()[:60])


def _skipped(texts: Sequence[str]) -> tuple[int, ...]:
    """The VMIDs of ``skip external VMs`` lists, each once in log order."""
    if len(texts) == 1:
        return _skip_ids(texts[0])
    return tuple(dict.fromkeys(v for text in texts for v in _skip_ids(text)))


@lru_cache(maxsize=256)
def _skip_ids(text: str) -> tuple[int, ...]:
    """The VMIDs of one ``skip external VMs`` list, each once in log order (every run of
    a job on a node logs the same list)."""
    return tuple(dict.fromkeys(v for v in map(int, _SKIP_RE.findall(text)) if v))


class _LogState:
    """Single-pass reader of one vzdump task log."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.guests: list[_Guest] = []
        self.open: _Guest | None = None
        self.latest: dict[int, _Guest] = {}
        self.pending_end: _Guest | None = None  # waits for "Backup finished at"/"Failed at"
        self.failure_cont: _Guest | None = None  # collects continuation ERROR lines
        self.skip_texts: list[str] = []  # "skip external VMs" lists, read at the end
        self.task_line_status: str | None = None
        self.job_failed_msg: str | None = None
        self.pre_guest_error: str | None = None
        self.job_end: str | None = None  # "ok" / "errors" from "Backup job finished …"
        self.times_read = 0
        self.nonblank = 0

    def _guest_for(self, vmid: int) -> _Guest | None:
        if self.open is not None and self.open.vmid == vmid:
            return self.open
        g = self.latest.get(vmid)
        if g is not None and g.state == "open":
            return g
        return None

    def _new_guest(self, vmid: int, guest_type: GuestType | None, state: str) -> _Guest:
        g = _Guest(vmid, guest_type, state)
        self.guests.append(g)
        self.latest[vmid] = g
        return g

    def _time(self, text: str) -> int | None:
        value = _local_epoch(text, self.zone)
        if value is not None:
            self.times_read += 1
        return value

    def feed(self, lines: Sequence[str]) -> None:
        heads = _INFO_HEADS
        nonblank = 0
        for index, raw in enumerate(lines):
            if not isinstance(raw, str):
                self.nonblank += nonblank
                raise HistoryDataError(f"log line {index + 1} is not a string")
            if raw.startswith(_P_INFO):  # most lines: no copy without trailing blanks
                nonblank += 1
                self.failure_cont = None
                if raw[6:10] in heads:  # most INFO lines say nothing about the result
                    self._info(raw[6:].rstrip())
                continue
            line = raw.rstrip()
            if not line:
                continue
            nonblank += 1
            if line.startswith(_P_ERROR):
                self._error(line[len(_P_ERROR) :].strip())
            elif line.startswith(_P_WARN):
                self.failure_cont = None
                if self.open is not None:
                    self.open.add_issue(line[len(_P_WARN) :].strip())
            elif line.startswith("TASK "):
                self.failure_cont = None
                self._task_line(line)
            else:
                self.failure_cont = None
        self.nonblank += nonblank

    def _info(self, text: str) -> None:
        if self._guest_line(text):
            return
        if text.startswith(_INFO_PBS_ARCHIVE):
            m = _ARCHIVE_RE.match(text, len(_INFO_PBS_ARCHIVE))
            if m is not None and self.open is not None and self.open.archive is None:
                self.open.archive = m.group(1)
        elif text.startswith(_INFO_SKIP):
            self.skip_texts.append(text[len(_INFO_SKIP) :])
        elif text.startswith(_INFO_JOB_OK):
            self.job_end = "ok"
        elif text.startswith(_INFO_JOB_ERRORS):
            self.job_end = "errors"

    def _guest_line(self, text: str) -> bool:
        """A guest section's start or end line (and its times); False for other lines."""
        if text.startswith(_INFO_STARTING):
            m = _STARTING_RE.fullmatch(text, len(_INFO_STARTING))
            if m is not None:
                self.pending_end = None
                kind = guest_type(m.group(2))
                self.open = self._new_guest(int(m.group(1)), kind, "open")
        elif text.startswith(_INFO_FINISHED):
            m = _FINISHED_RE.fullmatch(text, len(_INFO_FINISHED))
            if m is not None:
                self._finished(int(m.group(1)), *(int(x) for x in m.group(2, 3, 4)))
        elif text.startswith(_INFO_STARTED_AT):
            if self.open is not None and self.open.started is None:
                self.open.started = self._time(text[len(_INFO_STARTED_AT) :])
        elif text.startswith((_INFO_FINISHED_AT, _INFO_FAILED_AT)):
            finished = text.startswith(_INFO_FINISHED_AT)
            done = self.pending_end
            state = "finished" if finished else "failed"
            if done is not None and done.state == state and done.ended is None:
                prefix = _INFO_FINISHED_AT if finished else _INFO_FAILED_AT
                done.ended = self._time(text[len(prefix) :])
            self.pending_end = None
        else:
            return False
        return True

    def _finished(self, vmid: int, hours: int, minutes: int, seconds: int) -> None:
        g = self._guest_for(vmid) or self._new_guest(vmid, None, "open")
        g.state = "finished"
        g.duration = hours * 3600 + minutes * 60 + seconds
        if g is self.open:
            self.open = None
        self.pending_end = g

    def _error(self, text: str) -> None:
        m = _FAILED_RE.match(text)
        if m is not None:
            vmid = int(m.group(1))
            g = self._guest_for(vmid) or self._new_guest(vmid, None, "failed")
            g.state = "failed"
            g.fail_parts = []
            g.fail_len = 0
            g.add_failure_text(m.group(2).strip())
            if g is self.open:
                self.open = None
            self.pending_end = g
            self.failure_cont = g
            return
        if text.startswith(_ERROR_JOB_FAILED):
            self.failure_cont = None
            if self.job_failed_msg is None:
                self.job_failed_msg = text[len(_ERROR_JOB_FAILED) :].strip() or "job failed"
            return
        if self.failure_cont is not None:
            self.failure_cont.add_failure_text(text)
            return
        if self.open is not None:
            self.open.add_issue(text)
        elif not self.guests and self.pre_guest_error is None and text:
            self.pre_guest_error = text

    def _task_line(self, line: str) -> None:
        if line == "TASK OK":
            self.task_line_status = "OK"
        elif line.startswith("TASK WARNINGS: "):
            count = line[len("TASK WARNINGS: ") :].strip()
            if count.isascii() and count.isdigit():
                self.task_line_status = f"WARNINGS: {count}"
        elif line.startswith("TASK ERROR: "):
            self.task_line_status = line[len("TASK ERROR: ") :].strip() or _UNEXPECTED


# --------------------------------------------------------------------------- parse_task


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _unavailable_reason(log: Sequence[str] | None) -> str | None:
    if log is None:
        return Msg("no_log")
    if len(log) == 0:
        return Msg("empty_log")
    if len(log) == 1 and isinstance(log[0], str):
        text = log[0].strip()
        if text == "no content":
            return Msg("no_content")
        if text.startswith("unable to open file"):
            return _clip(text)
    return None


def _check_inputs(task: TaskInfo, expected: Collection[int] | None, tz: str | None) -> None:
    if not isinstance(task, TaskInfo):
        raise HistoryDataError(f"not a TaskInfo: {type(task).__name__}")
    if task.type != "vzdump":
        raise HistoryDataError(f"task {task.upid} is a {task.type!r} task, not 'vzdump'")
    if expected is not None:
        for vmid in expected:
            if isinstance(vmid, bool) or not isinstance(vmid, int):
                raise HistoryDataError(f"expected VMID is not an int: {vmid!r:.40}")
    if tz is not None and not isinstance(tz, str):
        raise HistoryDataError(f"time zone is not a string: {tz!r:.40}")


def parse_task(
    task: TaskInfo,
    log: Sequence[str] | None,
    expected_vmids: Collection[int] | None = None,
    tz: str | None = None,
) -> TaskParse:
    """Per-guest results of one vzdump task.

    ``log`` is the task log, one string per line (``None`` when it could not be read);
    ``expected_vmids`` are the guests the job was to back up on the task's node, when known;
    ``tz`` is the node's IANA time zone for the ``Backup started at`` style lines.
    Raises :class:`HistoryDataError` only for unusable inputs (wrong task type, non-string
    lines), never because of what the log says.
    """
    _check_inputs(task, expected_vmids, tz)
    reason = _unavailable_reason(log)
    if reason is not None or log is None:
        return _fallback(task, reason or Msg("no_log"), expected_vmids)

    zone, zone_problem = _resolve_zone(tz)
    state = _LogState(zone)
    state.feed(log)
    if state.nonblank == 0:
        return _fallback(task, Msg("empty_log"), expected_vmids)
    return _build(task, state, expected_vmids, zone_problem)


def _build(
    task: TaskInfo,
    st: _LogState,
    expected: Collection[int] | None,
    zone_problem: str | None,
) -> TaskParse:
    out = _outcome(task, st)
    built = _section_results(task, st, out)
    any_failed = any(r.status == "failed" for r in built)
    job_status: JobStatus
    if out.running:
        job_status = "running"
    elif out.kind in ("ok", "warning"):
        job_status = "ok" if out.kind == "ok" else "warning"
    elif out.kind == "error" or out.job_error is not None or any_failed:
        job_status = "failed"
    else:
        job_status = "unknown"
    if job_status in ("failed", "unknown"):
        missing = _missing_guests(task, st, out, expected, {r.vmid for r in built})
        built += missing
        any_failed = any_failed or bool(missing)
    return TaskParse(
        task=task,
        results=tuple(built),
        job_status=job_status,
        job_error=None if out.job_error is None else _clip(out.job_error),
        anomalies=tuple(_task_anomalies(task, st, out, any_failed, zone_problem)),
        log_available=True,
        skip_lists=tuple(st.skip_texts),
    )


@dataclass(frozen=True)
class _Outcome:
    """How a task ended, read from its log and its listing."""

    running: bool
    final_status: str | None  # the TASK line's status, else the listing's
    status_text: str  # ``final_status`` or "unexpected status"
    kind: str  # task_status_kind, "running" only while it really runs
    job_error: str | None  # why the whole job failed, if it did


def _outcome(task: TaskInfo, st: _LogState) -> _Outcome:
    running = st.task_line_status is None and task.is_running
    if st.task_line_status is not None:
        final_status: str | None = st.task_line_status
    elif task.status is not None and task.status.upper() != "RUNNING":
        final_status = task.status
    else:
        final_status = None
    kind = "running" if running else task_status_kind(final_status)
    if kind == "running" and not running:  # "TASK ERROR: running" is just an error text
        kind = "error"
    job_error = st.job_failed_msg or _early_error(st, final_status, kind)
    if job_error is None and kind == "error":
        job_error = final_status
    if job_error is None and not running and kind == "unknown" and st.job_end == "errors":
        job_error = _JOB_ERRORS
    return _Outcome(running, final_status, final_status or _UNEXPECTED, kind, job_error)


def _section_results(task: TaskInfo, st: _LogState, out: _Outcome) -> list[GuestBackupResult]:
    """One result per guest section (unfinished sections included)."""
    built: list[GuestBackupResult] = []
    for g in st.guests:
        status, message = _guest_verdict(
            g, g is st.open, out.running, out.kind, out.job_error, out.status_text
        )
        started, ended, duration = g.started, g.ended, g.duration
        if status == "running":
            ended = None
            duration = None
        if g.vmid == task.vmid:
            if started is None:
                started = task.starttime
            if ended is None and status != "running":
                ended = task.endtime
        if duration is None and status != "running" and started is not None and ended is not None:
            duration = ended - started if ended >= started else None
        built.append(
            GuestBackupResult(
                vmid=g.vmid,
                status=status,
                started=started,
                ended=ended,
                duration_s=duration,
                node=task.node,
                upid=task.upid,
                message=message,
                archive=g.archive,
                guest_type=g.guest_type,
            )
        )
    return built


def _missing_guests(
    task: TaskInfo,
    st: _LogState,
    out: _Outcome,
    expected: Collection[int] | None,
    seen: set[int],
) -> list[GuestBackupResult]:
    """Job-level death: the expected guests without any line failed with the job's error."""
    wanted = set(expected or ())
    if task.vmid is not None:
        wanted.add(task.vmid)  # a single-guest task names its guest in the task id
    if not wanted or out.running or st.job_end is not None or out.final_status == _JOB_ERRORS:
        return []
    skip = frozenset(_skipped(st.skip_texts))
    message = out.job_error or Msg("not_backed_up_ended", error=out.status_text)
    return [
        GuestBackupResult(
            vmid=vmid,
            status="failed",
            started=task.starttime if vmid == task.vmid else None,
            ended=task.endtime,
            duration_s=None,
            node=task.node,
            upid=task.upid,
            message=_clip(message),
            archive=None,
        )
        for vmid in sorted(wanted)
        if vmid not in seen and vmid not in skip
    ]


def _task_anomalies(
    task: TaskInfo, st: _LogState, out: _Outcome, any_failed: bool, zone_problem: str | None
) -> list[Anomaly]:
    details: dict[str, Any] = {"upid": task.upid, "node": task.node}
    anomalies: list[Anomaly] = []
    ended = out.kind in ("ok", "warning", "error")
    if not out.running and st.task_line_status is None and ended:
        anomalies.append(
            Anomaly(
                Severity.WARNING,
                "tasks",
                Msg("log_incomplete", upid=task.upid, error=out.status_text),
                dict(details, status=out.status_text),
            )
        )
    job_errors = out.final_status == _JOB_ERRORS or st.job_end == "errors"
    if not out.running and job_errors and not any_failed:
        anomalies.append(
            Anomaly(
                Severity.WARNING,
                "tasks",
                Msg("job_errors_no_guest", upid=task.upid),
                dict(details),
            )
        )
    if st.times_read and zone_problem is not None:
        anomalies.append(
            Anomaly(
                Severity.INFO if zone_problem.startswith("node") else Severity.WARNING,
                "tasks",
                Msg("log_times_utc", problem=zone_problem, upid=task.upid),
                dict(details),
            )
        )
    return anomalies


def _early_error(st: _LogState, final_status: str | None, kind: str) -> str | None:
    """Why a run died before its first guest: the ``TASK ERROR`` text, which is what PVE
    gives (pve-manager ``PVE/VZDump.pm`` ``new`` logs ``ERROR: <notification error>``
    when ``send_notification`` fails, then dies with the storage error). Without a
    ``TASK ERROR`` line (an API-started lock timeout ``exit``s) or when it is the
    ``got unexpected control message`` a CLI-started parent writes (pve-common
    ``src/PVE/RESTEnvironment.pm``), the first ``ERROR:`` line before any guest is the reason.
    """
    if st.guests or kind != "error" or st.task_line_status is None or final_status is None:
        return st.pre_guest_error
    if final_status.startswith(_CONTROL_MESSAGE):
        return st.pre_guest_error or final_status
    return final_status


def _guest_verdict(
    g: _Guest,
    is_current: bool,
    running: bool,
    kind: str,
    job_error: str | None,
    status_text: str,
) -> tuple[ResultStatus, str | None]:
    if g.state == "failed":
        return "failed", _clip(" ".join(g.fail_parts)) if g.fail_parts else Msg("backup_failed")
    if g.state == "finished":
        if g.issue_count == 0 or g.first_issue is None:
            return "ok", None
        first = _clip(g.first_issue)
        if g.issue_count > 1:
            return "warning", Msg("more_issues", first=first, count=g.issue_count - 1)
        return "warning", first
    # section never ended
    if running and is_current:
        return "running", None
    if not running and kind in ("ok", "warning"):
        # PVE ends a task OK/WARNINGS only when every guest succeeded: the log is cut off.
        return ("ok" if kind == "ok" else "warning"), Msg("log_cut")
    if job_error is not None:
        return "failed", _clip(job_error)
    return "failed", Msg("did_not_finish", error=status_text)


def _fallback(task: TaskInfo, reason: str, expected: Collection[int] | None) -> TaskParse:
    """Results from the task record alone (log missing, empty or unreadable)."""
    kind = "running" if task.is_running else task_status_kind(task.status)
    status_text = "RUNNING" if kind == "running" else (task.status or _UNEXPECTED)
    job_status = _RECORD_STATUS.get(kind, "unknown")
    job_error = task.status if kind == "error" else None
    results, outcome = _record_results(task, kind, status_text, expected)
    anomaly = Anomaly(
        Severity.WARNING,
        "tasks",
        Msg("log_unavailable", upid=task.upid, error=reason, outcome=outcome),
        {"upid": task.upid, "node": task.node, "reason": reason, "status": status_text},
    )
    return TaskParse(
        task=task,
        results=tuple(results),
        job_status=job_status,
        job_error=None if job_error is None else _clip(job_error),
        anomalies=(anomaly,),
        log_available=False,
    )


def _record_results(
    task: TaskInfo, kind: str, status_text: str, expected: Collection[int] | None
) -> tuple[list[GuestBackupResult], Msg]:
    """What the task record tells per guest without a log, and how (for the anomaly): a
    single-guest task names its guest; a task that ended well covers the guests expected
    in it; otherwise nothing is known per guest."""

    def make(
        vmid: int, status: ResultStatus, message: str | None, duration: bool
    ) -> GuestBackupResult:
        ended = None if status == "running" else task.endtime
        dur = None
        if duration and ended is not None and ended >= task.starttime:
            dur = ended - task.starttime
        return GuestBackupResult(
            vmid=vmid,
            status=status,
            started=task.starttime,
            ended=ended,
            duration_s=dur,
            node=task.node,
            upid=task.upid,
            message=None if message is None else _clip(message),
        )

    single = task.vmid
    if single is not None:
        if kind == "ok":
            one = make(single, "ok", None, True)
        elif kind == "running":
            one = make(single, "running", None, True)
        elif kind == "warning":
            one = make(single, "warning", Msg("ended_with", error=status_text), True)
        elif kind == "error":
            one = make(single, "failed", status_text, True)
        else:
            one = make(single, "failed", Msg("ended", error=status_text), True)
        return [one], Msg("outcome_status")
    if expected and kind in ("ok", "warning"):
        msg = None if kind == "ok" else Msg("ended_with_unknown_guest", error=status_text)
        status: ResultStatus = "ok" if kind == "ok" else "warning"
        return [make(v, status, msg, False) for v in sorted(set(expected))], Msg("outcome_expected")
    if expected:
        return [], Msg("outcome_unknown", error=status_text)
    return [], Msg("outcome_none")


# --------------------------------------------------------------------------- latest results

_STATUS_RANK = {"ok": 0, "warning": 1, "failed": 2, "running": 3}


def _upid_start(upid: str) -> int:
    try:
        return parse_upid(upid).starttime
    except UpidError:
        return 0


_Key = tuple[int, int, str, int, int, str, str, str]


def _recency_key(r: GuestBackupResult, starts: dict[str, int] | None = None) -> _Key:
    """Newest by ``started`` (the task start when unknown), then the UPID start time;
    the remaining fields only make ties deterministic. ``starts`` memoises UPID start
    times (a task holds many guests' results)."""
    if starts is None:
        ustart = _upid_start(r.upid)
    else:
        found = starts.get(r.upid)
        if found is None:
            found = starts[r.upid] = _upid_start(r.upid)
        ustart = found
    started = r.started if r.started is not None else ustart
    return (
        started,
        ustart,
        r.upid,
        -1 if r.ended is None else r.ended,
        _STATUS_RANK.get(r.status, 9),
        r.message or "",
        r.archive or "",
        r.node,
    )


def latest_results(results: Iterable[GuestBackupResult]) -> dict[int, GuestHistory]:
    """Newest result (any status, ``running`` included), newest finished result and
    newest success per guest."""
    best: dict[int, tuple[_Key, GuestBackupResult]] = {}
    best_done: dict[int, tuple[_Key, GuestBackupResult]] = {}
    best_ok: dict[int, tuple[_Key, GuestBackupResult]] = {}
    starts: dict[str, int] = {}
    for r in results:
        key = _recency_key(r, starts)
        _keep_newer(best, r, key)
        if r.status != "running":
            _keep_newer(best_done, r, key)
        if r.is_success:
            _keep_newer(best_ok, r, key)
    out: dict[int, GuestHistory] = {}
    for vmid in sorted(best):
        ok, done = best_ok.get(vmid), best_done.get(vmid)
        out[vmid] = GuestHistory(
            last_backup=best[vmid][1],
            last_success=ok[1] if ok else None,
            last_finished=done[1] if done else None,
        )
    return out


def _keep_newer(
    best: dict[int, tuple[_Key, GuestBackupResult]], r: GuestBackupResult, key: _Key
) -> None:
    cur = best.get(r.vmid)
    if cur is None or key > cur[0]:
        best[r.vmid] = (key, r)


def same_guest_results(
    results: Iterable[GuestBackupResult], types: Mapping[int, str]
) -> list[GuestBackupResult]:
    """The results of the guests that have these VMIDs now (``types``: VMID -> qemu/lxc).

    A VMID freed by a deleted guest can be reused by a guest of the other type; pve-manager
    ``PVE/VZDump.pm`` ``exec_backup_task`` logs the type (``Starting Backup of VM 100
    (qemu)`` / ``(lxc)``), so a result of the other type is the old guest's and is dropped.
    A result whose type is unknown (taken from the task status when the log was not
    readable, or a guest failed with its run before any line of it) cannot be attributed
    when the VMID also has results of the other type: it is dropped too (a guest can only
    look less fresh for it, never fresher). A guest of the same type that reuses a VMID
    cannot be told apart here (only qemu-server's ``meta: ctime=`` could, and restores and
    clones copy it: see docs/states-and-perfdata.md).
    """
    kept = list(results)
    mixed = {
        r.vmid
        for r in kept
        if r.guest_type is not None
        and types.get(r.vmid) is not None
        and r.guest_type != types[r.vmid]
    }
    if not mixed:
        return kept
    return [r for r in kept if r.vmid not in mixed or r.guest_type == types.get(r.vmid)]
