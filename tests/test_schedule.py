"""Behaviour of ``pve_backup_report.pve.schedule`` (pve-facts §4; upstream vectors live in
``test_schedule_vectors.py``).  Expected instants were checked against the upstream
``proxmox-time`` algorithm built against glibc (see that module's docstring)."""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pve_backup_report.pve.schedule import (
    CalendarEvent,
    DateTimeValue,
    ScheduleError,
    next_event,
    parse_event,
    previous_event,
)
from pve_backup_report.pve.schedule_text import describe, explain

BERLIN = "Europe/Berlin"


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def local(tz: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz), fold=fold).timestamp())


def chain(expr: str, after: int, tz: str, n: int) -> list[int]:
    out: list[int] = []
    for _ in range(n):
        nxt = next_event(expr, after, tz)
        if nxt is None:
            break
        out.append(nxt)
        after = nxt
    return out


# --- parsing ----------------------------------------------------------------------------


def test_parse_result_is_frozen_and_cached() -> None:
    ev = parse_event("mon..fri 02:00")
    assert isinstance(ev, CalendarEvent)
    assert ev.days == 0b0011111
    assert ev.hour == (DateTimeValue(2),)
    assert ev.minute == (DateTimeValue(0),)
    assert ev.second == (DateTimeValue(0),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.utc = True  # type: ignore[misc]
    assert parse_event("mon..fri 02:00") is ev


def test_parse_trims_like_pve() -> None:
    assert parse_event("  21:00\n").hour == (DateTimeValue(21),)
    with pytest.raises(ScheduleError, match=r"^unable to parse calendar event - event is empty$"):
        parse_event(" \t ")


def test_schedule_error_is_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)


def test_bare_number_is_a_minute() -> None:
    ev = parse_event("22")
    assert ev.hour == ()  # every hour
    assert ev.minute == (DateTimeValue(22),)


def test_24_00_is_minute_24() -> None:
    ev = parse_event("24:00")
    assert ev.hour == ()
    assert ev.minute == (DateTimeValue(24),)
    assert ev.second == (DateTimeValue(0),)


def test_repetitions_and_ranges() -> None:
    assert parse_event("*/15").minute == (DateTimeValue(0, None, 15),)
    assert parse_event("*-*/3-1").month == (DateTimeValue(1, None, 3),)  # */R starts at 1
    assert parse_event("8..17/2:0").hour == (DateTimeValue(8, 17, 2),)
    assert parse_event("5/0").minute == (DateTimeValue(5, None, 0),)  # parses, only 5
    assert next_event("5/0", utc(2024, 1, 1), "UTC") == utc(2024, 1, 1, 0, 5)
    assert next_event("5/0", utc(2024, 1, 1, 0, 5), "UTC") == utc(2024, 1, 1, 1, 5)


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        ("fri..mon", 0b1110001),
        ("sun..sat", 0b1111111),
        ("sat..sun", 0b1100000),
        ("wed,mon..tue,fri", 0b0010111),
        ("MONDAY", 0b0000001),
    ],
)
def test_weekday_ranges_wrap(expr: str, days: int) -> None:
    assert parse_event(expr).days == days


@pytest.mark.parametrize("expr", ["12:00 UTC", "12:00UTC", "12:00   UTC", "daily UTC"])
def test_utc_suffix(expr: str) -> None:
    assert parse_event(expr).utc


@pytest.mark.parametrize(
    ("expr", "month", "day", "days"),
    [
        ("weekly", (), (), 1),
        ("monthly", (), (1,), 0),
        ("yearly", (1,), (1,), 0),
        ("annually", (1,), (1,), 0),
        ("quarterly", (1, 4, 7, 10), (1,), 0),
        ("semiannually", (1, 7), (1,), 0),
        ("semi-annually", (1, 7), (1,), 0),
    ],
)
def test_keywords(expr: str, month: tuple[int, ...], day: tuple[int, ...], days: int) -> None:
    ev = parse_event(expr)
    assert ev.keyword == expr
    assert ev.month == tuple(DateTimeValue(m) for m in month)
    assert ev.day == tuple(DateTimeValue(d) for d in day)
    assert ev.days == days
    assert ev.hour == ev.minute == ev.second == (DateTimeValue(0),)


