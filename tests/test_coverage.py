from __future__ import annotations

import json
from dataclasses import replace

import pytest

from builders import backup_job as job
from builders import guest as g
from builders import storage
from pve_backup_report.analysis.coverage import (
    Coverage,
    CoverageResult,
    GuestCoverage,
    analyse_coverage,
    effective_storage,
)
from pve_backup_report.analysis.ignore import parse_ignore_rules
from pve_backup_report.model import (
    Anomaly,
    BackupJob,
    Guest,
    Inventory,
    Node,
    Pool,
    Selection,
    Severity,
    Storage,
)

NOW = 1_790_000_000  # 2026-09-21

STORAGES = (
    storage("local", type="dir", content=("backup", "iso", "vztmpl")),
    storage("nfs", type="nfs"),
    storage("pbs1", server="pbs", datastore="ds1"),
    storage("pbs-offsite", nodes=("pve1", "pve2"), server="off"),
    storage("pbs-old", enabled=False, server="old"),
    storage("pbs-none", content=("none",), server="x"),
)
NODES = (Node("pve1", "online"), Node("pve2", "online"), Node("pve3", "online"))


def inv(
    guests: tuple[Guest, ...],
    jobs: tuple[BackupJob, ...],
    *,
    pools: tuple[Pool, ...] = (),
    defaults: dict[str, str] | None = None,
    not_backed_up: tuple[int, ...] | None = None,
    storages: tuple[Storage, ...] = STORAGES,
) -> Inventory:
    return Inventory(
        nodes=NODES,
        storages=storages,
        jobs=jobs,
        guests=guests,
        pools=pools,
        node_default_storage=defaults or {},
        not_backed_up=not_backed_up,
    )


def analyse(inventory: Inventory, rules: object = None, now: int = NOW) -> CoverageResult:
    return analyse_coverage(inventory, parse_ignore_rules(rules), now)


def cov(result: CoverageResult, vmid: int) -> GuestCoverage:
    found = result.guest(vmid)
    assert found is not None
    return found


def find(result: CoverageResult, component: str, fragment: str) -> list[Anomaly]:
    return [a for a in result.anomalies if a.component == component and fragment in a.message]


# --- every coverage value --------------------------------------------------------------


def test_every_coverage_value() -> None:
    guests = (
        g(100),
        g(101),
        g(102),
        g(103, node="pve2"),
        g(104, node="pve2"),
        g(105, node="pve2", pool="other"),
    )
    jobs = (
        job("pbs", vmid="100"),
        job("backup-local", vmid="101", storage="local"),
        job("weekly", vmid="102", enabled=False),
        job("lost", pool="gone", node="pve2"),
    )
    # pool 'gone' is hidden from the token (403): its members are unknown
    result = analyse(inv(guests, jobs, pools=(Pool("gone", None, None),)))
    assert {gc.guest.vmid: gc.coverage for gc in result.guests} == {
        100: Coverage.COVERED,
        101: Coverage.NON_PBS_ONLY,
        102: Coverage.DISABLED_ONLY,
        103: Coverage.INDETERMINATE,
        104: Coverage.INDETERMINATE,
        105: Coverage.NOT_COVERED,  # shows another pool, so it cannot be in 'gone'
    }
    assert cov(result, 100).pbs_jobs == ("pbs",)
    assert cov(result, 101).reasons == ("job backup-local writes to non-PBS storage 'local' (dir)",)
    assert cov(result, 102).reasons == ("job weekly is disabled",)
    assert cov(result, 102).jobs == ("weekly",)
    assert cov(result, 102).pbs_jobs == ()
    assert cov(result, 103).possible_jobs == ("lost",)
    assert cov(result, 105).reasons == ("no backup job includes it",)
    assert result.counts() == {
        "covered": 1,
        "non_pbs_only": 1,
        "disabled_only": 1,
        "not_covered": 1,
        "indeterminate": 2,
    }


def test_coverage_is_str_enum() -> None:
    assert Coverage("non_pbs_only") is Coverage.NON_PBS_ONLY
    assert Coverage.COVERED.value == "covered"
    assert isinstance(Coverage.COVERED, str)


