"""Calendar-event vectors: upstream test suites, the docs, and the upstream algorithm itself.

Sources (see pve-facts §4.4):

* proxmox/proxmox-rs ``proxmox-time/src/test.rs`` (``test_compute_next_event``,
  ``test_never``, ``test_calendar_event_weekday``); every expression is evaluated in UTC
  (upstream appends `` UTC`` / passes ``utc = true``).
* proxmox/pve-common ``test/calendar_event_test.pl`` (runs with TZ=UTC, plus the
  Europe/Vienna 2018-10-28 checks).  Its error cases assert nothing specific upstream;
  here they are checked against the Rust parser's texts.
* proxmox/pve-docs ``calendar-events.adoc`` examples (pve-facts §4.3 table).
* ``ORACLE_VECTORS`` / ``PARSE_VECTORS``: produced by compiling the upstream
  ``proxmox-time`` parser and ``compute_next_event`` (``calendar_event.rs``,
  ``date_time_value.rs``, ``week_days.rs``, ``parse_helpers.rs``, ``tm_editor.rs``, nom 7)
  against glibc 2.36, with ``TZ`` set per zone and glibc's ``mktime`` offset guess primed
  with the offset at the search start.  Each row: expression, zone, ``last``, and the
  chained results of ``compute_next_event`` (up to three; shorter means "no event").
"""

from __future__ import annotations

import calendar

import pytest

from pve_backup_report.pve.schedule import ScheduleError, next_event, parse_event

MIN = 60
HOUR = 3600
DAY = 86400
THURSDAY_00_00 = 0
THURSDAY_15_00 = 15 * HOUR
JUL_31_2020 = 1596153600  # Friday, 2020-07-31 00:00:00 UTC
DEC_31_2020 = 1609372800  # Thursday, 2020-12-31 00:00:00 UTC

# --- proxmox-time src/test.rs: test_compute_next_event ---------------------------------
RS_NEXT = [
    ("0", THURSDAY_00_00, THURSDAY_00_00 + HOUR),
    ("*", THURSDAY_00_00, THURSDAY_00_00 + MIN),
    ("*:0", THURSDAY_00_00, THURSDAY_00_00 + HOUR),
    ("*:*", THURSDAY_00_00, THURSDAY_00_00 + MIN),
    ("*:*:*", THURSDAY_00_00, THURSDAY_00_00 + 1),
    ("*:3:5", THURSDAY_00_00, THURSDAY_00_00 + 3 * MIN + 5),
    ("mon *:*", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY),
    ("mon 2:*", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY + 2 * HOUR),
    ("mon 2:50", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY + 2 * HOUR + 50 * MIN),
    ("tue", THURSDAY_00_00, THURSDAY_00_00 + 5 * DAY),
    ("wed", THURSDAY_00_00, THURSDAY_00_00 + 6 * DAY),
    ("thu", THURSDAY_00_00, THURSDAY_00_00 + 7 * DAY),
    ("fri", THURSDAY_00_00, THURSDAY_00_00 + 1 * DAY),
    ("sat", THURSDAY_00_00, THURSDAY_00_00 + 2 * DAY),
    ("sun", THURSDAY_00_00, THURSDAY_00_00 + 3 * DAY),
    ("4..10/2:0", THURSDAY_00_00, THURSDAY_00_00 + 4 * HOUR),
    ("4..10/2:0", THURSDAY_00_00 + 5 * HOUR, THURSDAY_00_00 + 6 * HOUR),
    ("4..10/2:0", THURSDAY_00_00 + 11 * HOUR, THURSDAY_00_00 + 1 * DAY + 4 * HOUR),
    ("5,10:4,8", THURSDAY_00_00, THURSDAY_00_00 + 5 * HOUR + 4 * MIN),
    ("10,5:8,4", THURSDAY_00_00, THURSDAY_00_00 + 5 * HOUR + 4 * MIN),
    ("6,4..10:23,5/5", THURSDAY_00_00, THURSDAY_00_00 + 4 * HOUR + 5 * MIN),
    ("4..10,6:5/5,23", THURSDAY_00_00, THURSDAY_00_00 + 4 * HOUR + 5 * MIN),
    ("sat", JUL_31_2020, JUL_31_2020 + 1 * DAY),
    ("sun", JUL_31_2020, JUL_31_2020 + 2 * DAY),
    ("mon", JUL_31_2020, JUL_31_2020 + 3 * DAY),
    ("tue", JUL_31_2020, JUL_31_2020 + 4 * DAY),
    ("wed", JUL_31_2020, JUL_31_2020 + 5 * DAY),
    ("thu", JUL_31_2020, JUL_31_2020 + 6 * DAY),
    ("fri", JUL_31_2020, JUL_31_2020 + 7 * DAY),
    ("fri", DEC_31_2020, DEC_31_2020 + 1 * DAY),
    ("sat", DEC_31_2020, DEC_31_2020 + 2 * DAY),
    ("sun", DEC_31_2020, DEC_31_2020 + 3 * DAY),
    ("mon", DEC_31_2020, DEC_31_2020 + 4 * DAY),
    ("tue", DEC_31_2020, DEC_31_2020 + 5 * DAY),
    ("wed", DEC_31_2020, DEC_31_2020 + 6 * DAY),
    ("thu", DEC_31_2020, DEC_31_2020 + 7 * DAY),
    ("daily", THURSDAY_00_00, THURSDAY_00_00 + DAY),
    ("daily", THURSDAY_00_00 + 1, THURSDAY_00_00 + DAY),
    ("2020-07-31", 0, JUL_31_2020),
    ("02-28", 0, (31 + 27) * DAY),
    ("02-29", 0, 2 * 365 * DAY + (31 + 28) * DAY),  # 1972-02-29
    ("1965/5-01-01", -1, THURSDAY_00_00),
    ("2020-7..9-2/2", JUL_31_2020, JUL_31_2020 + 2 * DAY),
    ("2020,2021-12-31", JUL_31_2020, DEC_31_2020),
    ("monthly", 0, 31 * DAY),
    ("quarterly", 0, (31 + 28 + 31) * DAY),
    ("semiannually", 0, (31 + 28 + 31 + 30 + 31 + 30) * DAY),
    ("yearly", 0, 365 * DAY),
]


