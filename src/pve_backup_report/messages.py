"""Messages with a code and arguments, so the report can show them in any language.

Analysis code says *what* happened, never in which words: ``Msg("job_disabled",
job="nightly")``. A :class:`Msg` is a ``str`` holding its English rendering, so the check's
output, the JSON and everything that handles messages as text keep working unchanged; the
report renders the same code and arguments in its own language (:func:`render`). The
wording of every code, in every language, lives in ``report_i18n.MESSAGES``.

Arguments are plain data (str, int, float, lists of them, or another :class:`Msg`) and are
formatted by the language, by type and by name:

- a list of ints is a VMID list, shortened after :data:`ID_LIMIT` entries; a list of
  messages is joined with ``; ``;
- a name ending in ``_s`` is a duration in seconds (``5d 15h`` / ``5 j 15 h``);
- a name ending in ``_at`` is an epoch time (ISO 8601 UTC, ``?`` when unknown);
- a float gets the language's decimal separator;
- ``pattern`` is a message whose UPIDs are masked (condensed anomalies);
- ``error`` is a text PVE, PBS or the HTTP layer wrote (never translated): the report
  shows it as code (:func:`pieces`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Formatter
from typing import Any

from pve_backup_report.message_texts import LIST_TOTAL, MESSAGES, UNKNOWN_TIME
from pve_backup_report.timeutil import human_duration, iso_utc

__all__ = ["ERROR_ARGS", "ID_LIMIT", "Msg", "decimal", "pieces", "render"]

ID_LIMIT = 20  # VMIDs listed in a message before "… (N in total)"

ERROR_ARGS = frozenset({"error"})  # texts written by PVE/PBS/HTTP, shown as code
_UPID = re.compile(r"UPID:[^\s'\"]+:")
_TASK_WORD = {"en": "<task>", "fr": "<tâche>"}


class Msg(str):
    """An English message (the ``str`` value) that keeps its ``code`` and ``args``.

    Immutable like the ``str`` it is; two messages are equal when their English texts are.
    """

    code: str
    args: tuple[tuple[str, Any], ...]

    def __new__(cls, code: str, **args: Any) -> Msg:
        key = _key(code, args)
        cached = _MADE.get(key) if key is not None else None
        if cached is not None:
            return cached
        obj = super().__new__(cls, render_code(code, args, "en"))
        object.__setattr__(obj, "code", code)
        object.__setattr__(obj, "args", tuple(args.items()))
        if key is not None and len(_MADE) < _MADE_LIMIT:
            _MADE[key] = obj
        return obj

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Msg is immutable (cannot set {name!r})")

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:  # copy, pickle
        return (self.code,), dict(self.args)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.args)


# The same message is built for many guests (a job restricted to another node, a
# disabled job): an immutable message with hashable arguments is made once.
_MADE: dict[tuple[Any, ...], Msg] = {}
_MADE_LIMIT = 50_000


def _key(code: str, args: Mapping[str, Any]) -> tuple[Any, ...] | None:
    parts: list[Any] = [code]
    for name, value in args.items():
        if isinstance(value, Msg):
            parts += [name, value.code, value]
        elif isinstance(value, (str, int, float, type(None))):
            parts += [name, type(value), value]
        else:
            return None  # lists: built each time
    return tuple(parts)


def _mask(text: str, lang: str) -> str:
    """UPIDs replaced by a placeholder (a message standing for many tasks)."""
    return _UPID.sub(_TASK_WORD[lang], text)


def decimal(value: float, lang: str, digits: int = 1) -> str:
    """``1.5`` in English, ``1,5`` in French."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def _ids(values: list[Any], lang: str) -> str:
    text = ", ".join(str(v) for v in values[:ID_LIMIT])
    if len(values) > ID_LIMIT:
        text += ", … " + LIST_TOTAL[lang].format(n=len(values))
    return text


def _arg(name: str, value: Any, lang: str) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int and not name.endswith(("_s", "_at")):
        return str(value)
    if isinstance(value, Msg):
        text = render(value, lang)
        return _mask(text, lang) if name == "pattern" else text
    if name.endswith("_s") and isinstance(value, int):
        return human_duration(value, lang)
    if name.endswith("_at"):
        return iso_utc(value) or UNKNOWN_TIME[lang]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return decimal(value, lang)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Msg) for v in value):
            return "; ".join(render(v, lang) for v in value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return _ids(list(value), lang)
        return ", ".join(str(v) for v in value)
    return str(value)


def render_code(code: str, args: Mapping[str, Any], lang: str) -> str:
    """The text of ``code`` with ``args`` in ``lang`` (KeyError for an unknown code)."""
    template = MESSAGES[lang][code]
    return template.format(**{k: _arg(k, v, lang) for k, v in args.items()})


def render(text: str, lang: str) -> str:
    """A :class:`Msg` in ``lang``; any other text is data and comes back as it is."""
    if isinstance(text, Msg):
        return render_code(text.code, text.params, lang)
    return text


def pieces(text: str, lang: str) -> list[tuple[str, bool]]:
    """``text`` in ``lang`` as (piece, is_foreign) pairs, in order.

    A foreign piece is an ``error`` argument: words PVE, PBS or the HTTP layer wrote,
    which a report shows apart (as code) from its own language. Text that is not a
    :class:`Msg` is data: one piece, not foreign.
    """
    if not isinstance(text, Msg):
        return [(text, False)]
    args = text.params
    out: list[tuple[str, bool]] = []
    for literal, field, _spec, _conv in Formatter().parse(MESSAGES[lang][text.code]):
        if literal:
            out.append((literal, False))
        if field is None:
            continue
        value = args[field]
        if isinstance(value, Msg) and field == "pattern":
            out += [
                (t if foreign else _mask(t, lang), foreign) for t, foreign in pieces(value, lang)
            ]
        elif isinstance(value, Msg):
            out += pieces(value, lang)
        elif field in ERROR_ARGS and value:
            out.append((str(value), True))
        else:
            out.append((_arg(field, value, lang), False))
    return out
