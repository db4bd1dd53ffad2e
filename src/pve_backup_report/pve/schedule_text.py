"""Readable schedules: descriptions in English and French, and ``--explain-schedule``.

The calendar-event grammar and the event search live in :mod:`pve_backup_report.pve.schedule`;
this module only puts them into words. Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pve_backup_report.pve.schedule import (
    ALL_DAYS,
    CalendarEvent,
    Field,
    ScheduleError,
    _as_event,
    _can_ever_match,
    _contains,
    next_event,
    parse_event,
    previous_event,
)

__all__ = ["ScheduleError", "describe", "explain"]


# ---------------------------------------------------------------------------------------
# describe
# ---------------------------------------------------------------------------------------

_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "wd": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "months": (
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        ),
        "and": "and",
        "every_day": "every day",
        "every_second": "every second",
        "every_minute": "every minute",
        "every_n_minutes": "every {n} minutes",
        "from_minute": ", starting at minute {m}",
        "from_hour": ", starting at hour {h}",
        "every_hour": "every hour",
        "every_n_hours": "every {n} hours",
        "at_minute": " at minute {m}",
        "at_minutes": " at minutes {m}",
        "at_second": ", at second {s}",
        "at_seconds": ", at seconds {s}",
        "during_hour": " during hour {h}",
        "during_hours": " during hours {h}",
        "at": "at {t}",
        "in_months": "in {m}",
        "of_each_month": "of each month",
        "of_months": "of {m}",
        "day_one": "on the {d}",
        "day_many": "on the {d}",
        "days_range": "on days {a}-{b}",
        "days_list": "on days {d}",
        "on_date": "on {x}",
        "in_years": "in {y}",
        "every_n_years": "in one year out of {n} from {y}",
        "never": "never",
    },
    "fr": {
        "wd": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
        "months": (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        "and": "et",
        "every_day": "tous les jours",
        "every_second": "toutes les secondes",
        "every_minute": "toutes les minutes",
        "every_n_minutes": "toutes les {n} minutes",
        "from_minute": ", à partir de la minute {m}",
        "from_hour": ", à partir de l'heure {h}",
        "every_hour": "toutes les heures",
        "every_n_hours": "toutes les {n} heures",
        "at_minute": " à la minute {m}",
        "at_minutes": " aux minutes {m}",
        "at_second": ", à la seconde {s}",
        "at_seconds": ", aux secondes {s}",
        "during_hour": " pendant l'heure {h}",
        "during_hours": " pendant les heures {h}",
        "at": "à {t}",
        "in_months": "en {m}",
        "of_each_month": "de chaque mois",
        "of_months": "{m}",
        "day_one": "le {d}",
        "day_many": "les {d}",
        "days_range": "les jours {a} à {b}",
        "days_list": "les jours {d}",
        "on_date": "le {x}",
        "in_years": "en {y}",
        "every_n_years": "une année sur {n} à partir de {y}",
        "never": "jamais",
    },
}

_MAX_LISTED_TIMES = 6


def _values(field: Field, lo: int, hi: int) -> list[int] | None:
    """The values of ``lo..hi`` a field accepts; ``None`` for an empty field (any value)."""
    if not field:
        return None
    return [v for v in range(lo, hi + 1) if _contains(field, v)]


def _join(items: Sequence[str], word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _runs(values: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and runs[-1][1] == v - 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _ranges(values: Sequence[int], fmt: str = "{:02d}", limit: int = 8) -> str:
    parts = []
    for a, b in _runs(values):
        if a == b:
            parts.append(fmt.format(a))
        elif b == a + 1:
            parts.extend((fmt.format(a), fmt.format(b)))
        else:
            parts.append(f"{fmt.format(a)}-{fmt.format(b)}")
    if len(parts) > limit:
        parts = [*parts[:limit], "…"]
    return ", ".join(parts)


def _progression(values: Sequence[int], hi: int) -> tuple[int, int] | None:
    """``(start, step)`` when values are start, start+step, ... up to ``hi`` (step >= 2)."""
    if len(values) < 2:
        return None
    step = values[1] - values[0]
    if step < 2 or values[0] >= step or (hi + 1) % step:
        return None
    expected = list(range(values[0], hi + 1, step))
    return (values[0], step) if list(values) == expected else None


def _weekday_phrase(days: int, lang: str) -> str:
    txt = _TEXT[lang]
    names: tuple[str, ...] = txt["wd"]
    present = [d for d in range(7) if days & (1 << d)]
    # compress circular runs (fri..mon), Monday first
    runs: list[list[int]] = []
    for d in present:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs[0] = runs.pop() + runs[0]
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            a, b = names[run[0]], names[run[-1]]
            parts.append(f"du {a} au {b}" if lang == "fr" else f"{a}-{b}")
        else:
            parts.extend(("le " + names[d]) if lang == "fr" else names[d] for d in run)
    if lang == "fr":
        return _join(parts, "et")
    return ", ".join(parts)


def _ordinal(d: int, lang: str) -> str:
    if lang == "fr":
        return "1er" if d == 1 else str(d)
    if d % 100 in (11, 12, 13):
        return f"{d}th"
    return f"{d}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th') }"


def _day_list(days: list[int], lang: str) -> str:
    txt = _TEXT[lang]
    runs = _runs(days)
    if len(runs) == 1 and runs[0][1] - runs[0][0] >= 2:
        return str(txt["days_range"]).format(a=runs[0][0], b=runs[0][1])
    if len(days) <= _MAX_LISTED_TIMES:
        key = "day_one" if len(days) == 1 else "day_many"
        return str(txt[key]).format(d=_join([_ordinal(d, lang) for d in days], txt["and"]))
    return str(txt["days_list"]).format(d=_ranges(days, "{:d}"))


def _date_phrase(ev: CalendarEvent, lang: str) -> str | None:
    txt = _TEXT[lang]
    years = _values(ev.year, 0, 2199)
    months = _values(ev.month, 1, 12)
    days = _values(ev.day, 1, 31)
    if years is None and months is None and days is None:
        return None
    if months == [] or days == [] or years == []:
        return str(txt["never"])
    names: tuple[str, ...] = txt["months"]
    if years and months and days and len(years) == len(months) == len(days) == 1:
        return str(txt["on_date"]).format(x=f"{years[0]:04d}-{months[0]:02d}-{days[0]:02d}")
    month_txt = _join([names[m - 1] for m in months], txt["and"]) if months else ""
    if days is None:
        phrase = str(txt["every_day"])
        if months is not None:
            phrase += " " + str(txt["in_months"]).format(m=month_txt)
    else:
        phrase = _day_list(days, lang) + " "
        if months is None:
            phrase += str(txt["of_each_month"])
        else:
            phrase += str(txt["of_months"]).format(m=month_txt)
    if years is not None:
        steps = {years[k + 1] - years[k] for k in range(len(years) - 1)}
        if len(years) > _MAX_LISTED_TIMES and len(steps) == 1 and steps != {1}:
            year_txt = str(txt["every_n_years"]).format(n=steps.pop(), y=f"{years[0]:04d}")
        else:
            year_txt = str(txt["in_years"]).format(y=_ranges(years, "{:04d}"))
        phrase += " " + year_txt
    return phrase


def _time_phrase(ev: CalendarEvent, lang: str) -> tuple[str, bool]:
    """Phrase for the time of day and whether it is a frequency ("every ...")."""
    txt = _TEXT[lang]
    hours = _values(ev.hour, 0, 23)
    minutes = _values(ev.minute, 0, 59)
    seconds = _values(ev.second, 0, 59)
    if hours == [] or minutes == [] or seconds == []:
        return str(txt["never"]), False
    sec_zero = seconds == [0]
    sec_single = seconds is not None and len(seconds) == 1
    if hours is not None and minutes is not None and sec_single:
        assert seconds is not None
        if len(hours) * len(minutes) <= _MAX_LISTED_TIMES + 2:
            fmt = "{:02d}:{:02d}" if sec_zero else "{:02d}:{:02d}:" + f"{seconds[0]:02d}"
            times = [fmt.format(h, m) for h in hours for m in minutes]
            return str(txt["at"]).format(t=_join(times, txt["and"])), False
    phrase, hours, sec_done = _frequency(hours, minutes, seconds, sec_zero, txt)
    if not sec_done and not sec_zero:
        if seconds is None:
            phrase += ", " + str(txt["every_second"])
        else:
            key = "at_second" if len(seconds) == 1 else "at_seconds"
            phrase += str(txt[key]).format(s=_join([f"{s:02d}" for s in seconds], txt["and"]))
    if hours is not None:
        key = "during_hour" if len(hours) == 1 else "during_hours"
        phrase += str(txt[key]).format(h=_ranges(hours))
    return phrase, True


def _frequency(
    hours: list[int] | None,
    minutes: list[int] | None,
    seconds: list[int] | None,
    sec_zero: bool,
    txt: Mapping[str, Any],
) -> tuple[str, list[int] | None, bool]:
    """The frequency within the hour ("every 15 minutes", "every 2 hours at minute 30");
    also the hours still to name (None once said) and whether the seconds are said."""
    hour_prog = _progression(hours, 23) if hours is not None else None
    if minutes is None:
        phrase = str(txt["every_second"] if seconds is None else txt["every_minute"])
        return phrase, hours, seconds is None
    prog = _progression(minutes, 59)
    if prog is not None:
        phrase = str(txt["every_n_minutes"]).format(n=prog[1])
        if prog[0]:
            phrase += str(txt["from_minute"]).format(m=f"{prog[0]:02d}")
        return phrase, hours, False
    if hours is not None and hour_prog is not None:
        phrase = str(txt["every_n_hours"]).format(n=hour_prog[1])
        if hour_prog[0]:
            phrase += str(txt["from_hour"]).format(h=f"{hour_prog[0]:02d}")
        hours = None
    else:
        phrase = str(txt["every_hour"])
    if minutes != [0] or not sec_zero:
        key = "at_minute" if len(minutes) == 1 else "at_minutes"
        phrase += str(txt[key]).format(m=_join([f"{m:02d}" for m in minutes], txt["and"]))
    return phrase, hours, False


def describe(ev_or_expr: CalendarEvent | str, lang: str = "en") -> str:
    """A readable English or French description, e.g. ``"Mon-Fri at 02:00"``.

    Raises :class:`ScheduleError` for an invalid expression and :class:`ValueError` for
    an unknown language.  Show it together with the raw expression.
    """
    if lang not in _TEXT:
        raise ValueError(f"unsupported language '{lang}' (use 'en' or 'fr')")
    ev = _as_event(ev_or_expr)
    txt = _TEXT[lang]
    if not _can_ever_match(ev):
        return str(txt["never"])
    time_txt, frequency = _time_phrase(ev, lang)
    day_parts = []
    if ev.days not in (0, ALL_DAYS):
        day_parts.append(_weekday_phrase(ev.days, lang))
    date_txt = _date_phrase(ev, lang)
    if date_txt is not None:
        day_parts.append(date_txt)
    if not day_parts:
        text = time_txt if frequency else f"{txt['every_day']} {time_txt}"
    elif frequency:
        text = f"{', '.join(day_parts)}, {time_txt}"
    else:
        text = f"{', '.join(day_parts)} {time_txt}"
    if ev.utc:
        text += " (UTC)"
    return text


# ---------------------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------------------


def explain(expr: str, now: int, tz: str, count: int, lang: str = "en") -> dict[str, Any]:
    """JSON-ready explanation of a schedule.

    ``{"expr", "description", "next": [epoch...], "previous": epoch | None}``: ``next``
    holds up to ``count`` events, each strictly after the one before, the first strictly
    after ``now``; ``previous`` is the latest event at or before ``now``.  Raises
    :class:`ScheduleError` (Proxmox's text) for an invalid expression or time zone.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    ev = parse_event(expr)
    upcoming: list[int] = []
    last = int(now)
    for _ in range(count):
        n = next_event(ev, last, tz)
        if n is None:
            break
        upcoming.append(n)
        last = n
    return {
        "expr": expr,
        "description": describe(ev, lang),
        "next": upcoming,
        "previous": previous_event(ev, int(now), tz),
    }
