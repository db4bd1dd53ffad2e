"""Proxmox calendar events (job ``schedule``): parse and evaluate (words: pve/schedule_text.py).

This is a port of the algorithm of the Rust crate ``proxmox-time`` that PVE uses through
``PVE::CalendarEvent`` (``calendar_event.rs``, ``parse_helpers.rs``, ``date_time_value.rs``,
``week_days.rs``, ``tm_editor.rs``), see pve-facts §4.  Quirks are kept on purpose:

* the parser mirrors the nom combinators, including their backtracking (``24:00`` is
  "minute 24 of every hour", a bare number is a minute) and Proxmox's error texts;
* :func:`next_event` walks the fields one at a time like ``compute_next_event`` (jump to
  the next matching value, reset the smaller fields, give up after 1000 adjustments);
* local time is normalised like glibc's ``mktime`` with ``tm_isdst = -1`` (the probing
  loop of ``__mktime_internal`` is emulated on top of :mod:`zoneinfo`), which is what
  gives Proxmox its daylight-saving behaviour: a local time inside a spring-forward gap is
  skipped that day, a local time that occurs twice fires once, at its first occurrence.

Where this deliberately differs from running the upstream code:

* glibc keeps the offset of the last ``mktime`` call as the first guess of the next one
  (process-wide state).  Here every search starts with the UTC offset in force at the
  search start, which is what a chain of ``compute_next_event`` calls sees; it only
  matters when the search starts inside a repeated (clocks-back) hour.
* With negative DST (Europe/Dublin) glibc can resolve a gap time backwards, and upstream
  then returns ``last`` or an earlier time; :func:`next_event` stays strictly after
  ``after`` by redoing such a search with gap times resolved forwards.
* When glibc's ``mktime`` would fail (upstream: an error), the answer is ``None``.

:func:`previous_event` has no upstream counterpart; see its docstring.

Everything is pure: no clock reads, no I/O.  ``now`` and the time zone are parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

__all__ = [
    "CalendarEvent",
    "DateTimeValue",
    "ScheduleError",
    "next_event",
    "parse_event",
    "previous_event",
]


class ScheduleError(ValueError):
    """The calendar event (or the time zone) is not valid; the text is Proxmox's."""


