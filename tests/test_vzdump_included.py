"""Port of pve-manager ``test/vzdump_guest_included_test.pl`` plus the rules of
``PVE::VZDump::get_included_guests`` / ``check_vmids`` / ``PVE::Tools::split_list``."""

from __future__ import annotations

from typing import Any

import pytest

from builders import guest
from pve_backup_report.analysis.coverage import (
    IncludedGuests,
    StrangeVmidError,
    check_vmids,
    included_guests,
    split_vmid_list,
)
from pve_backup_report.collect.inventory import normalise_job
from pve_backup_report.model import (
    BackupJob,
    Guest,
    GuestType,
    Inventory,
    Node,
    Pool,
    Selection,
    pve_selection,
)

# The vmlist and pool of the upstream test.
VMLIST: dict[int, tuple[GuestType, str]] = {
    100: ("qemu", "node1"),
    101: ("qemu", "node1"),
    112: ("lxc", "node1"),
    113: ("lxc", "node1"),
    200: ("qemu", "node2"),
    201: ("qemu", "node2"),
    212: ("lxc", "node2"),
    213: ("lxc", "node2"),
}


def make_inventory(
    pools: tuple[Pool, ...] = (Pool("testpool", None, (100, 101, 200, 201)),),
    guests: tuple[Guest, ...] | None = None,
) -> Inventory:
    if guests is None:
        guests = tuple(
            guest(vmid, type=kind, name=f"g{vmid}", node=node)
            for vmid, (kind, node) in VMLIST.items()
        )
    return Inventory(
        nodes=(Node("node1", "online"), Node("node2", "online")),
        storages=(),
        jobs=(),
        guests=guests,
        pools=pools,
    )


def make_job(
    *,
    vmid: str | None = None,
    exclude: str | None = None,
    all: bool = False,
    pool: str | None = None,
    node: str | None = None,
    selection: Selection | None = None,
) -> BackupJob:
    if selection is None:
        selection = pve_selection(pool, vmid, all, exclude)
    return BackupJob(
        id="job",
        enabled=True,
        storage="pbs",
        schedule="daily",
        mode="snapshot",
        selection=selection,
        vmid_raw=vmid,
        exclude_raw=exclude,
        all_flag=all,
        pool=pool,
        node=node,
    )


# (name, param, expected) exactly as in vzdump_guest_included_test.pl
UPSTREAM_CASES: list[tuple[str, dict[str, Any], dict[str, list[int]]]] = [
    (
        "Test all guests",
        {"all": True},
        {"node1": [100, 101, 112, 113], "node2": [200, 201, 212, 213]},
    ),
    (
        "Test all guests with node limit",
        {"all": True, "node": "node2"},
        {"node2": [200, 201, 212, 213]},
    ),
    (
        "Test exclude",
        {"all": True, "exclude": "100, 102, 200, 202"},
        {"node1": [101, 112, 113], "node2": [201, 212, 213]},
    ),
    (
        "Test exclude with node limit",
        {"all": True, "exclude": "100, 102, 200, 202", "node": "node1"},
        {"node1": [101, 112, 113]},
    ),
    (
        "Test pool members",
        {"pool": "testpool"},
        {"node1": [100, 101], "node2": [200, 201]},
    ),
    (
        "Test pool members with node limit",
        {"pool": "testpool", "node": "node2"},
        {"node2": [200, 201]},
    ),
    (
        "Test selected VMIDs",
        {"vmid": "100, 201, 212"},
        {"node1": [100], "node2": [201, 212]},
    ),
    (
        "Test selected VMIDs with node limit",
        {"vmid": "100, 201, 212", "node": "node1"},
        {"node1": [100]},
    ),
    (
        "Test selected VMIDs on other nodes",
        {"vmid": "201, 212", "node": "node1"},
        {},
    ),
    (
        "Test VMID not present in vmlist",
        {"vmid": "100, 201, 212, 7654"},
        {"node1": [100], "node2": [201, 212], "": [7654]},
    ),
]


def test_all_upstream_cases_are_ported() -> None:
    # Upstream declares `use Test::More tests => 10;`.
    assert len(UPSTREAM_CASES) == 10


@pytest.mark.parametrize(
    ("param", "expected"),
    [(p, e) for _, p, e in UPSTREAM_CASES],
    ids=[n for n, _, _ in UPSTREAM_CASES],
)
def test_upstream_case(param: dict[str, Any], expected: dict[str, list[int]]) -> None:
    result = included_guests(make_job(**param), make_inventory())
    assert result.unresolved is None
    assert result.to_pve() == expected