def test_covered_wins_and_collects_all_jobs() -> None:
    jobs = (
        job("weekly", all=True, enabled=False),
        job("local", all=True, storage="local"),
        job("nightly", all=True),
        job("offsite", all=True, storage="pbs-offsite"),
    )
    result = analyse(inv((g(100, node="pve1"), g(300, node="pve3")), jobs))
    a = cov(result, 100)
    assert a.coverage is Coverage.COVERED
    assert a.jobs == ("weekly", "local", "nightly", "offsite")
    assert a.pbs_jobs == ("nightly", "offsite")
    assert "job weekly is disabled" in a.reasons
    b = cov(result, 300)
    assert b.coverage is Coverage.COVERED
    assert b.pbs_jobs == ("nightly",)
    assert "job offsite: PBS storage 'pbs-offsite' is not available on node pve3" in b.reasons


def test_non_pbs_beats_disabled() -> None:
    jobs = (job("off", vmid="100", enabled=False), job("nfs", vmid="100", storage="nfs"))
    result = analyse(inv((g(100),), jobs))
    assert cov(result, 100).coverage is Coverage.NON_PBS_ONLY
    assert cov(result, 100).reasons == (
        "job off is disabled",
        "job nfs writes to non-PBS storage 'nfs' (nfs)",
    )


# --- node restriction / migration --------------------------------------------------------


def test_node_restriction_after_migration() -> None:
    # vm 100 was migrated from pve1 to pve2; the job still runs only on pve1.
    guests = (g(100, node="pve2"), g(101, node="pve1"))
    result = analyse(inv(guests, (job("pve1-only", vmid="100,101", node="pve1"),)))
    moved = cov(result, 100)
    assert moved.coverage is Coverage.NOT_COVERED
    assert moved.jobs == ()
    assert "job pve1-only is restricted to node pve1 (guest is on pve2)" in moved.reasons
    assert cov(result, 101).coverage is Coverage.COVERED
    (jc,) = result.jobs
    assert jc.included == (101,)
    assert jc.effective_storage == {"pve1": "pbs1"}
    assert find(result, "jobs", "skips the guests it names that live on other nodes: 100")


def test_all_job_with_node_restriction_has_no_per_guest_noise() -> None:
    result = analyse(inv((g(100, node="pve2"),), (job("n1", all=True, node="pve1"),)))
    assert cov(result, 100).reasons == ("no backup job includes it",)
    assert not find(result, "jobs", "skips")


def test_job_restricted_to_unknown_node() -> None:
    result = analyse(inv((g(100),), (job("ghost", all=True, node="pve9"),)))
    assert cov(result, 100).coverage is Coverage.NOT_COVERED
    assert find(result, "jobs", "not a cluster node")


# --- pools ---------------------------------------------------------------------------


def test_missing_pool() -> None:
    """pve-manager ``PVE/API2Tools.pm`` ``get_resource_pool_guest_members`` dies with
    ``pool 'gone' does not exist`` before ``fork_worker`` (``PVE/API2/VZDump.pm``
    ``vzdump``): the job backs up nothing, no guest is covered or indeterminate by it,
    and a WARNING names the job and why (finding X1). The collector keeps a pool hidden
    by a 403 (``collect/inventory.py`` ``_pools``), so an absent pool is a deleted one."""
    guests = (g(100), g(101, pool="prod"))
    jobs = (job("pool-job", pool="gone"),)
    result = analyse(inv(guests, jobs, pools=(Pool("prod", None, (101,)),)))
    assert cov(result, 100).coverage is Coverage.NOT_COVERED
    assert cov(result, 100).possible_jobs == ()
    assert cov(result, 101).coverage is Coverage.NOT_COVERED
    (jc,) = result.jobs
    assert jc.unresolved is None and jc.included == () and jc.possible == ()
    assert jc.refused == "pool 'gone' does not exist"
    (a,) = find(result, "jobs", "job pool-job: PVE refuses to run it (pool 'gone' does not")
    assert a.severity is Severity.WARNING


def test_unreadable_pool_members() -> None:
    result = analyse(
        inv((g(100, pool="p"),), (job("pj", pool="p"),), pools=(Pool("p", None, None),))
    )
    assert cov(result, 100).coverage is Coverage.INDETERMINATE
    assert find(result, "pools", "members of pool 'p' could not be read")