def test_minutely_and_hourly_keywords() -> None:
    assert parse_event("minutely").second == (DateTimeValue(0),)
    assert parse_event("minutely").minute == ()
    assert parse_event("hourly").minute == (DateTimeValue(0),)
    assert parse_event("hourly").hour == ()


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("daily 02:00", "unable to parse calendar event at 'daily' - Context(\"weekday\")"),
        ("mon-fri", "unable to parse calendar event at '-fri' - Nom(Eof)"),
        ("12:00 utc", "unable to parse calendar event at ' utc' - Nom(Eof)"),
        ("*/0", "unable to parse calendar event at '/0' - Nom(Eof)"),
        (
            "10..2",
            "unable to parse calendar event at '10..2' - Context(\"date or time specification\")",
        ),
    ],
)
def test_parse_errors_keep_proxmox_text(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_event(expr)
    assert str(err.value) == message


def test_invalid_time_zone() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        next_event("daily", 0, "Mars/Olympus")


# --- next_event -------------------------------------------------------------------------


def test_next_is_strictly_after() -> None:
    t = utc(2024, 1, 1, 21)
    assert next_event("21:00", t - 1, "UTC") == t
    assert next_event("21:00", t, "UTC") == t + 86400


def test_weekdays_and_dates_must_both_match() -> None:
    # the 1st of a month that is a Monday: 2024-01-01, then 2024-04-01
    assert chain("mon 2024-*-01 03:00", utc(2023, 12, 1), "UTC", 3) == [
        utc(2024, 1, 1, 3),
        utc(2024, 4, 1, 3),
        utc(2024, 7, 1, 3),
    ]


def test_dst_spring_forward_skips_the_missing_time() -> None:
    # pve-facts §4.2: 02:30 does not exist on 2024-03-31 in Europe/Berlin
    got = chain("02:30", local(BERLIN, 2024, 3, 30, 12), BERLIN, 2)
    assert got == [local(BERLIN, 2024, 4, 1, 2, 30), local(BERLIN, 2024, 4, 2, 2, 30)]


def test_dst_fall_back_fires_once_at_first_occurrence() -> None:
    # pve-facts §4.2: 02:30 on 2024-10-27 fires at 00:30Z, not again at 01:30Z
    got = chain("02:30", local(BERLIN, 2024, 10, 26, 12), BERLIN, 2)
    assert got == [utc(2024, 10, 27, 0, 30), local(BERLIN, 2024, 10, 28, 2, 30)]


def test_daily_follows_local_midnight() -> None:
    got = chain("daily", local(BERLIN, 2024, 3, 30, 12), BERLIN, 3)
    assert got == [
        utc(2024, 3, 30, 23),  # 00:00 CET
        utc(2024, 3, 31, 22),  # 00:00 CEST
        utc(2024, 4, 1, 22),
    ]


def test_utc_suffix_ignores_the_zone() -> None:
    t = utc(2024, 6, 1)
    assert next_event("02:00 UTC", t, BERLIN) == utc(2024, 6, 1, 2)
    assert next_event("02:00", t, BERLIN) == utc(2024, 6, 2, 0)  # 02:00 CEST


def test_minutely_skips_the_repeated_hour() -> None:
    # upstream jumps from 02:59 CEST straight to 03:00 CET
    assert next_event("*", utc(2024, 10, 27, 0, 59), BERLIN) == utc(2024, 10, 27, 2)


def test_open_repetition_quirks() -> None:
    # find_next is not bounded by the field: */7 jumps from :56 to :63 = next hour :03,
    # so the chain never fires at minute 00; "1,31" skips 2023-03-01.
    assert chain("*/7", utc(2024, 1, 1, 0, 50), "UTC", 2) == [
        utc(2024, 1, 1, 0, 56),
        utc(2024, 1, 1, 1, 7),
    ]
    assert chain("*-*-1,31", utc(2023, 2, 15), "UTC", 2) == [utc(2023, 3, 31), utc(2023, 4, 1)]


def test_never_cases() -> None:
    assert next_event("2021-02-29", 0, "UTC") is None
    assert next_event("*-0-1", 0, "UTC") is None  # month 0 parses, never matches
    assert next_event("*-*-0", 0, "UTC") is None
    assert next_event("2015-10-21", utc(2020, 1, 1), "UTC") is None


def test_leap_day_weekday_search_stays_within_budget() -> None:
    # Monday Feb 29: 2016, then 2044 (found well within 1000 adjustments)
    assert next_event("mon *-02-29", utc(2016, 3, 1), "UTC") == utc(2044, 2, 29)


def test_negative_dst_dublin_stays_strictly_increasing() -> None:
    # Europe/Dublin's tzdata has winter as the "DST" period; glibc then resolves times in
    # the spring gap backwards and upstream returns `last` again.  We resolve forwards.
    t = utc(2024, 3, 31)  # 00:00 GMT, the day clocks go forward at 01:00
    assert next_event("daily", t - 1, "Europe/Dublin") == t
    assert next_event("daily", t, "Europe/Dublin") == utc(2024, 3, 31, 23)  # 00:00 IST


# --- previous_event ---------------------------------------------------------------------


def test_previous_basic() -> None:
    now = utc(2024, 1, 3, 12)
    assert previous_event("21:00", now, "UTC") == utc(2024, 1, 2, 21)
    assert previous_event("mon..fri 02:00", utc(2024, 1, 7, 12), "UTC") == utc(2024, 1, 5, 2)
    assert previous_event("*/15", utc(2024, 1, 3, 12, 7), "UTC") == utc(2024, 1, 3, 12)
    assert previous_event("monthly", now, "UTC") == utc(2024, 1, 1)
    assert previous_event("yearly", now, "UTC") == utc(2024, 1, 1)
    assert previous_event("sat 03:00", now, BERLIN) == local(BERLIN, 2023, 12, 30, 3)


def test_previous_includes_an_event_at_t() -> None:
    t = utc(2024, 1, 2, 21)
    assert previous_event("21:00", t, "UTC") == t
    assert previous_event("21:00", t - 1, "UTC") == t - 86400


def test_previous_never_and_once() -> None:
    assert previous_event("02-30", utc(2024, 1, 1), "UTC") is None
    assert previous_event("2199-12-31", utc(2024, 1, 1), "UTC") is None
    assert previous_event("2015-10-21", utc(2024, 1, 1), "UTC") == utc(2015, 10, 21)
    assert previous_event("1970-01-01", utc(2024, 1, 1), "UTC") == 0


def test_previous_fall_back_is_the_first_occurrence() -> None:
    # 02:30 fired at 00:30Z on 2024-10-27; the repeated 02:30 (01:30Z) is not an event
    assert previous_event("02:30", local(BERLIN, 2024, 10, 27, 12), BERLIN) == utc(
        2024, 10, 27, 0, 30
    )
    assert previous_event("*/15", utc(2024, 10, 27, 1, 40), BERLIN) == utc(2024, 10, 27, 0, 45)


def test_previous_follows_the_scheduler_chain() -> None:
    # */7 never fires at minute 00 when chained
    assert previous_event("*/7", utc(2024, 1, 1, 1, 0, 30), "UTC") == utc(2024, 1, 1, 0, 56)
    # 1,31: after 2023-02-01 the chain goes to 2023-03-31
    assert previous_event("*-*-1,31", utc(2023, 3, 20), "UTC") == utc(2023, 2, 1)


def test_previous_dense_burst_far_back() -> None:
    assert previous_event("2024-01-01 *:*", utc(2024, 6, 1), "UTC") == utc(2024, 1, 1, 23, 59)


# --- describe ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "en", "fr"),
    [
        ("21:00", "every day at 21:00", "tous les jours à 21:00"),
        ("mon..fri 02:00", "Mon-Fri at 02:00", "du lundi au vendredi à 02:00"),
        ("*/15", "every 15 minutes", "toutes les 15 minutes"),
        ("sun 03:00", "Sun at 03:00", "le dimanche à 03:00"),
        ("monthly", "on the 1st of each month at 00:00", "le 1er de chaque mois à 00:00"),
        ("daily", "every day at 00:00", "tous les jours à 00:00"),
        ("hourly", "every hour", "toutes les heures"),
        ("minutely", "every minute", "toutes les minutes"),
        ("sat,sun 01:30", "Sat, Sun at 01:30", "le samedi et le dimanche à 01:30"),
        ("fri..mon 03:00", "Fri-Mon at 03:00", "du vendredi au lundi à 03:00"),
        (
            "mon..fri 22",
            "Mon-Fri, every hour at minute 22",
            "du lundi au vendredi, toutes les heures à la minute 22",
        ),
        ("2015-10-21", "on 2015-10-21 at 00:00", "le 2015-10-21 à 00:00"),
        (
            "quarterly",
            "on the 1st of Jan, Apr, Jul and Oct at 00:00",
            "le 1er janvier, avril, juillet et octobre à 00:00",
        ),
        ("02:30 UTC", "every day at 02:30 (UTC)", "tous les jours à 02:30 (UTC)"),
        ("02-30", "never", "jamais"),
    ],
)
def test_describe(expr: str, en: str, fr: str) -> None:
    assert describe(expr) == en
    assert describe(expr, lang="fr") == fr
    assert describe(parse_event(expr), "en") == en


