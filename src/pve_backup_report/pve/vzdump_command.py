"""The vzdump command line a task logs first (pure parsing).

``INFO: starting new backup job: vzdump 100 101 --storage pbs1 --mode snapshot`` tells
which guests the run was to back up (explicit VMIDs, ``--all`` with ``--exclude``, or
``--pool``) and where it wrote (``--storage``). That is what the collector needs to give a
job-level failure (no per-guest lines) to the right guests, and to count only backups
that went to a PBS storage.

The line is written by pve-guest-common ``src/PVE/VZDump/Common.pm`` ``command_line``: the
VMIDs first (``vzdump 100 101``), then every option as `` --<key> <value>``, each value
passed through ``PVE::Tools::shellquote`` (String::ShellQuote ``shell_quote``). That quotes
a value in single quotes when it holds a character outside ``[A-Za-z0-9_!%+,-./:=@^]`` or
an ``=`` (``--notes-template '{{guestname}} keep 2 weeks'``, ``--prune-backups
'keep-daily=7'``), and writes a quote inside as ``'\\''``. So the line is split with
shell rules (``shlex``), the way ``PVE::Tools::split_args`` would read it back.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_MARKER = "starting new backup job: vzdump"
_SEARCH_LINES = 20  # the command is one of the first lines of the log
# shell words as ``shellquote`` writes them (pve-common ``src/PVE/Tools.pm``, single quotes
# only): unquoted runs, '...' segments and backslash escapes, separated by shlex's
# whitespace; anything else (a double quote, an unbalanced quote) goes to shlex
_TOKEN = re.compile(r"(?P<word>(?:[^ \t\r\n'\"\\]+|'[^']*'|\\.)+)|(?P<odd>[^ \t\r\n])", re.S)
_UNQUOTE = re.compile(r"'([^']*)'|\\(.)", re.S)


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
            return _parsed(line[pos + len(_MARKER) :])
    return None


@lru_cache(maxsize=4096)
def _parsed(arguments: str) -> VzdumpCommand:
    """Every run of a job logs the same line (``command_line`` writes the job's
    options), on every node: one parse per distinct line, however many runs are read."""
    return _parse_args(_split(arguments))


def _split(text: str) -> list[str]:
    """The shell words of the arguments, as ``shlex.split`` reads them (without its
    character-by-character reading for the usual line, which can list hundreds of
    VMIDs). A line ``shellquote`` did not write (an unbalanced quote) falls back to
    whitespace: the VMIDs, which come first and are never quoted, are still right."""
    words = []
    for m in _TOKEN.finditer(text):
        if m.group("odd") is not None:
            return _shlex_split(text)
        word = m.group("word")
        words.append(_UNQUOTE.sub(_unquoted, word) if "'" in word or "\\" in word else word)
    return words


def _unquoted(m: re.Match[str]) -> str:
    """A '...' segment's text, or an escaped character."""
    return m.group(1) if m.group(1) is not None else m.group(2)


def _shlex_split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _parse_args(tokens: list[str]) -> VzdumpCommand:
    """VMIDs up to the first option, then ``--key value`` pairs (``command_line`` never
    writes an option without its value; a last one without a value counts as ``1``)."""
    vmids: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens) and not tokens[i].startswith("--"):
        if tokens[i].isascii() and tokens[i].isdigit():
            vmids.append(tokens[i])
        i += 1
    while i < len(tokens):
        key = tokens[i][2:] if tokens[i].startswith("--") else None
        value = tokens[i + 1] if i + 1 < len(tokens) else "1"
        if key:
            options[key] = value
        i += 2 if key is not None else 1
    return VzdumpCommand(
        vmids=tuple(vmids),
        all=options.get("all", "0") not in ("0", ""),
        exclude=options.get("exclude"),
        pool=options.get("pool"),
        storage=options.get("storage"),
        node=options.get("node"),
        dumpdir=options.get("dumpdir"),
    )