def test_pool_job_covers_members_and_ignores_exclude() -> None:
    pools = (Pool("prod", None, (100, 101)),)
    result = analyse(
        inv((g(100), g(101), g(102)), (job("pj", pool="prod", exclude="100"),), pools=pools)
    )
    assert [cov(result, v).coverage for v in (100, 101, 102)] == [
        Coverage.COVERED,
        Coverage.COVERED,
        Coverage.NOT_COVERED,
    ]
    (a,) = find(result, "jobs", "'exclude' is ignored")
    assert a.severity is Severity.INFO


def test_disabled_unresolved_job_does_not_make_indeterminate() -> None:
    hidden = (Pool("gone", None, None),)
    result = analyse(inv((g(100),), (job("old", pool="gone", enabled=False),), pools=hidden))
    gc = cov(result, 100)
    assert gc.coverage is Coverage.NOT_COVERED
    assert gc.possible_jobs == ("old",)
    assert gc.reasons[0] == "no backup job includes it"


def test_unresolved_non_pbs_job_does_not_make_indeterminate() -> None:
    result = analyse(inv((g(100),), (job("old", pool="gone", storage="local"),)))
    assert cov(result, 100).coverage is Coverage.NOT_COVERED


def test_unresolved_pbs_job_beats_non_pbs_sure_job() -> None:
    jobs = (job("local", vmid="100", storage="local"), job("maybe", pool="gone"))
    result = analyse(inv((g(100),), jobs, pools=(Pool("gone", None, None),)))
    gc = cov(result, 100)
    assert gc.coverage is Coverage.INDETERMINATE
    assert gc.jobs == ("local",)
    assert gc.possible_jobs == ("maybe",)


def test_covered_guest_has_no_might_include_noise() -> None:
    jobs = (job("all", all=True), job("maybe", pool="gone"))
    gc = cov(analyse(inv((g(100),), jobs, pools=(Pool("gone", None, None),))), 100)
    assert gc.coverage is Coverage.COVERED
    assert gc.reasons == ()
    assert gc.possible_jobs == ("maybe",)


# --- storages ------------------------------------------------------------------------


def test_disabled_pbs_storage() -> None:
    result = analyse(inv((g(100),), (job("old", vmid="100", storage="pbs-old"),)))
    gc = cov(result, 100)
    assert gc.coverage is Coverage.NON_PBS_ONLY
    assert gc.jobs == ("old",)
    assert gc.reasons == ("job old: PBS storage 'pbs-old' is disabled",)
    (a,) = find(result, "storages", "writes to disabled storage 'pbs-old'")
    assert a.severity is Severity.WARNING


def test_disabled_storage_of_disabled_job_is_no_anomaly() -> None:
    result = analyse(inv((g(100),), (job("old", vmid="100", storage="pbs-old", enabled=False),)))
    assert not find(result, "storages", "disabled")
    assert cov(result, 100).coverage is Coverage.DISABLED_ONLY


def test_node_restricted_pbs_storage() -> None:
    guests = (g(100, node="pve1"), g(300, node="pve3"))
    result = analyse(inv(guests, (job("offsite", all=True, storage="pbs-offsite"),)))
    assert cov(result, 100).coverage is Coverage.COVERED
    gc = cov(result, 300)
    assert gc.coverage is Coverage.NON_PBS_ONLY
    assert gc.reasons == ("job offsite: PBS storage 'pbs-offsite' is not available on node pve3",)
    (a,) = find(result, "storages", "not available on node pve3")
    assert a.severity is Severity.WARNING
    assert a.details["vmids"] == [300]


def test_pbs_storage_without_backup_content() -> None:
    result = analyse(inv((g(100),), (job("j", all=True, storage="pbs-none"),)))
    assert cov(result, 100).coverage is Coverage.NON_PBS_ONLY
    assert find(result, "storages", "does not allow backup content")


