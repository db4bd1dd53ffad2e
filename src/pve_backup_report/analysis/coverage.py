"""Which guests are protected by an active backup job to Proxmox Backup Server.

Job selection follows ``PVE::VZDump::get_included_guests`` (pve-manager ``PVE/VZDump.pm``)
and the checks of the real vzdump run (``verify_vzdump_parameters``):

* branch order ``pool`` > ``vmid`` > ``all``; ``exclude`` applies only to ``all``;
* a stored job with ``exclude`` but neither ``all`` nor ``pool`` runs as all-minus-exclude;
* a pool job takes the pool's direct members that exist, and ignores ``exclude``;
* VMIDs are split on ``,`` ``;`` and whitespace (or NUL), leading zeros are dropped, ``0``
  is dropped, and a non-numeric entry makes PVE die (``strange VM ID``);
* the ``node`` restriction drops existing guests on other nodes, never unknown IDs;
* templates are included; the running state does not matter.

When PVE refuses to run the job (pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` dies in
``verify_vzdump_parameters`` or ``get_included_guests`` before ``fork_worker``: strange VM
ID, ``vmid`` together with ``all``/``exclude``/``pool``, no selection at all, a pool that
does not exist) the job is *refused*: it backs up nothing on every run, and the guests it
names are not covered by it. When we cannot know a pool's members (the pool is hidden
from the token, or its members could not be read) the selection is *unresolved*: the job
might include some guests. Such a guest is ``indeterminate`` when the unresolved job could
make it covered (enabled, usable PBS storage on its node) and nothing else covers it.

Pure functions only; no I/O, no clock.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pve_backup_report.analysis.ignore import (
    IgnoreMatch,
    IgnoreRule,
    expired_rule_anomalies,
    match_ignore,
)
from pve_backup_report.messages import Msg
from pve_backup_report.model import (
    Anomaly,
    BackupJob,
    Component,
    Guest,
    Inventory,
    Pool,
    Selection,
    Severity,
    Storage,
    perl_true,
    pve_selection,
)
from pve_backup_report.records import quick_init

__all__ = [
    "BackupTarget",
    "Coverage",
    "CoverageResult",
    "GuestCoverage",
    "IncludedGuests",
    "JobCoverage",
    "StrangeVmidError",
    "analyse_coverage",
    "backup_target",
    "check_vmids",
    "effective_storage",
    "included_guests",
    "selection_index",
    "split_vmid_list",
]

FALLBACK_STORAGE = "local"


class Coverage(str, enum.Enum):
    """Exactly one per guest, from best to worst protection."""

    COVERED = "covered"
    NON_PBS_ONLY = "non_pbs_only"
    DISABLED_ONLY = "disabled_only"
    NOT_COVERED = "not_covered"
    INDETERMINATE = "indeterminate"


class StrangeVmidError(ValueError):
    """PVE's ``ERROR: strange VM ID '<x>'``: a VMID list entry that is not a number."""

    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"strange VM ID '{item}'")


# --------------------------------------------------------------------------------------
# VMID list handling (PVE::Tools::split_list and PVE::VZDump::check_vmids)
# --------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[,;]")
_WHITESPACE = re.compile(r"\s+")
_LEADING_WS = re.compile(r"^\s+")
_NUMERIC = re.compile(r"[0-9]+\n?")  # Perl's /^\d+$/ also accepts one trailing newline


def _drop_trailing_empty(items: list[str]) -> list[str]:
    while items and items[-1] == "":
        items.pop()
    return items


def split_vmid_list(text: str | None) -> tuple[str, ...]:
    """Split a ``pve-vmid-list`` string the way ``PVE::Tools::split_list`` does.

    NUL-separated when it contains a NUL; otherwise ``,`` and ``;`` count as whitespace
    and the text is split on runs of whitespace. Items are not validated here.
    """
    if not perl_true(text):
        return ()
    assert text is not None
    if "\0" in text:
        return tuple(_drop_trailing_empty(text.split("\0")))
    spaced = _LEADING_WS.sub("", _SEPARATORS.sub(" ", text))
    return tuple(_drop_trailing_empty(_WHITESPACE.split(spaced)))


def check_vmids(items: Iterable[str | int]) -> tuple[int, ...]:
    """Normalise VMIDs like ``PVE::VZDump::check_vmids``: ints, sorted, 0 dropped.

    Raises ``StrangeVmidError`` for the first non-numeric entry. Duplicates are removed
    (PVE keeps them; it would back the guest up twice).
    """
    result: set[int] = set()
    for item in items:
        if isinstance(item, int):
            number = item
        else:
            if not _NUMERIC.fullmatch(item):
                raise StrangeVmidError(item)
            number = int(item)
        if number > 0:
            result.add(number)
    return tuple(sorted(result))