@pytest.mark.parametrize(("expr", "last", "expected"), RS_NEXT)
def test_rs_compute_next_event(expr: str, last: int, expected: int) -> None:
    # upstream evaluates with " UTC"; the zone passed here must then not matter
    assert next_event(expr + " UTC", last, "America/New_York") == expected
    assert next_event(expr, last, "UTC") == expected


def _chain(expr: str, last: int, n: int, tz: str = "UTC") -> list[int]:
    out: list[int] = []
    for _ in range(n):
        nxt = next_event(expr, last, tz)
        assert nxt is not None
        out.append(nxt)
        last = nxt
    return out


def test_rs_chained_loops() -> None:
    # test.rs: "5/2:0" chained, then "*:*", "*:0" and "1:0" 99 times each
    assert _chain("5/2:0 UTC", THURSDAY_00_00, 4) == [
        THURSDAY_00_00 + h * HOUR for h in (5, 7, 9, 11)
    ]
    assert _chain("*:* UTC", THURSDAY_00_00, 99) == [
        THURSDAY_00_00 + i * MIN for i in range(1, 100)
    ]
    assert _chain("*:0 UTC", THURSDAY_00_00, 99) == [
        THURSDAY_00_00 + i * HOUR for i in range(1, 100)
    ]
    assert _chain("1:0 UTC", THURSDAY_15_00, 99) == [
        THURSDAY_00_00 + i * DAY + HOUR for i in range(1, 100)
    ]


@pytest.mark.parametrize("expr", ["2021-02-29", "02-30"])
def test_rs_never(expr: str) -> None:
    parse_event(expr)  # parses fine ...
    assert next_event(expr + " UTC", 0, "UTC") is None  # ... but never fires


@pytest.mark.parametrize(
    "expr",
    [
        "mon,wed..fri",
        "fri..mon",
        "mon",
        "MON",
        "monDay",
        "tue",
        "Tuesday",
        "wed",
        "wednesday",
        "thu",
        "thursday",
        "fri",
        "friday",
        "sat",
        "saturday",
        "sun",
        "sunday",
        "mon..fri",
        "mon,tue,fri",
        "mon,tue..wednesday,fri..sat",
    ],
)
def test_rs_weekday_forms_parse(expr: str) -> None:
    # test.rs test_calendar_event_weekday: parse-only
    ev = parse_event(expr)
    assert ev.days != 0