@pytest.mark.parametrize("audit", [None, False])
def test_unknown_storage(audit: bool | None) -> None:
    """pve-storage ``src/PVE/API2/Storage/Config.pm`` ``index`` leaves out a storage without
    Datastore.Audit or Datastore.AllocateSpace on ``/storage/<id>``: when the token may
    lack them there (``audit`` False, or not known), the storage may be a hidden PBS
    storage, so the guest's coverage is unknown: ``indeterminate`` (finding X2)."""
    inventory = inv((g(100),), (job("j", all=True, storage="nowhere"),))
    if audit is not None:
        inventory = replace(inventory, storage_audit={"nowhere": audit})
    result = analyse(inventory)
    gc = cov(result, 100)
    assert gc.coverage is Coverage.INDETERMINATE
    assert "storage 'nowhere' is not visible to this token" in gc.reasons[0]
    (a,) = find(result, "permissions" if audit is False else "jobs", "unknown storage 'nowhere'")
    assert a.severity is Severity.WARNING and "it may be PBS" in a.message
    assert ("Datastore.Audit is missing on /storage/nowhere" in a.message) is (audit is False)
    assert result.jobs[0].storage_type == "unknown"


def test_a_storage_the_token_would_see_does_not_exist() -> None:
    """With Datastore.Audit on ``/storage/gone`` the token would see it in ``/storage``
    (pve-storage ``src/PVE/API2/Storage/Config.pm`` ``index``): it does not exist, and every
    run dies in pve-manager ``PVE/VZDump.pm`` ``new`` (``could not get storage information
    for 'gone'``). The guest is not protected by that job: ``not_covered`` when nothing
    else covers it, with the reason, and a WARNING names the job and the storage (X2)."""
    jobs = (job("j", all=True, storage="gone"),)
    result = analyse(replace(inv((g(100),), jobs), storage_audit={"gone": True}))
    gc = cov(result, 100)
    assert gc.coverage is Coverage.NOT_COVERED and gc.pbs_jobs == ()
    assert gc.reasons == (
        "job j: storage 'gone' does not exist (the token would see it): every run fails "
        "before backing up any guest",
    )
    (a,) = find(result, "jobs", "job j writes to storage 'gone', which does not exist")
    assert a.severity is Severity.WARNING
    both = (*jobs, job("k", vmid="100", storage="local"))
    other = analyse(replace(inv((g(100),), both), storage_audit={"gone": True}))
    assert cov(other, 100).coverage is Coverage.NON_PBS_ONLY
    default = analyse(
        replace(
            inv((g(100),), (job("d", all=True, storage=None),), defaults={"pve1": "gone"}),
            storage_audit={"gone": True},
        )
    )
    assert cov(default, 100).coverage is Coverage.NOT_COVERED
    assert find(default, "storages", "default storage 'gone' on node pve1, which does not exist")


def test_unknown_storage_of_disabled_job_is_info() -> None:
    result = analyse(inv((g(100),), (job("j", all=True, storage="nowhere", enabled=False),)))
    (a,) = find(result, "jobs", "unknown storage")
    assert a.severity is Severity.INFO


def test_job_without_storage_uses_node_default() -> None:
    guests = (g(100, node="pve1"), g(200, node="pve2"), g(300, node="pve3"))
    defaults = {"pve1": "pbs1", "pve2": "local"}
    result = analyse(inv(guests, (job("dflt", all=True, storage=None),), defaults=defaults))
    assert cov(result, 100).coverage is Coverage.COVERED
    assert cov(result, 200).coverage is Coverage.NON_PBS_ONLY
    assert cov(result, 200).reasons == (
        "job dflt writes to non-PBS storage 'local' (dir), the default of node pve2",
    )
    # pve3's vzdump default could not be read: /etc/vzdump.conf may name a PBS storage,
    # so whether the job protects the guest is unknown
    assert cov(result, 300).coverage is Coverage.INDETERMINATE
    assert cov(result, 300).reasons == (
        "job dflt has no storage and the vzdump default of node pve3 is unknown",
    )
    (jc,) = result.jobs
    assert jc.storage_type == "default"
    assert jc.effective_storage == {"pve1": "pbs1", "pve2": "local", "pve3": "local"}


def test_unknown_default_storage_anomaly() -> None:
    result = analyse(inv((g(100),), (job("d", all=True, storage=None),), defaults={"pve1": "zz"}))
    assert find(result, "storages", "default storage 'zz' on node pve1, which is not visible")
    assert cov(result, 100).coverage is Coverage.INDETERMINATE