# --------------------------------------------------------------------------------------
# included_guests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncludedGuests:
    """What ``get_included_guests`` returns for a job, plus what we need to explain it.

    ``per_node``: node -> sorted VMIDs of existing guests (nodes without guests absent).
    ``missing``: listed VMIDs that are not in the cluster (PVE's ``''`` key); PVE adds
    them to the run on every node, where they fail.
    ``unresolved``: why the selection cannot be resolved; then ``per_node`` and
    ``missing`` are empty and ``possible`` holds the existing guests it might include.
    ``skipped_other_node``: existing guests the selection names but the ``node``
    restriction drops. ``hidden_members``: pool members not visible in the inventory.
    ``refused``: why PVE refuses to run the job (every run dies before any task); then
    the job includes nothing and ``named`` holds the existing guests it names.
    """

    selection: Selection
    per_node: dict[str, tuple[int, ...]] = field(default_factory=dict)
    missing: tuple[int, ...] = ()
    unresolved: Msg | None = None
    possible: tuple[int, ...] = ()
    refused: Msg | None = None
    named: tuple[int, ...] = ()
    skipped_other_node: tuple[int, ...] = ()
    hidden_members: tuple[int, ...] = ()

    @property
    def vmids(self) -> tuple[int, ...]:
        """Sorted VMIDs of all existing guests the job surely includes."""
        return tuple(sorted(v for ids in self.per_node.values() for v in ids))

    def to_pve(self) -> dict[str, list[int]]:
        """The result in PVE's shape: ``{node: [vmids], '': [unknown vmids]}``."""
        if self.unresolved is not None:
            raise ValueError(f"selection unresolved: {self.unresolved}")
        if self.refused is not None:
            raise ValueError(f"PVE refuses the job: {self.refused}")
        result = {node: list(ids) for node, ids in self.per_node.items() if ids}
        if self.missing:
            result[""] = list(self.missing)
        return result


@dataclass(frozen=True)
class _Index:
    guests: dict[int, Guest]
    sorted_vmids: tuple[int, ...]
    pools: dict[str, Pool]

    @classmethod
    def build(cls, inventory: Inventory) -> _Index:
        guests = {g.vmid: g for g in inventory.guests}
        return cls(
            guests=guests,
            sorted_vmids=tuple(sorted(guests)),
            pools={p.id: p for p in inventory.pools},
        )


SelectionIndex = _Index


def _place(
    selection: Selection, vmids: Sequence[int], node: str | None, index: _Index
) -> IncludedGuests:
    per_node: dict[str, list[int]] = {}
    missing: list[int] = []
    skipped: list[int] = []
    for vmid in vmids:
        guest = index.guests.get(vmid)
        if guest is None:
            missing.append(vmid)
        elif node is not None and guest.node != node:
            skipped.append(vmid)
        else:
            per_node.setdefault(guest.node, []).append(vmid)
    return IncludedGuests(
        selection=selection,
        per_node={n: tuple(ids) for n, ids in sorted(per_node.items())},
        missing=tuple(missing),
        skipped_other_node=tuple(skipped),
    )


def _existing(vmids: Iterable[int], node: str | None, index: _Index) -> tuple[int, ...]:
    """The existing guests among ``vmids`` that the ``node`` restriction keeps."""
    return tuple(
        sorted(
            {
                v
                for v in vmids
                if v in index.guests and (node is None or index.guests[v].node == node)
            }
        )
    )


def _unresolved(
    selection: Selection, reason: Msg, possible: Iterable[int], node: str | None, index: _Index
) -> IncludedGuests:
    return IncludedGuests(
        selection=selection, unresolved=reason, possible=_existing(possible, node, index)
    )


def _refused(
    selection: Selection, reason: Msg, named: Iterable[int], node: str | None, index: _Index
) -> IncludedGuests:
    """pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` dies before ``fork_worker`` (and
    ``PVE/Jobs.pm`` ``run_jobs`` only logs it): no task, no guest backed up, every run."""
    return IncludedGuests(selection=selection, refused=reason, named=_existing(named, node, index))


def _pool_candidates(pool_id: str, index: _Index) -> list[int]:
    # A guest belongs to at most one pool; one showing another pool cannot be a member.
    return [v for v in index.sorted_vmids if index.guests[v].pool in (None, pool_id)]


def _branch(job: BackupJob) -> Selection:
    """The branch PVE takes for this stored job (the real run: exclude implies all)."""
    branch = pve_selection(job.pool, job.vmid_raw, job.all_flag, job.exclude_raw)
    if branch is Selection.NONE and job.selection is Selection.ALL:
        return Selection.ALL  # collector said all without the raw flag
    return branch


def _conflicts(job: BackupJob) -> list[str]:
    """Options ``verify_vzdump_parameters`` rejects together with ``vmid``."""
    if not perl_true(job.vmid_raw):
        return []
    found: list[str] = []
    if job.all_flag:
        found.append("all")
    if perl_true(job.exclude_raw):
        found.append("exclude")
    if perl_true(job.pool):
        found.append("pool")
    return found