# --- pve-common test/calendar_event_test.pl (TZ=UTC) -----------------------------------
PVE_NEXT = [
    ("*", [(0, 60), (30, 60), (59, 60), (60, 120)]),
    ("*/10", [(0, 600), (599, 600), (600, 1200), (50 * 60, 60 * 60)]),
    ("*/12:0", [(10, 43200), (13 * 3600, 24 * 3600)]),
    (
        "1/12:0/15",
        [
            (0, 3600),
            (3600, 3600 + 15 * 60),
            (3600 + 16 * 60, 3600 + 30 * 60),
            (3600 + 30 * 60, 3600 + 45 * 60),
            (3600 + 45 * 60, 3600 + 12 * 3600),
            (13 * 3600 + 1, 13 * 3600 + 15 * 60),
            (13 * 3600 + 15 * 60, 13 * 3600 + 30 * 60),
            (13 * 3600 + 30 * 60, 13 * 3600 + 45 * 60),
            (13 * 3600 + 45 * 60, 25 * 3600),
        ],
    ),
    ("1,4,6", [(0, 60), (60, 4 * 60), (4 * 60 + 60, 6 * 60), (6 * 60, 3600 + 60)]),
    ("Mon", [(0, 4 * 86400), (4 * 86400, 11 * 86400), (11 * 86400, 18 * 86400)]),
    ("sat..sun", [(0, 2 * 86400), (2 * 86400, 3 * 86400), (3 * 86400, 9 * 86400)]),
    ("22/1:0", [(0, 22 * 3600), (22 * 3600, 23 * 3600), (22 * 3600 + 59 * 60, 23 * 3600)]),
    ("*/2:*", [(0, 60), (60 * 60, 2 * 60 * 60), (2 * 60 * 60, 2 * 60 * 60 + 60)]),
    (
        "20..22:*/30",
        [(0, 20 * 3600), (20 * 3600, 20 * 3600 + 30 * 60), (22 * 3600 + 30 * 60, 44 * 3600)],
    ),
    ("0,1,3..5", [(0, 60), (60, 3 * 60), (5 * 60, 60 * 60)]),
    (
        "2,4:0,1,3..5",
        [(0, 2 * 3600), (2 * 3600 + 60, 2 * 3600 + 3 * 60), (2 * 3600 + 5 * 60, 4 * 3600)],
    ),
]


@pytest.mark.parametrize(("expr", "pairs"), PVE_NEXT)
def test_pve_common_next(expr: str, pairs: list[tuple[int, int]]) -> None:
    for last, expected in pairs:
        assert next_event(expr, last, "UTC") == expected, (expr, last)


