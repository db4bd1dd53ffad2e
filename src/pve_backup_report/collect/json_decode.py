"""UTF-8 JSON decoded by orjson when it is installed (the optional extra ``fast``), and
the task cache encoded by it (:func:`dumps`).

On 10,000 guests a warm run decodes 16.6 MB (PBS content through PVE,
``/cluster/resources``, the task lists, the task cache), about a seventh of its
instructions with the standard decoder, and a cold run thousands of task logs. orjson
decodes the same text in fewer instructions (docs/performance.md), but holds more memory
while it does: answers over :data:`FAST_MAX_BYTES` go to ``json``. It is optional:
without it, ``json`` decodes everything.

PVE answers in UTF-8: pve-http-server ``PVE/APIServer/Formatter/Standard.pm`` (format
``json``) encodes with Perl's ``to_json($res->{data}, {utf8 => 1, ...})`` and says
``application/json;charset=UTF-8``. The values are ``json.loads``'s. What orjson refuses
goes to the standard decoder, which then answers or raises as it always did: NaN and
Infinity, a lone surrogate escape, a byte-order mark, UTF-16 or UTF-32, invalid UTF-8.
Two differences are left, neither written by PVE or PBS:

* orjson reads an integer literal beyond 64 bits as a float. Perl keeps a number outside
  IV/UV (64 bits) as a float, which ``JSON`` prints as one, and proxmox-backup's
  ``serde_json`` has only i64, u64 and f64.
* orjson reads arrays and objects nested up to 1,024 levels, ``json`` some 980 (then
  :func:`loads` raises ValueError). Perl's ``JSON`` refuses to write more than 512
  (``max_depth``), and PBS answers with fixed structures.
"""

from __future__ import annotations

import json
from typing import Any, Final

try:
    import orjson
except ImportError:  # the extra ``fast`` is not installed
    orjson = None  # type: ignore[assignment]

UNDECODED: Final = object()

# orjson parses a whole document into its own tree before it builds the Python objects,
# about twice the text's size held at once; ``json`` holds one copy of the text (a 9.7 MB
# content list: +66 MB of peak RSS against +47 MB). With every answer to orjson, a warm
# run on 10,000 guests peaked at 117-122 MB, 105-115 MB with a limit of 1 MiB and
# 104-112 MB with 4 MiB (docs/performance.md), so the largest answers (the PBS content
# lists and ``/cluster/resources`` of 30,000 guests, a large task cache) go to ``json``;
# orjson keeps the rest, among them the 3.2 MB ``/cluster/resources`` of 10,000 guests,
# which a cold run waits for before it asks anything else (21 ms against 37 ms).
FAST_MAX_BYTES: Final = 4 << 20


def decode_fast(data: bytes) -> Any:
    """orjson's value of the UTF-8 JSON ``data``; :data:`UNDECODED` when orjson is not
    installed, ``data`` is over :data:`FAST_MAX_BYTES` or orjson refuses it (the caller
    then asks the standard decoder)."""
    if orjson is None or len(data) > FAST_MAX_BYTES:
        return UNDECODED
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return UNDECODED


def loads(data: bytes) -> Any:
    """``json.loads(data)``, through orjson when it can; raises what ``json.loads`` raises
    (``ValueError``: ``JSONDecodeError``, ``UnicodeDecodeError``), and ``ValueError`` for
    a document nested too deeply (``json``'s RecursionError: a damaged task cache is
    rebuilt, not a crash)."""
    found = decode_fast(data)
    return standard_loads(data) if found is UNDECODED else found


def standard_loads(text: str | bytes) -> Any:
    """``json.loads(text)``, a document nested deeper than it recurses refused with
    ValueError, as any other JSON it refuses (not its RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> str:
    """``value`` as compact JSON (``json.dumps`` with ``separators=(",", ":")``), through
    orjson when it can: the task cache of a cold run on 10,000 guests (2.2 MB) in 4 ms
    against 17 ms, on the way out of the run. orjson writes text beyond ASCII as UTF-8
    where ``json`` escapes it; both read back the same. What orjson refuses (a lone
    surrogate, an integer beyond 64 bits, a key that is not a string) goes to ``json``.
    orjson writes a NaN or an infinity as ``null``: the cache holds no float."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, separators=(",", ":"))