def _resolve_branch(job: BackupJob, branch: Selection, index: _Index) -> IncludedGuests:
    node = job.node
    if branch is Selection.POOL:
        pool_id = job.pool or ""
        pool = index.pools.get(pool_id)
        if pool is None:
            # the collector asks /pools/{id} for a pool /pools does not list: absent means
            # PVE said it does not exist (a hidden pool is kept, with members unknown)
            return _refused(branch, Msg("refused_pool_missing", pool=pool_id), (), node, index)
        if pool.members is None:
            return _unresolved(
                branch,
                Msg("pool_unreadable", pool=pool_id),
                _pool_candidates(pool_id, index),
                node,
                index,
            )
        members = check_vmids(pool.members)
        # PVE keeps only members in the cluster vmlist; the rest cannot be placed by us.
        visible = [v for v in members if v in index.guests]
        hidden = tuple(v for v in members if v not in index.guests)
        placed = _place(branch, visible, node, index)
        return IncludedGuests(
            selection=branch,
            per_node=placed.per_node,
            skipped_other_node=placed.skipped_other_node,
            hidden_members=hidden,
        )
    if branch is Selection.VMID:
        items = split_vmid_list(job.vmid_raw)
        try:
            vmids = check_vmids(items)
        except StrangeVmidError as exc:
            valid = [int(i) for i in items if _NUMERIC.fullmatch(i)]
            reason = Msg("refused_strange_vmid", item=exc.item, option="vmid")
            return _refused(branch, reason, valid, node, index)
        return _place(branch, vmids, node, index)
    if branch is Selection.ALL:
        try:
            exclude = set(check_vmids(split_vmid_list(job.exclude_raw)))
        except StrangeVmidError as exc:
            excluded = {int(i) for i in split_vmid_list(job.exclude_raw) if _NUMERIC.fullmatch(i)}
            return _refused(
                branch,
                Msg("refused_strange_vmid", item=exc.item, option="exclude"),
                [v for v in index.sorted_vmids if v not in excluded],
                node,
                index,
            )
        return _place(branch, [v for v in index.sorted_vmids if v not in exclude], node, index)
    if job.selection in (Selection.POOL, Selection.VMID):
        reason = Msg("refused_no_value", selection=job.selection.value)
    else:
        reason = Msg("refused_nothing")
    return IncludedGuests(selection=Selection.NONE, refused=reason)


def _included(job: BackupJob, index: _Index) -> IncludedGuests:
    branch = _branch(job)
    result = _resolve_branch(job, branch, index)
    conflicts = _conflicts(job)
    if conflicts:
        # verify_vzdump_parameters: raise_param_exc({all => "option conflicts with option
        # 'vmid'"}), first of all, exclude, pool
        named = (*result.vmids, *result.possible, *result.named)
        return _refused(
            branch,
            Msg("refused_conflict", option=conflicts[0]),
            named,
            job.node,
            index,
        )
    return result


def selection_index(inventory: Inventory) -> SelectionIndex:
    """The lookup tables :func:`included_guests` needs, to build once for many jobs."""
    return _Index.build(inventory)


def included_guests(
    job: BackupJob, inventory: Inventory, index: SelectionIndex | None = None
) -> IncludedGuests:
    """Mirror ``PVE::VZDump::get_included_guests`` (as used by the real run) for one job.

    ``index`` (from :func:`selection_index` on the same inventory) saves rebuilding the
    lookup tables when many jobs or task command lines are resolved.
    """
    return _included(job, index if index is not None else _Index.build(inventory))


TargetKind = Literal["storage", "dumpdir", "refused"]
TargetSource = Literal["job", "node_default", "fallback"]


@quick_init
@dataclass(frozen=True)
class BackupTarget:
    """Where a run of a job writes on one node.

    ``storage``: to that storage; ``dumpdir``: plain files to a directory, never to PBS
    (``dumpdir`` is "" when PVE does not show it); ``refused``: PVE dies before backing
    anything up (``storage`` and ``dumpdir`` both set). ``source``: set by the job, by the
    node's vzdump defaults, or ``local`` because those defaults are unknown.
    """

    kind: TargetKind
    source: TargetSource
    storage: str | None = None
    dumpdir: str | None = None


def backup_target(job: BackupJob, node: str, inventory: Inventory) -> BackupTarget:
    """Follow pve-manager ``PVE::VZDump::new`` and ``get_storage_param``.

    The node's vzdump defaults (``storage`` or ``dumpdir``) apply only when the job sets
    neither; a job with both dies (``cannot use options 'storage' and 'dumpdir' at the
    same time``); a ``dumpdir`` writes plain files, and an empty one falls back to
    ``local``. ``GET /nodes/{n}/vzdump/defaults`` (pve-manager ``PVE/API2/VZDump.pm``
    ``defaults``) answers ``storage`` whenever vzdump.conf sets no ``dumpdir`` (``local``
    when it sets neither), so an answer without ``storage`` is a directory.
    """
    if job.dumpdir is not None:
        if job.storage is not None:
            return BackupTarget("refused", "job", job.storage, job.dumpdir)
        if perl_true(job.dumpdir):
            return BackupTarget("dumpdir", "job", dumpdir=job.dumpdir)
        return BackupTarget("storage", "job", FALLBACK_STORAGE)
    if job.storage:
        return BackupTarget("storage", "job", job.storage)
    if node in inventory.node_default_dumpdir:
        return BackupTarget("dumpdir", "node_default", dumpdir=inventory.node_default_dumpdir[node])
    default = inventory.node_default_storage.get(node)
    if default:
        return BackupTarget("storage", "node_default", default)
    return BackupTarget("storage", "fallback", FALLBACK_STORAGE)


def effective_storage(job: BackupJob, node: str, inventory: Inventory) -> str | None:
    """The storage the job writes to when it runs on ``node``; None when it writes plain
    files to a directory (``dumpdir``) or PVE refuses to run it."""
    target = backup_target(job, node, inventory)
    return target.storage if target.kind == "storage" else None


