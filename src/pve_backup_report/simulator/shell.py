"""Shell quoting as vzdump writes its command line into the task log.

pve-guest-common ``PVE/VZDump/Common.pm`` ``command_line`` appends ``--<option> <value>``
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
    """One argument quoted like ``String::ShellQuote::shell_quote`` quotes it."""
    if value == "":
        return "''"
    if not _UNSAFE.search(value) and "=" not in value:
        return value
    quoted = "'" + value.replace("'", "'\\''") + "'"
    # String::ShellQuote drops the empty '' pairs the replacement leaves at either end.
    if quoted.startswith("''"):
        quoted = quoted[2:]
    if quoted.endswith("''") and not quoted.endswith("\\''"):
        quoted = quoted[:-2]
    return quoted
