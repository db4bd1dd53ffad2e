"""Progress on stderr for people running the check by hand on a terminal.

Never shown when stderr is not a terminal (Icinga, NRPE, cron), so it cannot end up in
a check result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str], None]


def no_progress(_message: str) -> None:
    """The default: say nothing."""


def terminal_progress(stream: TextIO | None = None) -> Progress:
    """A progress printer on ``stream`` (stderr) if it is a terminal, else a no-op."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        return no_progress

    def show(message: str) -> None:
        out.write("\r\033[K" + message[:120])
        out.flush()

    return show


def clear(stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        out.write("\r\033[K")
        out.flush()