# --------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True, kw_only=True)
class GuestCoverage:
    guest: Guest
    coverage: Coverage
    jobs: tuple[str, ...]  # every job that surely includes the guest, enabled or not
    pbs_jobs: tuple[str, ...]  # enabled jobs writing to a usable PBS storage on its node
    reasons: tuple[str, ...]  # messages.Msg: English text with a code for the report
    ignored: IgnoreMatch | None = None
    possible_jobs: tuple[str, ...] = ()  # unresolved jobs that might include the guest

    def to_json(self) -> dict[str, Any]:
        return {
            "vmid": self.guest.vmid,
            "type": self.guest.type,
            "name": self.guest.name,
            "node": self.guest.node,
            "coverage": self.coverage.value,
            "jobs": list(self.jobs),
            "pbs_jobs": list(self.pbs_jobs),
            "possible_jobs": list(self.possible_jobs),
            "ignored": None if self.ignored is None else self.ignored.to_json(),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, kw_only=True)
class JobCoverage:
    job: BackupJob
    storage_type: str  # type of the configured storage, 'default', 'dumpdir' or 'unknown'
    selection: Selection  # the branch PVE takes
    included: tuple[int, ...]  # sorted VMIDs of existing guests it surely includes
    missing_vmids: tuple[int, ...]
    unresolved: Msg | None
    # node -> storage id, for every node it may run on; None where it writes plain files
    # to a directory (dumpdir) or PVE refuses to run it
    effective_storage: dict[str, str | None]
    possible: tuple[int, ...] = ()  # existing guests it might include (when unresolved)
    refused: Msg | None = None  # why PVE refuses to run it (it backs up nothing)
    # guests its selection names that are on another node than its ``node`` today (its
    # runs there held them before they moved): ``IncludedGuests.skipped_other_node``
    skipped_other_node: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        job = self.job
        return {
            "id": job.id,
            "enabled": job.enabled,
            "legacy": job.legacy,
            "schedule": job.schedule,
            "node": job.node,
            "selection": self.selection.value,
            "storage": job.storage,
            "dumpdir": job.dumpdir,
            "storage_type": self.storage_type,
            "effective_storage": dict(self.effective_storage),
            "included": list(self.included),
            "missing_vmids": list(self.missing_vmids),
            "unresolved": self.unresolved,
            "possible": list(self.possible),
            "refused": self.refused,
        }


@dataclass(frozen=True)
class CoverageResult:
    """Per guest its coverage (covered, not covered, indeterminate, ...), per job what it
    selects and where it writes, and the anomalies of the jobs.

    Example::

        result = analyse_coverage(inventory, ignore_rules=(), now=now)
        result.counts()["not_covered"]
        [g.guest.vmid for g in result.guests if g.coverage is Coverage.INDETERMINATE]
    """

    guests: tuple[GuestCoverage, ...]
    jobs: tuple[JobCoverage, ...]
    anomalies: tuple[Anomaly, ...]

    def counts(self) -> dict[str, int]:
        """Number of guests per coverage value (every value present, possibly 0)."""
        result = {c.value: 0 for c in Coverage}
        for g in self.guests:
            result[g.coverage.value] += 1
        return result

    def guest(self, vmid: int) -> GuestCoverage | None:
        for g in self.guests:
            if g.guest.vmid == vmid:
                return g
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "guests": [g.to_json() for g in self.guests],
            "jobs": [j.to_json() for j in self.jobs],
            "anomalies": [a.to_json() for a in self.anomalies],
        }


# --------------------------------------------------------------------------------------
# Storage verdicts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    usable: bool
    problem: str | None  # None when usable; "non-pbs" problems are not anomalies
    kind: str  # ok / non_pbs / unknown / missing / disabled / unavailable / no_backup_content


def _storage_verdict(
    storage: Storage | None, storage_id: str, node: str, audit: bool | None = None
) -> _Verdict:
    """Whether a run on ``node`` can write to this storage, and why not.

    A storage ``/storage`` does not list (``storage`` None): with Datastore.Audit or
    Datastore.AllocateSpace on it (``audit``, pve-storage ``src/PVE/API2/Storage/Config.pm``
    ``index`` filters on them) the token would see it, so it does not exist and every
    run dies (pve-manager ``PVE/VZDump.pm`` ``new``: ``could not get storage information
    for '<id>'``): ``missing``. Otherwise it may be a PBS storage hidden from the token:
    ``unknown``.
    """
    if storage is None and audit:
        return _Verdict(False, Msg("storage_missing", storage=storage_id), "missing")
    if storage is None:
        code = "storage_hidden_no_audit" if audit is False else "storage_hidden_maybe"
        return _Verdict(False, Msg(code, storage=storage_id), "unknown")
    if not storage.is_pbs:
        problem = Msg("storage_non_pbs", storage=storage_id, type=storage.type)
        return _Verdict(False, problem, "non_pbs")
    if not storage.enabled:
        return _Verdict(False, Msg("storage_disabled", storage=storage_id), "disabled")
    if not storage.available_on(node):
        problem = Msg("storage_unavailable", storage=storage_id, node=node)
        return _Verdict(False, problem, "unavailable")
    # An empty content list means the collector did not see one: PBS defaults to backup.
    if storage.content and not storage.has_backup_content:
        problem = Msg("storage_no_backup", storage=storage_id)
        return _Verdict(False, problem, "no_backup_content")
    return _Verdict(True, None, "ok")


def _not_storage_text(job: BackupJob, target: BackupTarget, node: str) -> Msg:
    """Why a job writing to a directory, or refused by PVE, does not cover a guest."""
    if target.kind == "refused":
        return Msg("job_refused", job=job.id)
    if target.source == "job":
        if target.dumpdir:
            return Msg("job_dumpdir", job=job.id, path=target.dumpdir)
        return Msg("job_dumpdir_any", job=job.id)
    if target.dumpdir:
        return Msg("node_dumpdir", job=job.id, path=target.dumpdir, node=node)
    return Msg("node_dumpdir_hidden", job=job.id, node=node)


