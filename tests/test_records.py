"""``records.quick_init``: a frozen dataclass built by writing its fields directly, the
same instances as dataclasses' own ``__init__`` builds, still frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from typing import Any

import pytest

from pve_backup_report.analysis.assess import GuestStatus, _Timing
from pve_backup_report.analysis.coverage import BackupTarget, GuestCoverage, _SureJobs
from pve_backup_report.analysis.freshness import FreshnessResult
from pve_backup_report.analysis.history import GuestBackupResult, GuestHistory, TaskInfo
from pve_backup_report.analysis.pbs_content import Snapshot
from pve_backup_report.collect.tasks import CachedTask
from pve_backup_report.model import Guest
from pve_backup_report.pve.upid import Upid
from pve_backup_report.records import quick_init

QUICK = [
    GuestStatus, _Timing, BackupTarget, GuestCoverage, _SureJobs, FreshnessResult,
    GuestBackupResult, GuestHistory, TaskInfo, CachedTask, Guest, Upid, Snapshot,
]  # fmt: skip


_KIND = {True: inspect.Parameter.KEYWORD_ONLY, False: inspect.Parameter.POSITIONAL_OR_KEYWORD}


def _pair(**params: Any) -> tuple[type, type]:
    """The same class twice: dataclasses' ``__init__``, and ``quick_init``'s."""

    def make() -> type:
        class Record:
            a: int
            b: str = "b"
            c: tuple[int, ...] = ()
            self: int = 7  # a field may have any name, even the usual one of self
            d: int | None = None

        return dataclass(frozen=True, **params)(Record)

    return make(), quick_init(make())


def _signature(cls: type) -> list[tuple[str, Any, Any]]:
    init = vars(cls).get("__init__") or cls.__init__  # type: ignore[misc]
    parameters = list(inspect.signature(init).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize("params", [{}, {"slots": True}, {"kw_only": True}, {"eq": False}])
def test_same_signature_and_instances_as_dataclasses(params: dict[str, Any]) -> None:
    stock, quick = _pair(**params)
    assert _signature(quick) == _signature(stock)
    for kwargs in ({"a": 1}, {"a": 2, "b": "x", "self": 3}, {"a": 0, "c": (1,), "d": 5}):
        a, b = stock(**kwargs), quick(**kwargs)
        assert dataclasses.astuple(a) == dataclasses.astuple(b)
        assert repr(a) == repr(b)
        assert hasattr(a, "__dict__") == hasattr(b, "__dict__")
    if not params:
        assert quick(1, "x") == quick(a=1, b="x")
        assert hash(quick(1)) == hash(quick(1))


def test_still_frozen_and_replaceable() -> None:
    for params in ({}, {"slots": True}):
        _stock, quick = _pair(**params)
        record = quick(1)
        with pytest.raises(FrozenInstanceError):
            record.a = 2
        changed = dataclasses.replace(record, b="z")
        assert (changed.a, changed.b, record.b) == (1, "z", "b")


def test_arguments_checked_as_before() -> None:
    _stock, quick = _pair(kw_only=True)
    with pytest.raises(TypeError):
        quick(1)  # keyword-only
    with pytest.raises(TypeError):
        quick()  # ``a`` has no default
    with pytest.raises(TypeError):
        quick(a=1, e=2)  # no such field


def test_fields_stored_in_their_order() -> None:
    """A keyword-only field declared first is still stored first (as dataclasses does)."""

    @quick_init
    @dataclass(frozen=True)
    class Mixed:
        b: int = field(kw_only=True)
        a: int = 0

    assert list(vars(Mixed(b=1))) == ["b", "a"]


def test_inherited_fields_of_a_frozen_base() -> None:
    @dataclass(frozen=True)
    class Base:
        x: int

    @quick_init
    @dataclass(frozen=True)
    class Child(Base):
        y: int = 2

    assert (Child(1).x, Child(1).y, Child(1, 3).y) == (1, 2, 3)


def _post_init() -> type:
    @dataclass(frozen=True)
    class WithPostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    return WithPostInit


def _initvar() -> type:
    @dataclass(frozen=True)
    class WithInitVar:
        x: int
        y: InitVar[int] = 0

    return WithInitVar


def _factory() -> type:
    @dataclass(frozen=True)
    class WithFactory:
        x: list[int] = field(default_factory=list)

    return WithFactory


def _not_in_init() -> type:
    @dataclass(frozen=True)
    class NotInInit:
        x: int = field(default=0, init=False)

    return NotInInit


def _mutable() -> type:
    @dataclass
    class Mutable:
        x: int

    return Mutable


def _own_init() -> type:
    @dataclass(frozen=True, init=False)
    class OwnInit:
        x: int

        def __init__(self, x: str) -> None:
            object.__setattr__(self, "x", int(x))

    return OwnInit


def _descriptor() -> type:
    class Base:
        @property
        def x(self) -> int:
            return 0

        @x.setter
        def x(self, value: int) -> None:
            pass

    @dataclass(frozen=True)
    class Described(Base):
        x: int

    return Described


@pytest.mark.parametrize(
    "make", [_post_init, _initvar, _factory, _not_in_init, _mutable, _own_init, _descriptor]
)
def test_refuses_what_it_would_not_reproduce(make: Any) -> None:
    """``__post_init__``, an ``InitVar``, a ``default_factory``, a field left out of
    ``__init__``, a class that is not frozen, one with its own ``__init__``, a field a
    descriptor stores: refused when the class is decorated."""
    with pytest.raises(TypeError):
        quick_init(make())


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_the_project_records_take_their_fields(cls: type) -> None:
    """Each decorated record's ``__init__`` takes exactly its fields, with dataclasses'
    defaults and keyword-only markers, and builds instances field for field."""
    fields = dataclasses.fields(cls)
    ordered = [f for f in fields if not f.kw_only] + [f for f in fields if f.kw_only]
    expected = [
        (
            f.name,
            _KIND[f.kw_only is True],
            inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
        )
        for f in ordered
    ]
    assert _signature(cls) == expected
    values = {f.name: object() for f in fields}
    record = cls(**values)
    assert all(getattr(record, name) is value for name, value in values.items())