@pytest.mark.parametrize(
    "expr", ["0..3", "23..23:0..3", "sun..sat", "wed,mon..tue,fri", "mon */15"]
)
def test_pve_common_parse_only(expr: str) -> None:
    parse_event(expr)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        # pve-common expects an error for these; the texts are the Rust parser's
        ("61", "unable to parse calendar event at '61' - Context(\"date or time specification\")"),
        (
            "*/61",
            "unable to parse calendar event at '*/61' - Context(\"date or time specification\")",
        ),
        ("0..80", "unable to parse calendar event at '..80' - Nom(Eof)"),
        (" mon 0 0 0", "unable to parse calendar event at ' 0 0' - Nom(Eof)"),
        ("", "unable to parse calendar event - event is empty"),
        (" mon 0 0", "unable to parse calendar event at ' 0' - Nom(Eof)"),
    ],
)
def test_pve_common_errors(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_event(expr)
    assert str(err.value) == message


def test_pve_common_fri_mon_is_valid_in_rust() -> None:
    # listed as an error in the Perl-era test, valid (wrapping) in the Rust parser
    ev = parse_event("Fri..Mon")
    assert ev.days == 0b1110001  # fri, sat, sun, mon


def _timelocal(tz: str, y: int, mo: int, d: int, h: int = 0) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return int(datetime(y, mo, d, h, tzinfo=ZoneInfo(tz)).timestamp())


def test_pve_common_vienna_dst_2018() -> None:
    # "Test loop termination at CEST/CET switch"
    utc_start = calendar.timegm((2018, 10, 28, 0, 0, 0))
    assert next_event("mon..fri", utc_start, "UTC") == calendar.timegm((2018, 10, 29, 0, 0, 0))
    assert next_event("mon..fri UTC", utc_start, "UTC") == calendar.timegm((2018, 10, 29, 0, 0, 0))
    vienna_start = _timelocal("Europe/Vienna", 2018, 10, 28)
    assert next_event("mon..fri", vienna_start, "Europe/Vienna") == _timelocal(
        "Europe/Vienna", 2018, 10, 29
    )
    # with UTC in the spec the result, seen locally, is shifted by one hour
    assert next_event("mon..fri UTC", vienna_start, "Europe/Vienna") == _timelocal(
        "Europe/Vienna", 2018, 10, 29, 1
    )


# --- pve-docs calendar-events.adoc examples (pve-facts §4.3) ---------------------------
MON_2024_01_01 = calendar.timegm((2024, 1, 1, 0, 0, 0))  # a Monday


def _utc(*fields: int) -> int:
    return calendar.timegm((*fields, 0, 0, 0, 0)[:6])


DOC_EXAMPLES = [
    ("mon,tue,wed,thu,fri", [_utc(2024, 1, 2), _utc(2024, 1, 3), _utc(2024, 1, 4)]),
    ("mon..fri", [_utc(2024, 1, 2), _utc(2024, 1, 3), _utc(2024, 1, 4)]),
    ("sat,sun", [_utc(2024, 1, 6), _utc(2024, 1, 7), _utc(2024, 1, 13)]),
    ("sat..sun", [_utc(2024, 1, 6), _utc(2024, 1, 7), _utc(2024, 1, 13)]),
    ("mon,wed,fri", [_utc(2024, 1, 3), _utc(2024, 1, 5), _utc(2024, 1, 8)]),
    ("12:05", [_utc(2024, 1, 1, 12, 5), _utc(2024, 1, 2, 12, 5), _utc(2024, 1, 3, 12, 5)]),
    ("*/5", [MON_2024_01_01 + 300, MON_2024_01_01 + 600, MON_2024_01_01 + 900]),
    ("0/5", [MON_2024_01_01 + 300, MON_2024_01_01 + 600, MON_2024_01_01 + 900]),
    ("mon..wed 30/10", [_utc(2024, 1, 1, 0, 30), _utc(2024, 1, 1, 0, 40), _utc(2024, 1, 1, 0, 50)]),
    (
        "mon,tue,wed 30/10",
        [_utc(2024, 1, 1, 0, 30), _utc(2024, 1, 1, 0, 40), _utc(2024, 1, 1, 0, 50)],
    ),
    (
        "mon..fri 8..17,22:0/15",
        [_utc(2024, 1, 1, 8), _utc(2024, 1, 1, 8, 15), _utc(2024, 1, 1, 8, 30)],
    ),
    (
        "fri 12..13:5/20",
        [_utc(2024, 1, 5, 12, 5), _utc(2024, 1, 5, 12, 25), _utc(2024, 1, 5, 12, 45)],
    ),
    (
        "fri 12,13:5/20",
        [_utc(2024, 1, 5, 12, 5), _utc(2024, 1, 5, 12, 25), _utc(2024, 1, 5, 12, 45)],
    ),
    (
        "12,14,16,18,20,22:5",
        [_utc(2024, 1, 1, 12, 5), _utc(2024, 1, 1, 14, 5), _utc(2024, 1, 1, 16, 5)],
    ),
    ("12/2:5", [_utc(2024, 1, 1, 12, 5), _utc(2024, 1, 1, 14, 5), _utc(2024, 1, 1, 16, 5)]),
    ("*", [MON_2024_01_01 + 60, MON_2024_01_01 + 120, MON_2024_01_01 + 180]),
    ("*/1", [MON_2024_01_01 + 60, MON_2024_01_01 + 120, MON_2024_01_01 + 180]),
    ("*-05", [_utc(2024, 1, 5), _utc(2024, 2, 5), _utc(2024, 3, 5)]),
    ("Sat *-1..7 15:00", [_utc(2024, 1, 6, 15), _utc(2024, 2, 3, 15), _utc(2024, 3, 2, 15)]),
    # other schedules checked in pve-facts §4.3
    ("mon..fri 02:00", [_utc(2024, 1, 1, 2), _utc(2024, 1, 2, 2), _utc(2024, 1, 3, 2)]),
    ("sat 10:30", [_utc(2024, 1, 6, 10, 30), _utc(2024, 1, 13, 10, 30), _utc(2024, 1, 20, 10, 30)]),
    ("0/2", [MON_2024_01_01 + 120, MON_2024_01_01 + 240, MON_2024_01_01 + 360]),
    ("*/15", [MON_2024_01_01 + 900, MON_2024_01_01 + 1800, MON_2024_01_01 + 2700]),
    ("2024-*-01", [_utc(2024, 2, 1), _utc(2024, 3, 1), _utc(2024, 4, 1)]),
    ("21:00", [_utc(2024, 1, 1, 21), _utc(2024, 1, 2, 21), _utc(2024, 1, 3, 21)]),
    ("*/2:00", [_utc(2024, 1, 1, 2), _utc(2024, 1, 1, 4), _utc(2024, 1, 1, 6)]),
    # a single number is a minute, every hour (the doc text calling it 10 PM is wrong)
    ("mon..fri 22", [_utc(2024, 1, 1, 0, 22), _utc(2024, 1, 1, 1, 22), _utc(2024, 1, 1, 2, 22)]),
    # 24:00 is minute 24 of every hour
    ("24:00", [_utc(2024, 1, 1, 0, 24), _utc(2024, 1, 1, 1, 24), _utc(2024, 1, 1, 2, 24)]),
]


@pytest.mark.parametrize(("expr", "expected"), DOC_EXAMPLES)
def test_doc_examples(expr: str, expected: list[int]) -> None:
    assert _chain(expr, MON_2024_01_01, 3) == expected


def test_doc_once_only() -> None:
    assert next_event("2015-10-21", 0, "UTC") == _utc(2015, 10, 21)
    assert next_event("2015-10-21", _utc(2015, 10, 21), "UTC") is None


# --- the upstream algorithm, run (see module docstring) --------------------------------
ORACLE_VECTORS = [
    ("21:00", "Europe/Berlin", 1711868340, [1711911600, 1711998000, 1712084400]),
    ("21:00", "America/New_York", 1710074220, [1710118800, 1710205200, 1710291600]),
    ("21:00", "Europe/Berlin", 1735627380, [1735675200, 1735761600, 1735848000]),
    ("mon..fri 02:00", "Europe/Berlin", 1730501790, [1730682000, 1730768400, 1730854800]),
    ("mon..fri 02:00", "UTC", 1699879324, [1699927200, 1700013600, 1700100000]),
    ("mon..fri 02:00", "America/Santiago", 1730558557, [1730696400, 1730782800, 1730869200]),
    ("*/15", "UTC", 1710064200, [1710064800, 1710065700, 1710066600]),
    ("*/15", "Australia/Sydney", 1709937643, [1709937900, 1709938800, 1709939700]),
    ("*/15", "Asia/Kolkata", 1729842300, [1729843200, 1729844100, 1729845000]),
    ("sat 03:00", "Asia/Kolkata", 1727524620, [1728077400, 1728682200, 1729287000]),
    ("sat 03:00", "UTC", 1761408120, [1761966000, 1762570800, 1763175600]),
    ("sat 03:00", "America/Santiago", 1729962660, [1730527200, 1731132000, 1731736800]),
    ("daily", "Asia/Kolkata", 1735567206, [1735583400, 1735669800, 1735756200]),
    ("daily", "UTC", 1730643420, [1730678400, 1730764800, 1730851200]),
    ("daily", "Europe/Berlin", 1730667900, [1730674800, 1730761200, 1730847600]),
    ("weekly", "Australia/Sydney", 1761434240, [1761483600, 1762088400, 1762693200]),
    ("weekly", "Europe/Vienna", 1727459520, [1727647200, 1728252000, 1728856800]),
    ("weekly", "Australia/Sydney", 1729977680, [1730034000, 1730638800, 1731243600]),
    ("monthly", "America/New_York", 1710002340, [1711944000, 1714536000, 1717214400]),
    ("monthly", "America/New_York", 1727587348, [1727755200, 1730433600, 1733029200]),
    ("monthly", "UTC", 1730656200, [1733011200, 1735689600, 1738368000]),
    ("yearly", "Asia/Kolkata", 1743107340, [1767205800, 1798741800, 1830277800]),
    ("yearly", "Asia/Kolkata", 1730612580, [1735669800, 1767205800, 1798741800]),
    ("yearly", "Australia/Lord_Howe", 1709950620, [1735650000, 1767186000, 1798722000]),
    ("quarterly", "Australia/Sydney", 1735629110, [1735650000, 1743426000, 1751292000]),
    ("quarterly", "America/Santiago", 1727423893, [1727751600, 1735700400, 1743476400]),
    ("quarterly", "Europe/Vienna", 1699956540, [1704063600, 1711922400, 1719784800]),
    ("semiannually", "UTC", 1729858066, [1735689600, 1751328000, 1767225600]),
    ("semiannually", "America/Santiago", 1735533420, [1735700400, 1751342400, 1767236400]),
    ("semiannually", "Australia/Lord_Howe", 1699893106, [1704027600, 1719754200, 1735650000]),
    ("hourly", "UTC", 1729996706, [1729998000, 1730001600, 1730005200]),
    ("hourly", "Australia/Sydney", 1727395620, [1727398800, 1727402400, 1727406000]),
    ("hourly", "Europe/Vienna", 1761268450, [1761271200, 1761274800, 1761278400]),
    ("minutely", "Australia/Sydney", 1700026920, [1700026980, 1700027040, 1700027100]),
    ("minutely", "Europe/Berlin", 1712463438, [1712463480, 1712463540, 1712463600]),
    ("minutely", "America/New_York", 1709979219, [1709979240, 1709979300, 1709979360]),
    ("02:30", "UTC", 1735601760, [1735612200, 1735698600, 1735785000]),
    ("02:30", "Europe/Berlin", 1727596751, [1727656200, 1727742600, 1727829000]),
    ("02:30", "Australia/Sydney", 1730455980, [1730475000, 1730561400, 1730647800]),
    ("2:00", "Europe/Berlin", 1730009820, [1730077200, 1730163600, 1730250000]),
    ("2:00", "Europe/Berlin", 1700027940, [1700096400, 1700182800, 1700269200]),
    ("2:00", "Australia/Lord_Howe", 1699870440, [1699887600, 1699974000, 1700060400]),
    ("3:00", "America/Santiago", 1730684309, [1730700000, 1730786400, 1730872800]),
    ("3:00", "America/New_York", 1712347393, [1712386800, 1712473200, 1712559600]),
    ("3:00", "Asia/Kolkata", 1761503428, [1761514200, 1761600600, 1761687000]),
    ("1:30", "Europe/Berlin", 1730499660, [1730507400, 1730593800, 1730680200]),
    ("1:30", "UTC", 1735662000, [1735695000, 1735781400, 1735867800]),
    ("1:30", "America/New_York", 1711692610, [1711776600, 1711863000, 1711949400]),
    ("0:30", "UTC", 1730458468, [1730507400, 1730593800, 1730680200]),
    ("0:30", "Asia/Kolkata", 1729952760, [1729969200, 1730055600, 1730142000]),
    ("0:30", "Australia/Lord_Howe", 1730582100, [1730640600, 1730727000, 1730813400]),
    ("*/30", "Australia/Lord_Howe", 1730646480, [1730647800, 1730649600, 1730651400]),
    ("*/30", "America/Santiago", 1730465520, [1730466000, 1730467800, 1730469600]),
    ("*/30", "America/Santiago", 1727477400, [1727478000, 1727479800, 1727481600]),
    ("mon..fri 22", "UTC", 1729833840, [1729837320, 1729840920, 1729844520]),
    ("mon..fri 22", "Asia/Kolkata", 1729883160, [1730055120, 1730058720, 1730062320]),
    ("mon..fri 22", "Australia/Lord_Howe", 1709991780, [1710076920, 1710080520, 1710084120]),
    ("24:00", "Australia/Lord_Howe", 1730670041, [1730672640, 1730676240, 1730679840]),
    ("24:00", "Australia/Lord_Howe", 1699852860, [1699853040, 1699856640, 1699860240]),
    ("24:00", "UTC", 1730060841, [1730064240, 1730067840, 1730071440]),
    ("fri..mon 01:00", "America/New_York", 1709987700, [1710050400, 1710133200, 1710478800]),
    ("fri..mon 01:00", "America/New_York", 1743273720, [1743310800, 1743397200, 1743742800]),
    ("fri..mon 01:00", "America/Santiago", 1711932240, [1711944000, 1712289600, 1712376000]),
    ("sun..sat", "Australia/Lord_Howe", 1712353688, [1712408400, 1712496600, 1712583000]),
    ("sun..sat", "Australia/Lord_Howe", 1709930940, [1709989200, 1710075600, 1710162000]),
    ("sun..sat", "UTC", 1735709668, [1735776000, 1735862400, 1735948800]),
    ("Sat *-1..7 15:00", "Asia/Kolkata", 1711687144, [1712395800, 1714815000, 1717234200]),
    ("Sat *-1..7 15:00", "Europe/Vienna", 1711925862, [1712408400, 1714827600, 1717246800]),
    ("Sat *-1..7 15:00", "Europe/Vienna", 1729973940, [1730556000, 1733580000, 1735999200]),
    ("*-05", "America/New_York", 1743068627, [1743825600, 1746417600, 1749096000]),
    ("*-05", "America/New_York", 1735672620, [1736053200, 1738731600, 1741150800]),
    ("*-05", "Europe/Berlin", 1743209526, [1743804000, 1746396000, 1749074400]),
    ("12,14,16,18,20,22:5", "Asia/Kolkata", 1712296345, [1712298900, 1712306100, 1712313300]),
    ("12,14,16,18,20,22:5", "Asia/Kolkata", 1730510400, [1730529300, 1730536500, 1730543700]),
    ("12,14,16,18,20,22:5", "Australia/Sydney", 1761350483, [1761354300, 1761361500, 1761368700]),
    ("mon..fri 8..17,22:0/15", "Europe/Berlin", 1711794136, [1711951200, 1711952100, 1711953000]),
    ("mon..fri 8..17,22:0/15", "Europe/Berlin", 1729958880, [1730098800, 1730099700, 1730100600]),
    (
        "mon..fri 8..17,22:0/15",
        "Australia/Sydney",
        1710125820,
        [1710126000, 1710126900, 1710127800],
    ),
    ("*/7", "Europe/Berlin", 1730537640, [1730537760, 1730538420, 1730538840]),
    ("*/7", "Australia/Lord_Howe", 1700011620, [1700011680, 1700012100, 1700012520]),
    ("*/7", "UTC", 1699905680, [1699906020, 1699906440, 1699906860]),
    ("*/50", "Europe/Berlin", 1709950500, [1709952600, 1709956200, 1709959800]),
    ("*/50", "Europe/Berlin", 1699867920, [1699869000, 1699872600, 1699876200]),
    ("*/50", "America/New_York", 1727419771, [1727419800, 1727423400, 1727427000]),
    ("*-*-1,31", "Australia/Sydney", 1699955220, [1701349200, 1703941200, 1704027600]),
    ("*-*-1,31", "UTC", 1729984260, [1730332800, 1730419200, 1733011200]),
    ("*-*-1,31", "Australia/Sydney", 1711674900, [1711803600, 1711890000, 1714485600]),
    ("*/2:00", "Europe/Vienna", 1712285157, [1712289600, 1712296800, 1712304000]),
    ("*/2:00", "America/Santiago", 1699829700, [1699830000, 1699837200, 1699844400]),
    ("*/2:00", "Europe/Vienna", 1699836644, [1699837200, 1699844400, 1699851600]),
    ("1/3:15", "Europe/Vienna", 1743070560, [1743077700, 1743088500, 1743099300]),
    ("1/3:15", "Asia/Kolkata", 1711909620, [1711914300, 1711925100, 1711935900]),
    ("1/3:15", "America/New_York", 1729910714, [1729919700, 1729930500, 1729941300]),
    ("0/20:0/20:0/20", "America/Santiago", 1735713240, [1735772400, 1735772420, 1735772440]),
    ("0/20:0/20:0/20", "America/New_York", 1710137106, [1710201600, 1710201620, 1710201640]),
    ("0/20:0/20:0/20", "Europe/Vienna", 1743043680, [1743102000, 1743102020, 1743102040]),
    ("2024-*-01", "Asia/Kolkata", 1743247501, []),
    ("2024-*-01", "America/New_York", 1712284532, [1714536000, 1717214400, 1719806400]),
    ("2024-*-01", "Europe/Berlin", 1743265800, []),
    ("2015-10-21", "Australia/Lord_Howe", 1730493116, []),
    ("2015-10-21", "Australia/Lord_Howe", 1727446403, []),
    ("2015-10-21", "America/New_York", 1730447003, []),
    ("02-29", "America/Santiago", 1727439434, [1835406000, 1961636400, 2087866800]),
    ("02-29", "Australia/Sydney", 1727534560, [1835355600, 1961586000, 2087816400]),
    ("02-29", "Asia/Kolkata", 1711704236, [1835375400, 1961605800, 2087836200]),
    ("mon *-02-29", "Australia/Sydney", 1710033398, [2340277200, 3223890000, 4486107600]),
    ("mon *-02-29", "Australia/Sydney", 1711702417, [2340277200, 3223890000, 4486107600]),
    ("mon *-02-29", "Asia/Kolkata", 1727480798, [2340297000, 3223909800, 4486127400]),
    ("2021-02-29", "Europe/Berlin", 1743272999, []),
    ("2021-02-29", "Australia/Sydney", 1711859760, []),
    ("2021-02-29", "America/New_York", 1727479440, []),
    ("02-30", "Asia/Kolkata", 1735599090, []),
    ("02-30", "Europe/Berlin", 1712375700, []),
    ("02-30", "America/Santiago", 1727471886, []),
    ("*:*:59", "Europe/Vienna", 1730551017, [1730551019, 1730551079, 1730551139]),
    ("*:*:59", "America/Santiago", 1710042553, [1710042599, 1710042659, 1710042719]),
    ("*:*:59", "America/Santiago", 1700045700, [1700045759, 1700045819, 1700045879]),
    ("*/5 UTC", "Australia/Sydney", 1730553492, [1730553600, 1730553900, 1730554200]),
    ("*/5 UTC", "Asia/Kolkata", 1761383400, [1761383700, 1761384000, 1761384300]),
    ("*/5 UTC", "America/New_York", 1699951242, [1699951500, 1699951800, 1699952100]),
    ("02:30 UTC", "Europe/Vienna", 1729892392, [1729909800, 1729996200, 1730082600]),
    ("02:30 UTC", "Asia/Kolkata", 1730032544, [1730082600, 1730169000, 1730255400]),
    ("02:30 UTC", "America/New_York", 1712301688, [1712370600, 1712457000, 1712543400]),
    ("mon 2024-*-01 03:00", "Europe/Vienna", 1711686060, [1711933200, 1719795600]),
    ("mon 2024-*-01 03:00", "Australia/Lord_Howe", 1735739552, []),
    ("mon 2024-*-01 03:00", "Australia/Lord_Howe", 1743269495, []),
    ("*-12-24..31 23:00", "America/New_York", 1743166740, [1766635200, 1766721600, 1766808000]),
    ("*-12-24..31 23:00", "Europe/Vienna", 1711908005, [1735077600, 1735164000, 1735250400]),
    ("*-12-24..31 23:00", "Europe/Berlin", 1743094560, [1766613600, 1766700000, 1766786400]),
    ("wed,sat 01:45", "Australia/Lord_Howe", 1711820100, [1712069100, 1712328300, 1712675700]),
    ("wed,sat 01:45", "Europe/Berlin", 1761302554, [1761349500, 1761698700, 1761957900]),
    ("wed,sat 01:45", "Asia/Kolkata", 1761428203, [1761682500, 1761941700, 1762287300]),
    ("02:30", "Europe/Berlin", 1711749600, [1711762200, 1711931400, 1712017800]),
    ("02:30", "Europe/Berlin", 1729900000, [1729902600, 1729989000, 1730079000]),
    ("mon..fri", "Europe/Vienna", 1540677600, [1540767600, 1540854000, 1540940400]),
    ("mon..fri UTC", "Europe/Vienna", 1540677600, [1540771200, 1540857600, 1540944000]),
]

PARSE_VECTORS = [
    ("foo", "unable to parse calendar event at 'foo' - Context(\"weekday\")"),
    ("daily 02:00", "unable to parse calendar event at 'daily' - Context(\"weekday\")"),
    ("Daily", "unable to parse calendar event at 'Daily' - Context(\"weekday\")"),
    ("mon-fri", "unable to parse calendar event at '-fri' - Nom(Eof)"),
    ("mon..fri 25:00", None),
    (
        "10..2",
        "unable to parse calendar event at '10..2' - Context(\"date or time specification\")",
    ),
    ("61", "unable to parse calendar event at '61' - Context(\"date or time specification\")"),
    ("*/61", "unable to parse calendar event at '*/61' - Context(\"date or time specification\")"),
    ("0..80", "unable to parse calendar event at '..80' - Nom(Eof)"),
    ("mon 0 0 0", "unable to parse calendar event at ' 0 0' - Nom(Eof)"),
    ("mon 0 0", "unable to parse calendar event at ' 0' - Nom(Eof)"),
    ("*/0", "unable to parse calendar event at '/0' - Nom(Eof)"),
    ("UTC", "unable to parse calendar event at '' - Context(\"date or time specification\")"),
    ("utc", "unable to parse calendar event at 'utc' - Context(\"weekday\")"),
    ("12:00 utc", "unable to parse calendar event at ' utc' - Nom(Eof)"),
    (
        "12:61",
        "unable to parse calendar event at '12:61' - Context(\"date or time specification\")",
    ),
    ("25:61", "unable to parse calendar event at ':61' - Nom(Eof)"),
    (
        "2200-01-01",
        "unable to parse calendar event at '2200-01-01' - Context(\"date or time specification\")",
    ),
    ("mon,foo", "unable to parse calendar event at ',foo' - Nom(Eof)"),
    ("mon..foo", "unable to parse calendar event at '..foo' - Nom(Eof)"),
    ("mond", "unable to parse calendar event at 'mond' - Context(\"weekday\")"),
    ("12:00:00:00", "unable to parse calendar event at ':00' - Nom(Eof)"),
    ("1,,2", "unable to parse calendar event at ',,2' - Nom(Eof)"),
    ("*-*-*-*", "unable to parse calendar event at '-*' - Nom(Eof)"),
    (
        "2024-13-01",
        "unable to parse calendar event at '2024-13-01' - Context(\"date or time specification\")",
    ),
    (
        "2024-12-32",
        "unable to parse calendar event at '2024-12-32' - Context(\"date or time specification\")",
    ),
    ("sat *-1..7 15:00 UTC", None),
    ("1..3/0", None),
    ("5/0", None),
    ("*/60", "unable to parse calendar event at '*/60' - Context(\"date or time specification\")"),
    (
        "0..59/60",
        "unable to parse calendar event at '0..59/60' - Context(\"date or time specification\")",
    ),
    (
        "99999999999",
        "unable to parse calendar event at '99999999999' - Context(\"date or time specification\")",
    ),
    ("12-5", None),
    ("mon12:00", None),
    ("minutely UTC", None),
    ("semi-annually", None),
    ("semi annually", "unable to parse calendar event at 'semi' - Context(\"weekday\")"),
    ("monthly 1", "unable to parse calendar event at 'monthly' - Context(\"weekday\")"),
    ("é", "unable to parse calendar event at 'é' - Context(\"date or time specification\")"),
    ("24:00", None),
    ("23:59:60", "unable to parse calendar event at ':60' - Nom(Eof)"),
    ("mon  ,tue", "unable to parse calendar event at ',tue' - Nom(Eof)"),
    ("mon..fri,sun 8..17:*/30", None),
]


@pytest.mark.parametrize(("expr", "tz", "last", "expected"), ORACLE_VECTORS)
def test_oracle_next_chain(expr: str, tz: str, last: int, expected: list[int]) -> None:
    got: list[int] = []
    for _ in range(3):
        nxt = next_event(expr, last, tz)
        if nxt is None:
            break
        got.append(nxt)
        last = nxt
    assert got == expected


@pytest.mark.parametrize(("expr", "message"), PARSE_VECTORS)
def test_oracle_parse(expr: str, message: str | None) -> None:
    if message is None:
        parse_event(expr)
        return
    with pytest.raises(ScheduleError) as err:
        parse_event(expr)
    assert str(err.value) == message