class _Analyser:
    """Holds the indexes built once per analysis."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.index = _Index.build(inventory)
        self.storages = {s.id: s for s in inventory.storages}
        self.node_names = [n.name for n in inventory.nodes]
        self._verdicts: dict[tuple[str, str], _Verdict] = {}
        self._job_reason: dict[tuple[str, str], tuple[bool, Msg | None]] = {}
        self._targets: dict[tuple[str, str], BackupTarget] = {}
        self._sure: dict[tuple[tuple[str, ...], str], _SureJobs] = {}

    def sure_jobs(self, guest: Guest, sure: Sequence[BackupJob]) -> _SureJobs:
        """:func:`_sure_jobs`, once per jobs and node: 10,000 guests share a few
        hundred combinations (it depends on the guest's node only, as the caches
        above, keyed by job id)."""
        key = (tuple(job.id for job in sure), guest.node)
        cached = self._sure.get(key)
        if cached is None:
            cached = self._sure[key] = _sure_jobs(guest, sure, self)
        return cached

    def target(self, job: BackupJob, node: str) -> BackupTarget:
        key = (job.id, node)
        cached = self._targets.get(key)
        if cached is None:
            cached = self._targets[key] = backup_target(job, node, self.inventory)
        return cached

    def verdict(self, storage_id: str, node: str) -> _Verdict:
        key = (storage_id, node)
        cached = self._verdicts.get(key)
        if cached is None:
            cached = _storage_verdict(
                self.storages.get(storage_id),
                storage_id,
                node,
                self.inventory.storage_audit.get(storage_id),
            )
            self._verdicts[key] = cached
        return cached

    def job_on_node(self, job: BackupJob, node: str) -> tuple[bool, Msg | None]:
        """(usable PBS target, reason text when not) for an enabled job on ``node``."""
        key = (job.id, node)
        cached = self._job_reason.get(key)
        if cached is not None:
            return cached
        target = self.target(job, node)
        if target.kind != "storage" or target.storage is None:
            cached = (False, _not_storage_text(job, target, node))
            self._job_reason[key] = cached
            return cached
        v = self.verdict(target.storage, node)
        text: Msg | None = None
        if not v.usable:
            suffix = {
                "job": Msg("empty"),
                "node_default": Msg("suffix_node_default", node=node),
                "fallback": Msg("suffix_fallback", node=node),
            }[target.source]
            code = "job_storage" if v.kind == "non_pbs" else "job_storage_colon"
            text = Msg(code, job=job.id, problem=v.problem, suffix=suffix)
        cached = (v.usable, text)
        self._job_reason[key] = cached
        return cached

    def may_cover(self, job: BackupJob, node: str) -> bool:
        """An enabled job writes, or may write (storage hidden from the token), to a
        usable PBS storage on ``node``."""
        return self.job_on_node(job, node)[0] or self.kind_on_node(job, node) == "unknown"

    def kind_on_node(self, job: BackupJob, node: str) -> str:
        """The storage verdict's kind for an enabled job on ``node`` (``dumpdir`` or
        ``refused`` when it writes no storage)."""
        target = self.target(job, node)
        if target.kind != "storage" or target.storage is None:
            return target.kind
        return self.verdict(target.storage, node).kind

    def job_nodes(self, job: BackupJob, inc: IncludedGuests) -> list[str]:
        nodes = set(self.node_names) | set(inc.per_node)
        if job.node is not None:
            nodes = {job.node}
        return sorted(nodes)

    def storage_type(self, job: BackupJob) -> str:
        if job.dumpdir is not None and not job.storage:
            return "dumpdir"
        if not job.storage:
            return "default"
        storage = self.storages.get(job.storage)
        return "unknown" if storage is None else storage.type


# --------------------------------------------------------------------------------------
# Anomalies
# --------------------------------------------------------------------------------------


def _selection_anomalies(job: BackupJob, inc: IncludedGuests) -> list[Anomaly]:
    return [
        *_exclude_anomalies(job, inc),
        *_resolution_anomalies(job, inc),
        *_placement_anomalies(job, inc),
    ]


def _exclude_anomalies(job: BackupJob, inc: IncludedGuests) -> list[Anomaly]:
    """An ``exclude`` PVE reads otherwise than the job's form suggests."""
    out: list[Anomaly] = []
    details: dict[str, Any] = {"job": job.id}
    exclude_set = perl_true(job.exclude_raw)
    if (
        inc.selection is Selection.ALL
        and not job.all_flag
        and job.exclude_raw is not None
        and not _conflicts(job)
    ):
        out.append(
            Anomaly(
                Severity.INFO,
                "jobs",
                Msg("exclude_without_all", job=job.id),
                {**details, "exclude": job.exclude_raw},
            )
        )
    if inc.selection is Selection.POOL and exclude_set and not _conflicts(job):
        out.append(
            Anomaly(
                Severity.INFO,
                "jobs",
                Msg("exclude_with_pool", job=job.id, pool=job.pool),
                {**details, "pool": job.pool, "exclude": job.exclude_raw},
            )
        )
    return out