def test_effective_storage_function() -> None:
    inventory = inv((), (), defaults={"pve1": "pbs1"})
    assert effective_storage(job("a", storage="nfs"), "pve1", inventory) == "nfs"
    assert effective_storage(job("a", storage=None), "pve1", inventory) == "pbs1"
    assert effective_storage(job("a", storage=None), "pve2", inventory) == "local"


# --- job kinds and selection problems ------------------------------------------------------


def test_legacy_job_counts() -> None:
    legacy = job("5ab3e1c0:1", vmid="100", legacy=True)
    result = analyse(inv((g(100),), (legacy,)))
    assert cov(result, 100).coverage is Coverage.COVERED
    assert result.jobs[0].to_json()["legacy"] is True


def test_templates_are_covered() -> None:
    tpl = g(900, name="tpl", status="stopped", template=True)
    assert cov(analyse(inv((tpl,), (job("a", all=True),))), 900).coverage is Coverage.COVERED


def test_nonexistent_vmids() -> None:
    result = analyse(inv((g(100),), (job("j", vmid="100,7654,0999"),)))
    assert cov(result, 100).coverage is Coverage.COVERED
    (jc,) = result.jobs
    assert jc.missing_vmids == (999, 7654)
    (a,) = find(result, "jobs", "lists VMIDs that do not exist: 999, 7654")
    assert "fail on every node it runs on" in a.message
    assert a.severity is Severity.WARNING
    (p,) = [a for a in result.anomalies if a.component == "permissions"]
    assert "VM.Audit is probably missing" in p.message
    assert p.details["missing_vmids"] == {"999": ["j"], "7654": ["j"]}


def test_strange_vmid_job() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``check_vmids`` dies (``strange VM ID``) in
    ``get_included_guests``, before ``fork_worker``: VM 100, named by the job, is not
    covered by it (finding X1), and the reason says why."""
    result = analyse(inv((g(100), g(101)), (job("bad", vmid="100,abc"),)))
    assert cov(result, 100).coverage is Coverage.NOT_COVERED
    assert cov(result, 100).reasons == (
        "no backup job includes it",
        "job bad names it, but PVE refuses to run that job: strange VM ID 'abc' in 'vmid'",
    )
    assert cov(result, 101).coverage is Coverage.NOT_COVERED
    (a,) = find(result, "jobs", "strange VM ID 'abc'")
    assert a.severity is Severity.WARNING


def test_conflicting_selection_job() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``verify_vzdump_parameters`` (called first by
    ``PVE/API2/VZDump.pm`` ``vzdump``) raises ``option conflicts with option 'vmid'`` for
    a hand-edited ``vmid`` + ``all`` job; ``PVE/Jobs.pm`` ``run_jobs`` only logs it. PVE
    never backs VM 100 up: ``not_covered``, not ``indeterminate`` (finding X1). Another
    job covering it still covers it."""
    result = analyse(inv((g(100),), (job("c", vmid="100", all=True),)))
    (jc,) = result.jobs
    assert jc.unresolved is None and jc.refused == "option 'all' conflicts with option 'vmid'"
    assert cov(result, 100).coverage is Coverage.NOT_COVERED
    (a,) = find(result, "jobs", "job c: PVE refuses to run it (option 'all' conflicts")
    assert a.severity is Severity.WARNING
    jobs = (job("c", vmid="100", all=True), job("ok", vmid="100"))
    assert cov(analyse(inv((g(100),), jobs)), 100).coverage is Coverage.COVERED
    disabled = analyse(inv((g(100),), (job("c", vmid="100", all=True, enabled=False),)))
    (a,) = find(disabled, "jobs", "PVE refuses to run it")
    assert a.severity is Severity.INFO


def test_exclude_without_all() -> None:
    result = analyse(inv((g(100), g(101)), (job("ex", exclude="100"),)))
    assert cov(result, 100).coverage is Coverage.NOT_COVERED
    assert cov(result, 101).coverage is Coverage.COVERED
    (a,) = find(result, "jobs", "has 'exclude' but not 'all'")
    assert a.severity is Severity.INFO
    assert result.jobs[0].selection is Selection.ALL