def test_describe_rejects_unknown_language_and_bad_expr() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        describe("daily", lang="de")
    with pytest.raises(ScheduleError):
        describe("daily 02:00")


# --- explain ----------------------------------------------------------------------------


def test_explain() -> None:
    now = local(BERLIN, 2024, 3, 29, 12)
    out = explain("02:30", now, BERLIN, 3)
    assert out == {
        "expr": "02:30",
        "description": "every day at 02:30",
        "next": [
            local(BERLIN, 2024, 3, 30, 2, 30),
            local(BERLIN, 2024, 4, 1, 2, 30),
            local(BERLIN, 2024, 4, 2, 2, 30),
        ],
        "previous": local(BERLIN, 2024, 3, 29, 2, 30),
    }
    assert json.loads(json.dumps(out)) == out
    assert explain("02:30", now, BERLIN, 1, lang="fr")["description"] == "tous les jours à 02:30"


def test_explain_never_and_zero_count() -> None:
    out = explain("2015-10-21", utc(2024, 1, 1), "UTC", 5)
    assert out["next"] == []
    assert out["previous"] == utc(2015, 10, 21)
    assert explain("daily", 0, "UTC", 0)["next"] == []
    with pytest.raises(ValueError):
        explain("daily", 0, "UTC", -1)
    with pytest.raises(ScheduleError, match="Context"):
        explain("daily 02:00", 0, "UTC", 1)