def _resolution_anomalies(job: BackupJob, inc: IncludedGuests) -> list[Anomaly]:
    """A job PVE refuses to run, or whose guests cannot be known."""
    out: list[Anomaly] = []
    details: dict[str, Any] = {"job": job.id}
    if inc.refused is not None:
        out.append(
            Anomaly(
                Severity.WARNING if job.enabled else Severity.INFO,
                "jobs",
                Msg("job_refused_by_pve", job=job.id, reason=inc.refused),
                {**details, "reason": inc.refused, "named": list(inc.named)},
            )
        )
    if inc.unresolved is not None:
        component: Component = "pools" if inc.selection is Selection.POOL and job.pool else "jobs"
        out.append(
            Anomaly(
                Severity.WARNING,
                component,
                Msg("job_unresolved", job=job.id, reason=inc.unresolved),
                {**details, "reason": inc.unresolved, "possible": list(inc.possible)},
            )
        )
    return out


def _placement_anomalies(job: BackupJob, inc: IncludedGuests) -> list[Anomaly]:
    """VMIDs the job names that do not exist, or that its node restriction skips."""
    out: list[Anomaly] = []
    details: dict[str, Any] = {"job": job.id}
    if inc.missing:
        out.append(
            Anomaly(
                Severity.WARNING,
                "jobs",
                Msg("job_missing_vmids", job=job.id, vmids=list(inc.missing)),
                {**details, "vmids": list(inc.missing)},
            )
        )
    if inc.skipped_other_node and inc.selection is not Selection.ALL:
        out.append(
            Anomaly(
                Severity.INFO,
                "jobs",
                Msg(
                    "job_node_skips", job=job.id, node=job.node, vmids=list(inc.skipped_other_node)
                ),
                {**details, "node": job.node, "vmids": list(inc.skipped_other_node)},
            )
        )
    return out


def _storage_anomalies(job: BackupJob, inc: IncludedGuests, analyser: _Analyser) -> list[Anomaly]:
    out: list[Anomaly] = []
    details: dict[str, Any] = {"job": job.id}
    severity = Severity.WARNING if job.enabled else Severity.INFO
    explicit = analyser.storages.get(job.storage) if job.storage else None
    if job.storage and explicit is None:
        out.append(_unknown_storage_anomaly(job, job.storage, severity, analyser))
    if not job.enabled:
        return out
    if explicit is not None and not explicit.enabled:
        out.append(
            Anomaly(
                Severity.WARNING,
                "storages",
                Msg("job_disabled_storage", job=job.id, storage=explicit.id),
                {**details, "storage": explicit.id},
            )
        )
    # Per node where the job has guests: problems of the effective storage there.
    problems: dict[tuple[str, str], list[str]] = {}
    for node in sorted(inc.per_node):
        target = analyser.target(job, node)
        if target.kind != "storage" or target.storage is None:
            continue  # a directory is not a problem of the job; refused: see below
        storage_id, from_default = target.storage, target.source != "job"
        v = analyser.verdict(storage_id, node)
        if v.kind in ("ok", "non_pbs"):
            continue
        if not from_default and v.kind in ("unknown", "missing", "disabled"):
            continue  # reported once above
        problems.setdefault((storage_id, v.kind), []).append(node)
    for (storage_id, kind), nodes in sorted(problems.items()):
        guests = [v for n in nodes for v in inc.per_node.get(n, ())]
        code = {
            "unavailable": "job_storage_unavailable",
            "unknown": "job_default_storage_unknown",
            "missing": "job_default_storage_missing",
            "disabled": "job_default_storage_disabled",
        }.get(kind, "job_storage_no_backup")
        extra = {"vmids": sorted(guests)} if kind == "unavailable" else {}
        msg = Msg(code, job=job.id, storage=storage_id, nodes=nodes, **extra)
        out.append(
            Anomaly(
                Severity.WARNING,
                "storages",
                msg,
                {**details, "storage": storage_id, "nodes": nodes, "vmids": sorted(guests)},
            )
        )
    if job.node is not None and analyser.node_names and job.node not in analyser.node_names:
        out.append(
            Anomaly(
                Severity.WARNING,
                "jobs",
                Msg("job_node_missing", job=job.id, node=job.node),
                {**details, "node": job.node},
            )
        )
    return out


def _unknown_storage_anomaly(
    job: BackupJob, storage_id: str, severity: Severity, analyser: _Analyser
) -> Anomaly:
    """A storage the job names that ``/storage`` does not list: deleted (the token would
    see it), or hidden by a missing Datastore.Audit (pve-storage
    ``src/PVE/API2/Storage/Config.pm`` ``index``)."""
    audit = analyser.inventory.storage_audit.get(storage_id)
    details: dict[str, Any] = {"job": job.id, "storage": storage_id}
    if audit:
        return Anomaly(
            severity,
            "jobs",
            Msg("job_storage_missing", job=job.id, storage=storage_id),
            {**details, "exists": False},
        )
    code = "job_storage_hidden_no_audit" if audit is False else "job_unknown_storage"
    return Anomaly(
        severity,
        "permissions" if audit is False else "jobs",
        Msg(code, job=job.id, storage=storage_id),
        {**details, "missing_privilege": f"Datastore.Audit on /storage/{storage_id}"}
        if audit is False
        else details,
    )