# --- permission trap and PVE cross-check -------------------------------------------------


def test_permission_trap_no_guests_visible() -> None:
    result = analyse(inv((), (job("a", all=True),)))
    (a,) = [a for a in result.anomalies if a.component == "permissions"]
    assert a.severity is Severity.CRITICAL  # nothing visible: coverage unknowable
    assert "no guest is visible" in a.message
    assert "VM.Audit is probably missing" in a.message
    assert result.guests == ()


def test_no_jobs_no_guests_is_never_silently_ok() -> None:
    (a,) = analyse(inv((), ())).anomalies
    assert a.severity is Severity.WARNING and a.component == "permissions"
    assert "VM.Audit" in a.message


def test_permission_trap_hidden_pool_members() -> None:
    pools = (Pool("prod", None, (100, 555)),)
    result = analyse(inv((g(100),), (job("pj", pool="prod"),), pools=pools))
    (a,) = [a for a in result.anomalies if a.component == "permissions"]
    assert "pools list members that /cluster/resources does not show: 555" in a.message
    assert a.details["hidden_pool_members"] == {"555": ["pj"]}
    assert not find(result, "jobs", "do not exist")  # PVE drops non-existing members


def test_not_backed_up_cross_check_flags_our_covered() -> None:
    guests = (g(100), g(101), g(102))
    jobs = (job("a", vmid="100"), job("b", vmid="101", enabled=False))
    result = analyse(inv(guests, jobs, not_backed_up=(100, 102)))
    (a,) = find(result, "coverage", "not-backed-up list names guests we consider covered")
    assert a.severity is Severity.WARNING
    assert a.details["vmids"] == [100]


def test_not_backed_up_superset_direction_is_fine() -> None:
    # PVE does not list 101 (disabled job still counts for PVE); we say disabled_only.
    guests = (g(100), g(101), g(102))
    jobs = (job("a", vmid="100"), job("b", vmid="101", enabled=False))
    result = analyse(inv(guests, jobs, not_backed_up=(102,)))
    assert not [a for a in result.anomalies if a.component == "coverage"]


def test_not_backed_up_exclude_only_job_is_expected() -> None:
    # PVE's report sees nothing in an exclude-only job, so it lists 101 although it is covered.
    result = analyse(inv((g(100), g(101)), (job("ex", exclude="100"),), not_backed_up=(100, 101)))
    assert cov(result, 101).coverage is Coverage.COVERED
    assert not find(result, "coverage", "consider covered")


def test_not_backed_up_unexplained_inclusion_is_info() -> None:
    result = analyse(inv((g(100),), (), not_backed_up=()))
    (a,) = find(result, "coverage", "although we found none")
    assert a.severity is Severity.INFO


def test_not_backed_up_none_skips_cross_check() -> None:
    result = analyse(inv((g(100),), (job("a", vmid="100"),), not_backed_up=None))
    assert not [a for a in result.anomalies if a.component == "coverage"]


# --- ignore rules ------------------------------------------------------------------------


def test_ignore_rules_keep_coverage_factual() -> None:
    guests = (g(100, name="test-1"), g(101, name="prod"), g(102, name="scratch"))
    rules = [
        {"name": "test-*", "reason": "test systems", "until": "2026-12-31"},
        {"vmid": 102, "reason": "was temporary", "until": "2026-01-31"},
    ]
    result = analyse(inv(guests, ()), rules)
    t = cov(result, 100)
    assert t.coverage is Coverage.NOT_COVERED
    assert t.ignored is not None
    assert t.to_json()["ignored"] == {
        "reason": "test systems",
        "rule": "name=test-*",
        "until": "2026-12-31",
    }
    assert cov(result, 101).ignored is None
    assert cov(result, 102).ignored is None  # expired
    (a,) = find(result, "config", "expired on 2026-01-31")
    assert a.severity is Severity.INFO
    assert a.details["vmids"] == [102]


def test_ignore_rule_still_valid_on_its_last_day() -> None:
    rules = [{"vmid": 100, "reason": "r", "until": "2026-09-21"}]
    assert cov(analyse(inv((g(100),), ()), rules, NOW), 100).ignored is not None
    later = NOW + 86400
    assert cov(analyse(inv((g(100),), ()), rules, later), 100).ignored is None