# --- properties -------------------------------------------------------------------------

ZONES = ["UTC", BERLIN, "America/New_York", "Australia/Lord_Howe", "Europe/Dublin"]


def _item(hi: int) -> st.SearchStrategy[str]:
    n = st.integers(0, hi - 1)
    return st.one_of(
        n.map(str),
        st.tuples(n, n).map(lambda p: f"{min(p)}..{max(p)}"),
        st.tuples(n, st.integers(0, hi - 1)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.integers(1, hi - 1).map(lambda r: f"*/{r}"),
        st.just("*"),
    )


def _list(hi: int) -> st.SearchStrategy[str]:
    return st.lists(_item(hi), min_size=1, max_size=3).map(",".join)


_weekday = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
_weekdays = st.lists(
    st.one_of(_weekday, st.tuples(_weekday, _weekday).map(lambda p: f"{p[0]}..{p[1]}")),
    min_size=1,
    max_size=3,
).map(",".join)
_date = st.one_of(
    st.tuples(_list(13), _list(32)).map(lambda p: f"{p[0]}-{p[1]}"),
    st.tuples(st.integers(2000, 2040), _list(13), _list(32)).map(lambda p: f"{p[0]}-{p[1]}-{p[2]}"),
)
_time = st.one_of(
    _list(60),
    st.tuples(_list(24), _list(60)).map(lambda p: f"{p[0]}:{p[1]}"),
    st.tuples(_list(24), _list(60), _list(60)).map(lambda p: f"{p[0]}:{p[1]}:{p[2]}"),
)
_keyword = st.sampled_from(
    ["minutely", "hourly", "daily", "weekly", "monthly", "yearly", "quarterly", "semiannually"]
)
EXPRESSIONS = st.one_of(
    _keyword,
    st.tuples(
        st.one_of(st.none(), _weekdays), st.one_of(st.none(), _date), st.one_of(st.none(), _time)
    )
    .filter(lambda p: any(x is not None for x in p))
    .map(lambda p: " ".join(x for x in p if x is not None)),
).flatmap(lambda e: st.sampled_from([e, e + " UTC"]))
TIMES = st.integers(0, 2_100_000_000)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_only_raises_schedule_error(text: str) -> None:
    try:
        ev = parse_event(text)
    except ScheduleError:
        return
    assert isinstance(describe(ev), str)


@given(st.text(alphabet="0123456789*/.,:- UTCmonfriSAT", max_size=24))
@settings(max_examples=300, deadline=None)
def test_grammar_like_text_only_raises_schedule_error(text: str) -> None:
    with contextlib.suppress(ScheduleError):
        parse_event(text)


@given(EXPRESSIONS, TIMES, st.sampled_from(ZONES))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_next_previous_properties(expr: str, t: int, tz: str) -> None:
    try:
        ev = parse_event(expr)
    except ScheduleError:
        assume(False)  # "*" cannot start a list ("*,5"): the generator is looser than PVE
        return
    events = chain(expr, t, tz, 3)
    assert all(a < b for a, b in zip([t, *events], events, strict=False))
    if events:
        assert previous_event(ev, events[0], tz) == events[0]
    prev = previous_event(ev, t, tz)
    if prev is not None:
        assert prev <= t
        assert next_event(ev, prev - 1, tz) == prev
    assert describe(ev, "en") and describe(ev, "fr")