def _refused_anomaly(job: BackupJob) -> list[Anomaly]:
    """pve-manager ``PVE::VZDump::new`` dies on a job with both ``storage`` and
    ``dumpdir``: every run fails before backing anything up."""
    if not job.enabled or job.dumpdir is None or job.storage is None:
        return []
    return [
        Anomaly(
            Severity.WARNING,
            "jobs",
            Msg("job_refused", job=job.id),
            {"job": job.id, "storage": job.storage, "dumpdir": job.dumpdir},
        )
    ]


def _permission_anomaly(
    inventory: Inventory, missing: dict[int, list[str]], hidden: dict[int, list[str]]
) -> Anomaly | None:
    if "guests" in inventory.unreadable:
        return None  # the endpoint error itself is the anomaly, not a guessed privilege
    no_guests = bool(inventory.jobs) and not inventory.guests
    if not inventory.jobs and not inventory.guests and "guests" not in inventory.unreadable:
        return Anomaly(
            Severity.WARNING,
            "permissions",
            Msg("nothing_visible"),
            {"visible_guests": 0, "jobs": 0},
        )
    if not (no_guests or missing or hidden):
        return None
    parts: list[Msg] = []
    if no_guests:
        parts.append(Msg("jobs_but_no_guest"))
    if hidden:
        parts.append(Msg("pool_members_hidden", vmids=sorted(hidden)))
    if missing:
        parts.append(Msg("job_vmids_hidden", vmids=sorted(missing)))
    return Anomaly(
        # no guest visible at all: coverage cannot be known (UNKNOWN, never OK)
        Severity.CRITICAL if no_guests else Severity.WARNING,
        "permissions",
        Msg("vm_audit_missing", parts=parts),
        {
            "visible_guests": len(inventory.guests),
            "hidden_pool_members": {str(k): v for k, v in sorted(hidden.items())},
            "missing_vmids": {str(k): v for k, v in sorted(missing.items())},
        },
    )


