"""Shell quoting as vzdump writes its command line into the task log.

pve-guest-common ``src/PVE/VZDump/Common.pm`` ``command_line`` appends ``--<option> <value>``
with ``PVE::Tools::shellquote`` (pve-common), which is ``String::ShellQuote::shell_quote``:
a value made only of word characters and ``!%+,-./:=@^`` stays as it is, anything else is
put in single quotes, an embedded ``'`` written as ``'\\''``. A lone value that contains
``=`` is quoted too (String::ShellQuote guards the command position, where ``a=b`` would be
an environment assignment).
"""

from __future__ import annotations

import re

__all__ = ["shell_quote"]

_UNSAFE = re.compile(r"[^\w!%+,\-./:=@^]", re.ASCII)


def shell_quote(value: str) -> str:
    """One argument quoted like ``String::ShellQuote::shell_quote`` quotes it: a quote
    inside as ``'\\''`` (two or more in a row as ``'"''"'``), the empty ``''`` at either
    end dropped."""
    if value == "":
        return "''"
    if not _UNSAFE.search(value) and "=" not in value:
        return value
    quoted = value.replace("'", "'\\''")
    quoted = re.sub(r"(?:'\\''){2,}", lambda m: "'\"" + "'" * (len(m[0]) // 4) + "\"'", quoted)
    return f"'{quoted}'".removeprefix("''").removesuffix("''")