# --- split_list / check_vmids -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "items"),
    [
        (None, ()),
        ("", ()),
        ("0", ()),  # Perl: `shift || ''`
        ("100", ("100",)),
        ("100,101", ("100", "101")),
        ("100;101", ("100", "101")),
        ("100 101\t102\n103", ("100", "101", "102", "103")),
        ("  100, 101 ,,;102  ", ("100", "101", "102")),
        ("100\x00101", ("100", "101")),
        ("\x00100\x00\x00", ("", "100")),  # NUL split keeps leading, drops trailing empties
    ],
)
def test_split_vmid_list(text: str | None, items: tuple[str, ...]) -> None:
    assert split_vmid_list(text) == items


def test_check_vmids_normalises_like_pve() -> None:
    assert check_vmids(["0100", "101", "0", "000", "99"]) == (99, 100, 101)
    assert check_vmids(["200", "100", "200"]) == (100, 200)
    assert check_vmids(["100\n"]) == (100,)  # Perl's $ matches before a final newline
    assert check_vmids([]) == ()


@pytest.mark.parametrize("bad", ["abc", "10a", "-1", "1.5", "", "+100", "١٠٠"])
def test_check_vmids_strange(bad: str) -> None:
    with pytest.raises(StrangeVmidError, match="strange VM ID"):
        check_vmids(["100", bad])


# --- further get_included_guests semantics ------------------------------------------------


def test_leading_zeros_and_separators() -> None:
    result = included_guests(make_job(vmid="0100;0201 212"), make_inventory())
    assert result.to_pve() == {"node1": [100], "node2": [201, 212]}


def test_zero_vmid_dropped() -> None:
    assert included_guests(make_job(vmid="0,100"), make_inventory()).to_pve() == {"node1": [100]}


def test_missing_vmids_survive_node_limit() -> None:
    result = included_guests(make_job(vmid="100, 7654, 201", node="node1"), make_inventory())
    assert result.to_pve() == {"node1": [100], "": [7654]}
    assert result.missing == (7654,)
    assert result.skipped_other_node == (201,)


def test_pool_ignores_exclude() -> None:
    result = included_guests(make_job(pool="testpool", exclude="100"), make_inventory())
    assert result.selection is Selection.POOL
    assert result.to_pve() == {"node1": [100, 101], "node2": [200, 201]}


def test_pool_before_all() -> None:
    result = included_guests(make_job(pool="testpool", all=True), make_inventory())
    assert result.selection is Selection.POOL
    assert result.vmids == (100, 101, 200, 201)


def test_pool_only_direct_members() -> None:
    pools = (
        Pool("parent", None, (100,)),
        Pool("parent/child", None, (101, 200)),
    )
    result = included_guests(make_job(pool="parent"), make_inventory(pools=pools))
    assert result.to_pve() == {"node1": [100]}


def test_pool_member_not_in_vmlist_is_not_missing() -> None:
    pools = (Pool("p", None, (100, 999)),)
    result = included_guests(make_job(pool="p"), make_inventory(pools=pools))
    assert result.to_pve() == {"node1": [100]}
    assert result.missing == ()
    assert result.hidden_members == (999,)


def test_exclude_without_all_runs_as_all() -> None:
    result = included_guests(make_job(exclude="100,200"), make_inventory())
    assert result.selection is Selection.ALL
    assert result.to_pve() == {"node1": [101, 112, 113], "node2": [201, 212, 213]}


def test_exclude_with_leading_zero() -> None:
    result = included_guests(make_job(all=True, exclude="0100", node="node1"), make_inventory())
    assert result.to_pve() == {"node1": [101, 112, 113]}


def test_templates_are_included() -> None:
    guests = (
        guest(100, name="tpl", node="node1", status="stopped", template=True),
        guest(101, type="lxc", name="ct-tpl", node="node1", status="stopped", template=True),
    )
    result = included_guests(make_job(all=True), make_inventory(guests=guests))
    assert result.to_pve() == {"node1": [100, 101]}