def _cross_check(
    inventory: Inventory, guests: Sequence[GuestCoverage], pve_blind_jobs: set[str]
) -> list[Anomaly]:
    if inventory.not_backed_up is None:
        return []
    listed = set(inventory.not_backed_up)
    wrong: list[int] = []
    unexplained: list[int] = []
    for gc in guests:
        vmid = gc.guest.vmid
        if gc.coverage is Coverage.COVERED and vmid in listed:
            # A job PVE's report cannot see (exclude without all) explains it.
            if not all(j in pve_blind_jobs for j in gc.jobs):
                wrong.append(vmid)
        elif gc.coverage is Coverage.NOT_COVERED and vmid not in listed:
            unexplained.append(vmid)
    out: list[Anomaly] = []
    if wrong:
        out.append(
            Anomaly(
                Severity.WARNING,
                "coverage",
                Msg("pve_lists_covered", vmids=wrong),
                {"vmids": wrong},
            )
        )
    if unexplained:
        out.append(
            Anomaly(
                Severity.INFO,
                "coverage",
                Msg("pve_counts_included", vmids=unexplained),
                {"vmids": unexplained},
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Main entry
# --------------------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True)
class _SureJobs:
    """What the jobs that surely include a guest make of it on its node."""

    jobs: tuple[str, ...]
    pbs_jobs: tuple[str, ...]
    reasons: tuple[Msg, ...]
    enabled_any: bool  # an enabled job runs for it (to PBS or not)
    could_cover: bool  # an enabled job may write to PBS (target unknown or hidden)
    dead_any: bool  # an enabled job's every run dies (its storage does not exist)


def _sure_jobs(guest: Guest, sure: Iterable[BackupJob], analyser: _Analyser) -> _SureJobs:
    jobs: list[str] = []
    pbs_jobs: list[str] = []
    reasons: list[Msg] = []
    enabled_any = could_cover = dead_any = False
    for job in sure:
        jobs.append(job.id)
        if not job.enabled:
            reasons.append(Msg("job_disabled", job=job.id))
            continue
        usable, text = analyser.job_on_node(job, guest.node)
        kind = analyser.kind_on_node(job, guest.node)
        enabled_any = enabled_any or kind != "missing"
        if usable:
            pbs_jobs.append(job.id)
        elif analyser.target(job, guest.node).source == "fallback":
            # its storage is the node's vzdump default, which could not be read
            could_cover = True
            reasons.append(Msg("job_default_unknown", job=job.id, node=guest.node))
        else:
            could_cover = could_cover or kind == "unknown"
            dead_any = dead_any or kind == "missing"
            if text is not None:
                reasons.append(text)
    return _SureJobs(
        tuple(jobs), tuple(pbs_jobs), tuple(reasons), enabled_any, could_cover, dead_any
    )


def analyse_coverage(
    inventory: Inventory, ignore_rules: Sequence[IgnoreRule], now: int
) -> CoverageResult:
    """Coverage of every guest, per-job resolution and the anomalies found on the way."""
    analyser = _Analyser(inventory)
    refs = _Refs()
    anomalies: list[Anomaly] = []
    job_results = [_job_pass(job, analyser, refs, anomalies) for job in inventory.jobs]
    guest_results = [
        _guest_coverage(analyser.index.guests[vmid], analyser, refs, ignore_rules, now)
        for vmid in analyser.index.sorted_vmids
    ]
    permission = _permission_anomaly(inventory, refs.missing, refs.hidden)
    if permission is not None:
        anomalies.append(permission)
    anomalies.extend(_cross_check(inventory, guest_results, refs.pve_blind))
    anomalies.extend(expired_rule_anomalies(ignore_rules, now, inventory.guests))
    return CoverageResult(
        guests=tuple(guest_results), jobs=tuple(job_results), anomalies=tuple(anomalies)
    )


@dataclass
class _Refs:
    """What the jobs say about each guest (by VMID), gathered job by job."""

    sure: dict[int, list[BackupJob]] = field(default_factory=dict)  # includes it
    maybe: dict[int, list[tuple[BackupJob, Msg]]] = field(default_factory=dict)  # unresolved
    refused: dict[int, list[tuple[BackupJob, Msg]]] = field(default_factory=dict)
    node_skips: dict[int, list[BackupJob]] = field(default_factory=dict)  # other node only
    missing: dict[int, list[str]] = field(default_factory=dict)  # named, not in the vmlist
    hidden: dict[int, list[str]] = field(default_factory=dict)  # pool members not shown
    pve_blind: set[str] = field(default_factory=set)  # jobs PVE's not-backed-up misreads


def _job_pass(
    job: BackupJob, analyser: _Analyser, refs: _Refs, anomalies: list[Anomaly]
) -> JobCoverage:
    """One job: the guests it names go into ``refs``, its anomalies into ``anomalies``."""
    inc = _included(job, analyser.index)
    for vmid in inc.vmids:
        refs.sure.setdefault(vmid, []).append(job)
    if inc.unresolved is not None:
        for vmid in inc.possible:
            refs.maybe.setdefault(vmid, []).append((job, inc.unresolved))
    if inc.refused is not None and job.enabled:
        for vmid in inc.named:
            refs.refused.setdefault(vmid, []).append((job, inc.refused))
    if inc.selection is not Selection.ALL:
        for vmid in inc.skipped_other_node:
            refs.node_skips.setdefault(vmid, []).append(job)
    for vmid in inc.missing:
        refs.missing.setdefault(vmid, []).append(job.id)
    for vmid in inc.hidden_members:
        refs.hidden.setdefault(vmid, []).append(job.id)
    if inc.selection is Selection.ALL and not job.all_flag and job.exclude_raw is not None:
        refs.pve_blind.add(job.id)  # PVE's not-backed-up report sees no guests in it
    anomalies.extend(_selection_anomalies(job, inc))
    anomalies.extend(_storage_anomalies(job, inc, analyser))
    anomalies.extend(_refused_anomaly(job))
    return JobCoverage(
        job=job,
        storage_type=analyser.storage_type(job),
        selection=inc.selection,
        included=inc.vmids,
        missing_vmids=inc.missing,
        unresolved=inc.unresolved,
        effective_storage={
            node: effective_storage(job, node, analyser.inventory)
            for node in analyser.job_nodes(job, inc)
        },
        possible=inc.possible,
        refused=inc.refused,
        skipped_other_node=inc.skipped_other_node,
    )


def _guest_coverage(
    guest: Guest, analyser: _Analyser, refs: _Refs, rules: Sequence[IgnoreRule], now: int
) -> GuestCoverage:
    verdict = analyser.sure_jobs(guest, refs.sure.get(guest.vmid, ()))
    reasons = list(verdict.reasons)
    could_cover = verdict.could_cover
    possible_jobs: list[str] = []
    maybe_reasons: list[Msg] = []
    for job, why in refs.maybe.get(guest.vmid, ()):
        possible_jobs.append(job.id)
        maybe_reasons.append(Msg("job_might_include", job=job.id, why=why))
        if job.enabled and analyser.may_cover(job, guest.node):
            could_cover = True
    for job, why in refs.refused.get(guest.vmid, ()):
        reasons.append(Msg("job_names_it_refused", job=job.id, why=why))
    for job in refs.node_skips.get(guest.vmid, ()):
        reasons.append(Msg("job_node_restricted", job=job.id, job_node=job.node, node=guest.node))
    if not verdict.pbs_jobs:
        reasons.extend(maybe_reasons)
    coverage, first = _coverage_of(verdict, could_cover, analyser.inventory.unreadable)
    if first is not None:
        reasons.insert(0, first)
    return GuestCoverage(
        guest=guest,
        coverage=coverage,
        jobs=verdict.jobs,
        pbs_jobs=verdict.pbs_jobs,
        reasons=tuple(reasons),
        ignored=match_ignore(guest, rules, now),
        possible_jobs=tuple(possible_jobs),
    )


def _coverage_of(
    verdict: _SureJobs, could_cover: bool, unreadable: frozenset[str]
) -> tuple[Coverage, Msg | None]:
    """The coverage value, and the reason that leads the guest's reasons, if any."""
    if "jobs" in unreadable:
        return Coverage.INDETERMINATE, Msg("jobs_unreadable")  # nothing known without jobs
    if "storages" in unreadable and verdict.enabled_any:
        # whether its jobs write to PBS is unknown
        return Coverage.INDETERMINATE, Msg("storages_unreadable")
    if verdict.pbs_jobs:
        return Coverage.COVERED, None
    if could_cover:
        return Coverage.INDETERMINATE, None
    if verdict.enabled_any:
        return Coverage.NON_PBS_ONLY, None
    if verdict.dead_any:
        return Coverage.NOT_COVERED, None  # its enabled jobs' runs all die
    if verdict.jobs:
        return Coverage.DISABLED_ONLY, None
    return Coverage.NOT_COVERED, Msg("no_job")