# ---------------------------------------------------------------------------------------
# Value objects
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateTimeValue:
    """One item of a field list: ``N`` (single), ``N..M`` (range) or ``N[..M]/R`` (repeated).

    ``step is None`` means single (``end is None``) or range; ``step`` set means repeated,
    with an optional ``end``.  ``step == 0`` only matches ``start`` (like upstream).
    """

    start: int
    end: int | None = None
    step: int | None = None

    def contains(self, value: int) -> bool:
        if self.step is None:
            if self.end is None:
                return value == self.start
            return self.start <= value <= self.end
        if value < self.start:
            return False
        if self.step == 0:
            return value == self.start
        if (value - self.start) % self.step != 0:
            return False
        return self.end is None or value <= self.end

    def next_after(self, value: int) -> int | None:
        """Upstream ``find_next`` for one item: the next candidate above ``value``.

        Not bounded by the field's domain: ``*/50`` after minute 55 gives 100, which the
        time normalisation turns into minute 40 of the next hour (a Proxmox quirk).
        """
        if self.step is None:
            if self.end is None:
                return self.start if self.start > value else None
            if value < self.start:
                return self.start
            n = value + 1
            return n if self.start <= n <= self.end else None
        if value < self.start:
            return self.start
        if self.step == 0:
            return None
        n = self.start + ((value - self.start + self.step) // self.step) * self.step
        if self.end is not None and n > self.end:
            return None
        return n


Field = tuple[DateTimeValue, ...]

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = (1 << i for i in range(7))
ALL_DAYS = 0x7F


@dataclass(frozen=True)
class CalendarEvent:
    """A parsed calendar event.  An empty field tuple means "any value".

    ``days`` is a bit set, Monday = bit 0 ... Sunday = bit 6; 0 means no weekday given.
    ``keyword`` is set for the keyword forms (``daily``, ``weekly``...).
    """

    text: str
    utc: bool = False
    days: int = 0
    second: Field = ()
    minute: Field = ()
    hour: Field = ()
    day: Field = ()
    month: Field = ()
    year: Field = ()
    keyword: str | None = None

    def __str__(self) -> str:
        return self.text


def _contains(values: Field, value: int) -> bool:
    return any(v.contains(value) for v in values)


def _find_next(values: Field, value: int) -> int | None:
    best: int | None = None
    for v in values:
        n = v.next_after(value)
        if n is not None and (best is None or n < best):
            best = n
    return best


# ---------------------------------------------------------------------------------------
# Parser (mirrors the nom parser of proxmox-time, including error texts)
# ---------------------------------------------------------------------------------------


class _NomError(Exception):
    """A recoverable nom ``Err::Error``: where it happened and the VerboseErrorKind."""

    def __init__(self, at: str, kind: str) -> None:
        super().__init__(at, kind)
        self.at = at
        self.kind = kind


_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_U32_MAX = 0xFFFFFFFF
_S0: Field = (DateTimeValue(0),)
_D1: Field = (DateTimeValue(1),)

# Perl's \s (PVE::Tools::trim) on a character string.
_PERL_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
_PERL_SPACE += "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

_WEEKDAYS = {
    "mon": MONDAY,
    "monday": MONDAY,
    "tue": TUESDAY,
    "tuesday": TUESDAY,
    "wed": WEDNESDAY,
    "wednesday": WEDNESDAY,
    "thu": THURSDAY,
    "thursday": THURSDAY,
    "fri": FRIDAY,
    "friday": FRIDAY,
    "sat": SATURDAY,
    "saturday": SATURDAY,
    "sun": SUNDAY,
    "sunday": SUNDAY,
}

# keyword -> (days, month, day, hour, minute, second); see calendar_event.rs
_KEYWORDS: dict[str, tuple[int, Field, Field, Field, Field, Field]] = {
    "minutely": (0, (), (), (), (), _S0),
    "hourly": (0, (), (), (), _S0, _S0),
    "daily": (0, (), (), _S0, _S0, _S0),
    "weekly": (MONDAY, (), (), _S0, _S0, _S0),
    "monthly": (0, (), _D1, _S0, _S0, _S0),
    "yearly": (0, _D1, _D1, _S0, _S0, _S0),
    "annually": (0, _D1, _D1, _S0, _S0, _S0),
    "quarterly": (
        0,
        tuple(DateTimeValue(m) for m in (1, 4, 7, 10)),
        _D1,
        _S0,
        _S0,
        _S0,
    ),
    "semiannually": (0, (DateTimeValue(1), DateTimeValue(7)), _D1, _S0, _S0, _S0),
    "semi-annually": (0, (DateTimeValue(1), DateTimeValue(7)), _D1, _S0, _S0, _S0),
}


def _take_while(i: str, chars: frozenset[str]) -> int:
    n = 0
    while n < len(i) and i[n] in chars:
        n += 1
    return n


def _space0(i: str) -> str:
    return i.lstrip(" \t")


def _time_comp(i: str, limit: int) -> tuple[str, int]:
    """``parse_time_comp(max)``: digits, as u32, must be below ``limit``."""
    n = _take_while(i, _DIGITS)
    if n == 0:
        raise _NomError(i, "Nom(Digit)")
    significant = i[:n].lstrip("0")
    if len(significant) > 10:  # also keeps int() away from huge digit strings
        raise _NomError(i, "Nom(MapRes)")
    value = int(significant or "0")
    if value > _U32_MAX:
        raise _NomError(i, "Nom(MapRes)")
    rest = i[n:]
    if value >= limit:
        raise _NomError(rest, 'Context("time value too large")')
    return rest, value


def _comp(i: str, limit: int) -> tuple[str, DateTimeValue]:
    """``parse_date_time_comp(max)``."""
    i, value = _time_comp(i, limit)
    if i.startswith(".."):
        try:
            rest, end = _time_comp(i[2:], limit)
        except _NomError:
            pass  # opt(): the ".." stays unparsed
        else:
            if value > end:
                raise _NomError(rest, 'Context("range start is bigger than end")')
            if rest.startswith("/"):
                rest, repeat = _time_comp(rest[1:], limit)
                return rest, DateTimeValue(value, end, repeat)
            return rest, DateTimeValue(value, end)
    if i.startswith("/"):
        rest, repeat = _time_comp(i[1:], limit)
        return rest, DateTimeValue(value, None, repeat)
    return i, DateTimeValue(value)


def _comp_list(i: str, start: int, limit: int) -> tuple[str, Field]:
    """``parse_date_time_comp_list(start, max)``."""
    if i.startswith("*"):
        rest = i[1:]
        if rest.startswith("/"):
            n, repeat = _time_comp(rest[1:], limit)
            if repeat > 0:
                return n, (DateTimeValue(start, None, repeat),)
        return rest, ()
    i, first = _comp(i, limit)
    items = [first]
    while i.startswith(","):
        try:
            rest, item = _comp(i[1:], limit)
        except _NomError:
            break  # separated_list1 stops before the separator
        items.append(item)
        i = rest
    return i, tuple(items)


def _tag(i: str, tag: str) -> str:
    if not i.startswith(tag):
        raise _NomError(i, "Nom(Tag)")
    return i[len(tag) :]


def _time_spec(i: str) -> tuple[str, Field, Field, Field]:
    try:
        rest, hour_list = _comp_list(i, 0, 24)
        rest = _tag(rest, ":")
        hour: Field = hour_list
    except _NomError:
        rest, hour = i, ()
    rest, minute = _comp_list(rest, 0, 60)
    second: Field = _S0
    if rest.startswith(":"):
        try:
            rest2, second = _comp_list(rest[1:], 0, 60)
        except _NomError:
            second = _S0
        else:
            rest = rest2
    return rest, hour, minute, second


def _date_spec(i: str) -> tuple[str, Field, Field, Field]:
    try:
        rest, year = _comp_list(i, 0, 2200)
        rest, month = _comp_list(_tag(rest, "-"), 1, 13)
        rest, day = _comp_list(_tag(rest, "-"), 1, 32)
        return rest, year, month, day
    except _NomError:
        pass
    try:
        rest, month = _comp_list(i, 1, 13)
        rest, day = _comp_list(_tag(rest, "-"), 1, 32)
        return rest, (), month, day
    except _NomError:
        raise _NomError(i, 'Context("invalid date spec")') from None


def _weekday(i: str) -> tuple[str, int]:
    n = _take_while(i, _ALPHA)
    if n == 0:
        raise _NomError(i, "Nom(Alpha)")
    text = i[:n]
    bit = _WEEKDAYS.get(text.lower())
    if bit is None:
        raise _NomError(text, 'Context("weekday")')
    return i[n:], bit


def _weekday_range(i: str) -> tuple[str, int]:
    i, start = _weekday(i)
    if i.startswith(".."):
        try:
            rest, end = _weekday(i[2:])
        except _NomError:
            return i, start
        if start > end:
            return rest, (ALL_DAYS & ~(start - 1)) | ((end << 1) - 1)
        return rest, ((end << 1) - 1) & ~(start - 1)
    return i, start


def _parse_rs(text: str) -> CalendarEvent:
    """``CalendarEvent::from_str`` (the Rust part, without PVE's trimming)."""
    i = text
    utc = False
    if i.endswith("UTC"):
        utc = True
        i = i[:-3].rstrip(" ")
    days = 0
    has_day = has_date = has_time = False
    year: Field = ()
    month: Field = ()
    day: Field = ()
    if i and i[0] in _ALPHA:
        kw = _KEYWORDS.get(i)
        if kw is not None:
            kdays, kmonth, kday, khour, kminute, ksecond = kw
            return CalendarEvent(
                text=text,
                utc=utc,
                days=kdays,
                second=ksecond,
                minute=kminute,
                hour=khour,
                day=kday,
                month=kmonth,
                keyword=i,
            )
        i, days = _weekday_range(i)  # the first range's error is not recoverable
        while i.startswith(","):
            try:
                rest, more = _weekday_range(i[1:])
            except _NomError:
                break
            days |= more
            i = rest
        has_day = True
        i = _space0(i)
    try:
        rest, year, month, day = _date_spec(i)
    except _NomError:
        pass
    else:
        has_date = True
        i = _space0(rest)
    hour: Field = _S0
    minute: Field = _S0
    second: Field = _S0
    try:
        rest, hour, minute, second = _time_spec(i)
    except _NomError:
        hour, minute, second = _S0, _S0, _S0
    else:
        has_time = True
        i = rest
    if not (has_day or has_date or has_time):
        raise _NomError(i, 'Context("date or time specification")')
    if i:
        raise _NomError(i, "Nom(Eof)")
    return CalendarEvent(
        text=text,
        utc=utc,
        days=days,
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        year=year,
    )


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> CalendarEvent:
    trimmed = text.strip(_PERL_SPACE)
    if trimmed == "":
        raise ScheduleError("unable to parse calendar event - event is empty")
    try:
        return _parse_rs(trimmed)
    except _NomError as err:
        raise ScheduleError(f"unable to parse calendar event at '{err.at}' - {err.kind}") from None


def parse_event(text: str) -> CalendarEvent:
    """Parse like ``PVE::CalendarEvent::parse_calendar_event`` (trim, reject empty, Rust).

    Raises :class:`ScheduleError` with Proxmox's message, e.g.
    ``unable to parse calendar event at 'daily' - Context("weekday")``.
    """
    if not isinstance(text, str):
        raise ScheduleError("unable to parse calendar event - not a string")
    return _parse_cached(text)


def _as_event(ev: CalendarEvent | str) -> CalendarEvent:
    return ev if isinstance(ev, CalendarEvent) else parse_event(ev)


# ---------------------------------------------------------------------------------------
# Calendar arithmetic and glibc-like local time
# ---------------------------------------------------------------------------------------


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _naive_seconds(year: int, mon: int, mday: int, hour: int, minute: int, sec: int) -> int:
    """Seconds since 1970-01-01 00:00 of broken-down fields, normalised like mktime."""
    mon0 = mon - 1
    days = _days_from_civil(year + mon0 // 12, mon0 % 12 + 1, 1) + mday - 1
    return days * 86400 + hour * 3600 + minute * 60 + sec


_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_CYCLE = 146097 * 86400  # 400 Gregorian years: weekdays and POSIX DST rules repeat
_T_MAX = 253402300799 - 3 * 86400  # a few days before 9999-12-31
_T_MIN = -62135596800 + 3 * 86400  # a few days after 0001-01-01
_MIN_T = -62167219200 - 1  # just before 0000-01-01T00:00:00Z (Proxmox years start at 0)


@functools.lru_cache(maxsize=256)
def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except Exception as err:  # ZoneInfoNotFoundError, ValueError, OSError...
        raise ScheduleError(f"unknown time zone '{tz}'") from err


@functools.lru_cache(maxsize=1 << 14)
def _offset(zone: ZoneInfo, t: int) -> tuple[int, bool]:
    """UTC offset in seconds and the DST flag at instant ``t`` (like ``localtime_r``).

    Kept per zone and instant: a warm check of 10,000 guests asked 9,601 times for 1,775
    instants (each ``_mktime`` probe is loaded again by ``_Tm._load``, and the jobs'
    schedules meet at the same minutes), 1.2 microseconds each through
    ``datetime.astimezone``, 0.09 once kept: about 9 ms less a warm check."""
    if t > _T_MAX:
        t -= ((t - _T_MAX) // _CYCLE + 1) * _CYCLE
    elif t < _T_MIN:
        t = _T_MIN
    local = (_EPOCH + timedelta(seconds=t)).astimezone(zone)
    off = local.utcoffset()
    dst = local.dst()
    return (int(off.total_seconds()) if off is not None else 0), bool(dst)


class _MktimeError(Exception):
    """glibc's mktime gave up (returns -1); Proxmox then reports an error."""


def _mktime(
    zone: ZoneInfo,
    want_fields: tuple[int, int, int, int, int, int],
    guess: int,
    forward: bool = False,
) -> tuple[int, int]:
    """glibc ``mktime`` with ``tm_isdst = -1`` (``__mktime_internal`` probing loop).

    ``guess`` is the UTC offset to try first.  Returns the instant and the guess for the
    next call (what glibc keeps in its static ``localtime_offset``).  With ``forward``, a
    time inside a gap always resolves to after the gap (see :func:`_next`).
    """
    year, mon, mday, hour, minute, sec_requested = want_fields
    sec = min(max(sec_requested, 0), 59)
    want = _naive_seconds(year, mon, mday, hour, minute, sec)
    t0 = want - guess
    t = t1 = t2 = t0
    dst2 = False
    probes = 6
    while True:
        off, isdst = _offset(zone, t)
        dt = want - (t + off)
        if dt == 0:
            break
        if t == t1 and t != t2 and dst2 <= isdst:
            # oscillating around a spring-forward gap: glibc keeps this probe
            if forward and dt > 0:
                t = t2
            break
        probes -= 1
        if probes == 0:
            raise _MktimeError
        t1, t2, t, dst2 = t2, t, t + dt, isdst
    next_guess = want - t
    if sec_requested != sec:
        t += sec_requested - sec
    return t, next_guess


class _Tm:
    """``TmEditor``: broken-down time edited field by field, normalised after each edit."""

    __slots__ = (
        "day",
        "forward",
        "guess",
        "hour",
        "minute",
        "month",
        "sec",
        "t",
        "wday",
        "year",
        "zone",
    )

    def __init__(self, zone: ZoneInfo | None, t: int, forward: bool = False) -> None:
        self.zone = zone
        self.forward = forward
        self.guess = 0 if zone is None else _offset(zone, t)[0]
        self._load(t)

    def _load(self, t: int) -> None:
        self.t = t
        n = t if self.zone is None else t + _offset(self.zone, t)[0]
        days, secs = divmod(n, 86400)
        self.year, self.month, self.day = _civil_from_days(days)
        self.hour, rem = divmod(secs, 3600)
        self.minute, self.sec = divmod(rem, 60)
        self.wday = (days + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday

    def _normalize(self, mon: int, mday: int, hour: int, minute: int, sec: int) -> None:
        fields = (self.year, mon, mday, hour, minute, sec)
        if self.zone is None:
            self._load(_naive_seconds(*fields))
            return
        t, self.guess = _mktime(self.zone, fields, self.guess, self.forward)
        self._load(t)

    def add_years(self, years: int) -> None:
        if years:
            self.year += years
            self._normalize(1, 1, 0, 0, 0)

    def add_months(self, months: int) -> None:
        if months:
            self._normalize(self.month + months, 1, 0, 0, 0)

    def add_days(self, days: int) -> None:
        if days:
            self._normalize(self.month, self.day + days, 0, 0, 0)

    def set_time(self, hour: int, minute: int, sec: int) -> None:
        self._normalize(self.month, self.day, hour, minute, sec)

    def set_min_sec(self, minute: int, sec: int) -> None:
        self._normalize(self.month, self.day, self.hour, minute, sec)

    def set_sec(self, sec: int) -> None:
        self._normalize(self.month, self.day, self.hour, self.minute, sec)

    def into_epoch(self) -> int:
        if self.zone is None:
            return self.t
        fields = (self.year, self.month, self.day, self.hour, self.minute, self.sec)
        return _mktime(self.zone, fields, self.guess, self.forward)[0]


def _compute_next(  # noqa: C901, PLR0915 - mirrors proxmox-time compute_next_event
    ev: CalendarEvent, last: int, zone: ZoneInfo | None, forward: bool = False
) -> int | None:
    """``CalendarEvent::compute_next_event``: the first event strictly after ``last``."""
    try:
        tm = _Tm(zone, last + 1, forward)
        all_days = ev.days in (0, ALL_DAYS)
        count = 0
        while True:
            if count > 1000:
                return None
            count += 1

            if ev.year:
                year = tm.year
                if year < 0:
                    return None  # u32 conversion fails upstream
                if not _contains(ev.year, year):
                    n = _find_next(ev.year, year)
                    if n is None:
                        return None
                    tm.add_years(n - year)
                    continue

            if ev.month and not _contains(ev.month, tm.month):
                n = _find_next(ev.month, tm.month)
                if n is not None:
                    tm.add_months(n - tm.month)
                else:
                    tm.add_years(1)
                continue

            if ev.day and not _contains(ev.day, tm.day):
                n = _find_next(ev.day, tm.day)
                if n is not None:
                    tm.add_days(n - tm.day)
                else:
                    tm.add_months(1)
                continue

            if not all_days and not ev.days & (1 << tm.wday):
                dn = tm.wday
                for d in range(dn + 1, 7):
                    if ev.days & (1 << d):
                        tm.add_days(d - dn)
                        break
                else:
                    tm.add_days(7 - dn)
                continue

            if ev.hour and not _contains(ev.hour, tm.hour):
                n = _find_next(ev.hour, tm.hour)
                if n is not None:
                    tm.set_time(n, 0, 0)
                else:
                    tm.add_days(1)
                continue

            if ev.minute and not _contains(ev.minute, tm.minute):
                n = _find_next(ev.minute, tm.minute)
                if n is not None:
                    tm.set_min_sec(n, 0)
                else:
                    tm.set_time(tm.hour + 1, 0, 0)
                continue

            if ev.second and not _contains(ev.second, tm.sec):
                n = _find_next(ev.second, tm.sec)
                if n is not None:
                    tm.set_sec(n)
                else:
                    tm.set_min_sec(tm.minute + 1, 0)
                continue

            return tm.into_epoch()
    except _MktimeError:
        return None  # upstream returns an error here; there is no event to report


def _next(ev: CalendarEvent, last: int, zone: ZoneInfo | None) -> int | None:
    """Upstream's result, unless glibc's normalisation made it go backwards.

    With negative daylight saving time (Europe/Dublin's tzdata: winter is the "DST"
    period), glibc resolves a time inside the spring-forward gap to *before* the gap, and
    upstream can then return ``last`` itself or an earlier time.  Then the search is
    redone with gap times resolved forwards (the usual "skipped that day" behaviour).
    """
    if not _can_ever_match(ev):
        return None  # upstream gives up after 1000 adjustments; no date can ever match
    n = _compute_next(ev, last, zone)
    if n is not None and n <= last:
        n = _compute_next(ev, last, zone, forward=True)
        if n is not None and n <= last:
            return None
    return n


def _zone_for(ev: CalendarEvent, tz: str) -> ZoneInfo | None:
    """The zone to evaluate in (``None``: plain UTC arithmetic); validates ``tz``."""
    zone = _zone(tz)
    if ev.utc or zone.key in ("UTC", "Etc/UTC"):
        return None
    return zone


def next_event(ev: CalendarEvent | str, after: int, tz: str) -> int | None:
    """The first event strictly after ``after`` (epoch seconds) in time zone ``tz``.

    Like Proxmox: the search starts at ``after + 1``, works in local time unless the event
    ends in `` UTC``, and returns ``None`` when it gives up (1000 adjustments) or when no
    later year can match.
    """
    event = _as_event(ev)
    return _next(event, int(after), _zone_for(event, tz))


# ---------------------------------------------------------------------------------------
# previous_event
# ---------------------------------------------------------------------------------------

_WALK_CAP = 3000
_BASE_WINDOWS = (
    60,
    600,
    3600,
    3 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    35 * 86400,
    70 * 86400,
    400 * 86400,
)


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


@functools.lru_cache(maxsize=1024)
def _can_ever_match(ev: CalendarEvent) -> bool:
    """Static check: is there any date at all that the year/month/day fields accept?"""
    years = [y for y in range(0, 2200) if _contains(ev.year, y)] if ev.year else None
    if years is not None and not years:
        return False
    leap_ok = years is None or any(_is_leap(y) for y in years)
    months = [m for m in range(1, 13) if not ev.month or _contains(ev.month, m)]
    days = [d for d in range(1, 32) if not ev.day or _contains(ev.day, d)]
    mdays = (31, 29 if leap_ok else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return any(d <= mdays[m - 1] for m in months for d in days)


def _skips(field: Field, size: int, first: int) -> bool:
    """Does upstream's ``find_next`` jump past the end of the field and skip a value?

    ``size`` values ``first .. first + size - 1`` exist (60 minutes, 24 hours, 12 months,
    28..31 days).  A jump to ``n`` beyond the last one lands on ``n - size`` of the next
    period; any accepted value before that landing is never reached by the scheduler.
    """
    if not field:
        return False
    last = first + size - 1
    accepted = [v for v in range(first, last + 1) if _contains(field, v)]
    for v in range(first, last + 1):
        n = _find_next(field, v)
        if n is not None and n > last:
            landing = n - size
            if any(a < landing for a in accepted):
                return True
    return False


def _quirk_span(ev: CalendarEvent) -> int:
    """How far back a chain must start to be the scheduler's chain (0: anywhere).

    Upstream's ``find_next`` is not bounded by the field: ``*/7`` after minute 57 gives
    63, normalised to minute 03 of the next hour, so the scheduler never fires at minute
    00; ``*-*-1,31`` skips March 1st.  A chain started inside such a period may reach
    events the scheduler never does, so the walk has to start one period earlier.
    """
    if _skips(ev.month, 12, 1):
        return 400 * 86400
    if any(_skips(ev.day, dim, 1) for dim in (28, 29, 30, 31)):
        return 70 * 86400
    if _skips(ev.hour, 24, 0):
        return 2 * 86400
    if _skips(ev.minute, 60, 0):
        return 3 * 3600
    if _skips(ev.second, 60, 0):
        return 600
    return 0


def _windows(span: int, limit: int) -> Iterable[int]:
    for w in _BASE_WINDOWS:
        if w >= span:
            yield w
    w = max(800 * 86400, 2 * span)
    while True:
        yield w
        if w >= limit:
            return
        w *= 2


def _latest_reachable(ev: CalendarEvent, zone: ZoneInfo | None, lo: int, t: int) -> int:
    """Bisect for the last ``x`` in ``[lo, t)`` with ``next(x) <= t``; return ``next(x)``.

    ``lo`` must be an event whose successor is ``<= t``.
    """
    best = _next(ev, lo, zone)
    hi = t
    while hi - lo > 1:
        mid = (lo + hi) // 2
        n = _next(ev, mid, zone)
        if n is not None and n <= t:
            lo, best = mid, n
        else:
            hi = mid
    return best if best is not None else lo


def _walk_back(
    ev: CalendarEvent, zone: ZoneInfo | None, t: int, ref: int, local: bool
) -> int | None:
    """Last event <= t of the chain started in growing windows before ``ref``."""
    single: int | None = None
    for w in _windows(_quirk_span(ev), ref - _MIN_T):
        a = max(ref - w, _MIN_T)
        cur = _next(ev, a, zone)
        if cur is not None and cur <= t:
            n_events = 1
            while True:
                nxt = _next(ev, cur, zone)
                if nxt is None or nxt > t:
                    break
                cur = nxt
                n_events += 1
                if n_events > _WALK_CAP:
                    # a dense burst: jump close to t, then walk from a bit before there
                    near = _latest_reachable(ev, zone, cur, t)
                    return near if local else _walk_back(ev, zone, t, near, True)
            if n_events >= 2 or cur == single:
                return cur
            single = cur  # a lone event: confirm it with a wider window
        if a == _MIN_T:
            break
    return single


def _repeated_hour_start(zone: ZoneInfo, p: int) -> int | None:
    """If ``p``'s local time also occurred earlier (clocks went back), when that began."""
    off = _offset(zone, p)[0]
    try:
        naive = datetime(1970, 1, 1) + timedelta(seconds=p + off)
        first = int(naive.replace(tzinfo=zone, fold=0).timestamp())
    except (OverflowError, ValueError, OSError):
        return None
    if first >= p or first + _offset(zone, first)[0] != p + off:
        return None
    lo, hi = first, p  # offset(lo) != off, offset(hi) == off
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(zone, mid)[0] == off:
            hi = mid
        else:
            lo = mid
    return hi


def previous_event(ev: CalendarEvent | str, at_or_before: int, tz: str) -> int | None:
    """The latest event at or before ``at_or_before``, or ``None`` (none since year 0).

    An event is an instant the scheduler fires at when it chains ``compute_next_event``
    from the past.  The chain is walked from windows of growing size before ``t`` (at
    least one period of the schedule, see :func:`_quirk_span`) until two events confirm
    it, or a wider window finds the same lone event.  When clocks go back, the repeated
    hour is only part of the chain if the second before it was an event (a local time
    that occurs twice fires once).  ``t`` itself counts when ``next_event(t - 1) == t``,
    so ``previous_event(next_event(x)) == next_event(x)``.
    """
    event = _as_event(ev)
    zone = _zone_for(event, tz)
    t = int(at_or_before)
    if _next(event, t - 1, zone) == t:
        return t
    p = _walk_back(event, zone, t, t, False)
    for _ in range(4):
        if p is None or zone is None:
            break
        start = _repeated_hour_start(zone, p)
        if start is None or _next(event, start - 2, zone) == start - 1:
            break
        p = _walk_back(event, zone, start - 1, start - 1, False)
    return p
