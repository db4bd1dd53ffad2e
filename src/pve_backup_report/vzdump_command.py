"""The vzdump command line a task logs first (pure parsing).

``INFO: starting new backup job: vzdump 100 101 --storage pbs1 --mode snapshot`` tells
which guests the run was to back up (explicit VMIDs, ``--all`` with ``--exclude``, or
``--pool``) and where it wrote (``--storage``). That is what the collector needs to give a
job-level failure (no per-guest lines) to the right guests, and to count only backups
that went to a PBS storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_MARKER = "starting new backup job: vzdump"
_SEARCH_LINES = 20  # the command is one of the first lines of the log


@dataclass(frozen=True)
class VzdumpCommand:
    vmids: tuple[str, ...]  # positional VMIDs as written
    all: bool
    exclude: str | None
    pool: str | None
    storage: str | None
    node: str | None
    dumpdir: str | None = None  # ``--dumpdir``: plain files to a directory, never PBS

    def as_job_item(self, job_id: str) -> dict[str, object]:
        """The command as a ``/cluster/backup``-like item, for the coverage rules."""
        item: dict[str, object] = {"id": job_id, "type": "vzdump", "enabled": 1}
        if self.pool:
            item["pool"] = self.pool
        if self.vmids:
            item["vmid"] = ",".join(self.vmids)
        if self.all:
            item["all"] = 1
        if self.exclude:
            item["exclude"] = self.exclude
        if self.storage:
            item["storage"] = self.storage
        if self.node:
            item["node"] = self.node
        return item


def parse_vzdump_command(lines: Sequence[str]) -> VzdumpCommand | None:
    """Find and parse the ``starting new backup job`` line; None when absent."""
    for line in lines[:_SEARCH_LINES]:
        pos = line.find(_MARKER)
        if pos >= 0:
            return _parse_args(line[pos + len(_MARKER) :].split())
    return None


def _parse_args(tokens: list[str]) -> VzdumpCommand:
    vmids: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--"):
            key = tok[2:]
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                value = tokens[i + 1]
                i += 1
            else:
                value = "1"
            options[key] = value
        elif tok.isdigit():
            vmids.append(tok)
        i += 1
    return VzdumpCommand(
        vmids=tuple(vmids),
        all=options.get("all", "0") not in ("0", ""),
        exclude=options.get("exclude"),
        pool=options.get("pool"),
        storage=options.get("storage"),
        node=options.get("node"),
        dumpdir=options.get("dumpdir"),
    )