# --- output shape ------------------------------------------------------------------------


def test_json_contract() -> None:
    guests = (g(101, node="pve2"), g(100, node="pve1"))
    jobs = (job("nightly", all=True), job("legacy", vmid="100,4242", storage="local"))
    result = analyse(inv(guests, jobs), [{"vmid": 101, "reason": "r"}])
    data = result.to_json()
    json.dumps(data)  # serialisable
    assert [x["vmid"] for x in data["guests"]] == [100, 101]  # sorted by vmid
    first = data["guests"][0]
    assert set(first) >= {
        "vmid",
        "type",
        "name",
        "node",
        "coverage",
        "jobs",
        "pbs_jobs",
        "ignored",
        "reasons",
    }
    assert first["coverage"] == "covered"
    assert first["jobs"] == ["nightly", "legacy"]
    assert first["pbs_jobs"] == ["nightly"]
    assert first["ignored"] is None
    assert data["guests"][1]["ignored"]["rule"] == "vmid=101"
    j = data["jobs"][1]
    assert set(j) >= {"id", "enabled", "storage", "storage_type", "included", "missing_vmids"}
    assert j["id"] == "legacy"
    assert j["storage_type"] == "dir"
    assert j["included"] == [100]
    assert j["missing_vmids"] == [4242]
    assert j["unresolved"] is None
    assert data["jobs"][0]["effective_storage"] == {"pve1": "pbs1", "pve2": "pbs1", "pve3": "pbs1"}
    assert all(set(a) == {"severity", "component", "message", "details"} for a in data["anomalies"])


def test_result_objects_are_frozen() -> None:
    result = analyse(inv((g(100),), (job("a", all=True),)))
    with pytest.raises(AttributeError):
        result.guests = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.guests[0].coverage = Coverage.NOT_COVERED  # type: ignore[misc]


def test_deterministic() -> None:
    inventory = inv(
        (g(100), g(200, node="pve2"), g(300, node="pve3")),
        (job("a", all=True, storage="pbs-offsite"), job("b", pool="gone"), job("c", vmid="9")),
    )
    assert analyse(inventory).to_json() == analyse(replace(inventory)).to_json()


# --- performance --------------------------------------------------------------------------


def test_10000_guests_60_jobs() -> None:
    nodes = tuple(Node(f"pve{i}", "online") for i in range(1, 21))
    guests = tuple(
        g(
            100 + i,
            type="qemu" if i % 3 else "lxc",
            name=f"guest-{i}",
            node=f"pve{i % 20 + 1}",
            pool=f"pool{i % 10}",
            tags=("a",),
        )
        for i in range(10_000)
    )
    pools = tuple(
        Pool(f"pool{p}", None, tuple(100 + i for i in range(p, 10_000, 10))) for p in range(10)
    )
    jobs: list[BackupJob] = []
    for n in range(60):
        kind = n % 4
        if kind == 0:
            jobs.append(job(f"all{n}", all=True, exclude="100,101,102", storage="pbs-offsite"))
        elif kind == 1:
            jobs.append(job(f"pool{n}", pool=f"pool{n % 10}", storage=None))
        elif kind == 2:
            ids = ",".join(str(100 + i) for i in range(n, 10_000, 7))
            jobs.append(job(f"ids{n}", vmid=ids, node=f"pve{n % 20 + 1}"))
        else:
            jobs.append(job(f"off{n}", all=True, enabled=False, storage="local"))
    inventory = Inventory(
        nodes=nodes,
        storages=STORAGES,
        jobs=tuple(jobs),
        guests=guests,
        pools=pools,
        node_default_storage={f"pve{i}": "pbs1" for i in range(1, 11)},
        not_backed_up=(),
    )
    rules = parse_ignore_rules([{"name": "guest-1*", "reason": "r"}, {"tag": "b", "reason": "r"}])
    result = analyse_coverage(inventory, rules, NOW)
    assert len(result.guests) == 10_000
    assert len(result.jobs) == 60
    assert result.counts()["covered"] > 0
