"""PVE's view of each PBS storage kept parsed between runs, under a digest of its answer.

A warm check of 10,000 guests decodes and parses about 9 MB of storage content
(``GET /nodes/{node}/storage/{storage}/content``) on every run, about 0.15 s of CPU,
although that content changes only when a backup, a prune, a garbage collection or a
verification changes a storage. The answer has no version or change marker to ask with
(pve-storage ``PVE/API2/Storage/Content.pm`` ``index`` lists the volumes afresh), so it
is still asked and read whole; only its decoding and parsing are skipped when its bytes
are those parsed before.

One file per storage beside the task cache, ``<task cache>.pbs-<tag>`` (``tag``: a hash
of the storage id, never the id itself in a path). Its first line is the SHA-256 of the
answer it was parsed from (with the storage id, the ``Content-Type``, this format and
the plugin's version), the rest the :class:`StorageContent` as JSON
(:func:`content_to_json`). The parse is a pure function of those, so an answer with the
same digest gives the same content: what is recalled is what parsing it would give.

The files are only read when the task cache was (a first run, or one after the task cache
was deleted, reads everything afresh) and written atomically, so that overlapping runs
read a whole file, old or new. A file that cannot be read or written costs the parsing,
never the result: it is read again from the answer.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass, field

from pve_backup_report import __version__
from pve_backup_report.analysis.pbs_content import (
    StorageContent,
    content_from_json,
    content_to_json,
)
from pve_backup_report.atomic import atomic_write_text
from pve_backup_report.collect import json_decode

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_DIGEST_LEN = 64  # hex SHA-256


@dataclass(frozen=True)
class ContentMemo:
    """The kept contents beside the task cache at ``base``; ``recall``: whether they may
    be read (the task cache was), else they are only written."""

    base: str
    recall: bool = True

    def path(self, storage: str) -> str:
        tag = hashlib.sha256(storage.encode()).hexdigest()[:16]
        return f"{self.base}.pbs-{tag}"

    def of(self, storage: str) -> Kept:
        return Kept(self, storage)

    def prune(self, storages: Collection[str]) -> None:
        """Remove the kept contents of storages other than ``storages``."""
        directory, name = os.path.split(self.base)
        keep = {os.path.basename(self.path(s)) for s in storages}
        try:
            found = os.listdir(directory or ".")
        except OSError:
            return
        for entry in found:
            if entry.startswith(f"{name}.pbs-") and entry not in keep:
                try:
                    os.unlink(os.path.join(directory, entry))
                except OSError as exc:
                    log.debug("kept content %s not removed: %s", entry, exc)


@dataclass
class Kept:
    """One storage's kept content in one run: :meth:`recall` gives it for an answer
    parsed before, :meth:`keep` writes what was parsed from a new one."""

    memo: ContentMemo
    storage: str
    digest: str | None = field(default=None, init=False)
    recalled: bool = field(default=False, init=False)

    def recall(self, body: bytes, content_type: str | None) -> StorageContent | None:
        """The content parsed before from this very answer; None when none was kept."""
        head = f"{FORMAT_VERSION}\0{__version__}\0{self.storage}\0{content_type}\0"
        digest = hashlib.sha256(head.encode("utf-8", "surrogateescape"))
        digest.update(body)
        self.digest = digest.hexdigest()
        if not self.memo.recall:
            return None
        try:
            with open(self.memo.path(self.storage), "rb") as fh:
                if fh.read(_DIGEST_LEN + 1) != f"{self.digest}\n".encode():
                    return None
                content = content_from_json(json_decode.loads(fh.read()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.info("kept content of storage %s unreadable, parsed again: %s",
                     self.storage, type(exc).__name__)  # fmt: skip
            return None
        if content.storage != self.storage:
            return None
        self.recalled = True
        return content

    def keep(self, content: StorageContent) -> None:
        """Write ``content``, parsed from the answer :meth:`recall` was given, unless it
        was recalled."""
        if self.recalled or self.digest is None or content.storage != self.storage:
            return
        path = self.memo.path(self.storage)
        text = f"{self.digest}\n{json_decode.dumps(content_to_json(content))}"
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
            atomic_write_text(path, text)
        except OSError as exc:
            log.info("content of storage %s not kept: %s", self.storage, exc)