def test_strange_vmid_is_refused() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``check_vmids`` dies (``strange VM ID``) inside
    ``get_included_guests``, which ``PVE/API2/VZDump.pm`` ``vzdump`` calls before
    ``fork_worker``: the job is refused on every run (finding X1)."""
    result = included_guests(make_job(vmid="100,abc,201"), make_inventory())
    assert result.unresolved is None and result.refused is not None
    assert "strange VM ID 'abc'" in result.refused
    assert result.per_node == {} and result.possible == ()
    assert result.named == (100, 201)
    with pytest.raises(ValueError, match="refuses"):
        result.to_pve()


def test_strange_exclude_is_refused() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``get_included_guests``: the ``all`` branch runs
    ``check_vmids`` on ``exclude`` and dies before any task (finding X1)."""
    result = included_guests(make_job(all=True, exclude="100,x", node="node2"), make_inventory())
    assert result.refused is not None and result.unresolved is None
    assert "'exclude'" in result.refused
    assert result.named == (200, 201, 212, 213)


def test_missing_pool_is_refused() -> None:
    """pve-manager ``PVE/API2Tools.pm`` ``get_resource_pool_guest_members`` dies with
    ``pool '<id>' does not exist`` (called by ``get_included_guests`` before
    ``fork_worker``): the job never runs (finding X1)."""
    result = included_guests(make_job(pool="gone"), make_inventory())
    assert result.refused == "pool 'gone' does not exist"
    assert result.unresolved is None and result.vmids == ()


def test_unreadable_pool_is_unresolved() -> None:
    result = included_guests(
        make_job(pool="testpool"), make_inventory(pools=(Pool("testpool", None, None),))
    )
    assert result.unresolved == "members of pool 'testpool' could not be read"


def test_unresolved_pool_candidates_skip_guests_in_other_pools() -> None:
    guests = (
        guest(100, name="a", node="node1", pool="other"),
        guest(101, name="b", node="node1"),
        guest(102, name="c", node="node2", pool="unread"),
    )
    inv = make_inventory(pools=(Pool("unread", None, None),), guests=guests)
    assert included_guests(make_job(pool="unread"), inv).possible == (101, 102)
    assert included_guests(make_job(pool="unread", node="node2"), inv).possible == (102,)


@pytest.mark.parametrize(
    ("param", "word"),
    [
        ({"vmid": "100", "all": True}, "'all'"),
        ({"vmid": "100", "exclude": "101"}, "'exclude'"),
        ({"vmid": "100", "pool": "testpool"}, "'pool'"),
    ],
)
def test_vmid_conflicts_are_refused(param: dict[str, Any], word: str) -> None:
    """pve-manager ``PVE/VZDump.pm`` ``verify_vzdump_parameters`` raises ``option
    conflicts with option 'vmid'`` (called first by ``PVE/API2/VZDump.pm`` ``vzdump``)."""
    result = included_guests(make_job(**param), make_inventory())
    assert result.unresolved is None and result.refused is not None
    assert f"option {word} conflicts with option 'vmid'" in result.refused
    assert result.vmids == ()


def test_no_selection() -> None:
    result = included_guests(make_job(), make_inventory())
    assert result.selection is Selection.NONE
    assert result.refused is not None
    assert "vmid property is missing" in result.refused
    assert result.named == ()


def test_selection_all_without_raw_flag_trusts_collector() -> None:
    result = included_guests(make_job(selection=Selection.ALL), make_inventory())
    assert result.vmids == tuple(sorted(VMLIST))


def test_vmid_zero_string_falls_through_like_perl() -> None:
    # Perl treats "0" as false, so the vmid branch is not taken; nothing else is set.
    result = included_guests(make_job(vmid="0", selection=Selection.VMID), make_inventory())
    assert result.refused is not None


def test_result_is_frozen() -> None:
    result = included_guests(make_job(all=True), make_inventory())
    assert isinstance(result, IncludedGuests)
    with pytest.raises(AttributeError):
        result.missing = (1,)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({"vmid": "100"}, (100,)), ({"all": 1}, tuple(sorted(VMLIST))), ({}, None)],
)
def test_an_empty_exclude_is_no_exclude(extra: dict[str, Any], expected: Any) -> None:
    """pve-common ``src/PVE/SectionConfig.pm`` ``parse_config``: a jobs.cfg line ``exclude``
    without a value fails ``check_value`` (``got undefined value``) and the key is dropped,
    so the run never sees it: no ``all`` is implied (pve-manager ``PVE/VZDump.pm``
    ``verify_vzdump_parameters`` tests ``defined($param->{exclude})``), and ``vmid``
    does not conflict. An empty ``exclude`` is read as none at all."""
    job = normalise_job({"id": "j", "type": "vzdump", "exclude": "", **extra})
    assert job.exclude_raw is None
    result = included_guests(job, make_inventory())
    if expected is None:  # nothing else selected: vmid property is missing
        assert result.refused is not None and "vmid property is missing" in result.refused
    else:
        assert result.refused is None and result.vmids == expected
