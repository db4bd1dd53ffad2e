"""The logged vzdump command line, split with shell rules.

pve-guest-common ``src/PVE/VZDump/Common.pm`` ``command_line`` writes the VMIDs, then every
option as `` --<key> `` plus the value through pve-common ``src/PVE/Tools.pm`` ``shellquote``
(``PVE::Cmd::shell_quote``, String::ShellQuote ``shell_quote``): a value holding a
character outside ``[\\w!%+,-./:=@^]``, or an ``=``, is single-quoted.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from builders import (
    LogGuest,
    backup,
    pbs_storage,
    scenario,
    sim_guest,
    sim_node,
    vzdump_job,
    vzdump_log,
    vzdump_task,
)
from pve_backup_report.pve.vzdump_command import VzdumpCommand, parse_vzdump_command
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator
from pve_sim.synth import shell_quote, vzdump_command

PREFIX = "INFO: starting new backup job: "


def _parse(line: str) -> VzdumpCommand:
    command = parse_vzdump_command(["INFO: trying to get global lock - waiting...",
                                    "INFO: got global lock", PREFIX + line])  # fmt: skip
    assert command is not None
    return command


def test_a_quoted_notes_template_is_one_value() -> None:
    """``--notes-template '{{guestname}} keep 2 weeks'``: ``2`` is not a VMID (a
    whitespace split made it one and the job unresolvable)."""
    command = _parse(
        "vzdump 100 101 --mode snapshot --notes-template '{{guestname}} keep 2 weeks' "
        "--storage pbs1 --quiet 1 --notification-mode auto"
    )
    assert command.vmids == ("100", "101")
    assert command.storage == "pbs1"
    assert not command.all


def test_quoted_values_of_an_all_job() -> None:
    """``=`` makes ``shell_quote`` quote a property string (``--prune-backups``,
    ``--fleecing``); ``--exclude-path`` holds glob characters; ``--mailto`` and plain
    words stay bare."""
    command = _parse(
        "vzdump --prune-backups 'keep-daily=7,keep-weekly=4' --all 1 --exclude 112,123 "
        "--fleecing 'enabled=1,storage=local-lvm' --exclude-path '/var/tmp/?*' "
        "--notes-template '{{cluster}} / {{guestname}} 5 copies' --mailto admin@example.com "
        "--storage pbs-fra --mode snapshot"
    )
    assert command.vmids == ()
    assert command.all and command.exclude == "112,123"
    assert command.storage == "pbs-fra"


def test_a_quote_inside_a_value() -> None:
    """``'`` is written as ``'\\''``, two or more in a row as ``'"''"'``, and a value that
    starts with one loses the empty ``''`` in front (``\\''5 copies'``)."""
    for notes in ("{{guestname}} it'\\''s 2 weeks", "\\''5 copies'", "'a'\"''\"'7 b'"):
        command = _parse(f"vzdump 300 --notes-template {notes} --storage pbs2 --node pve3")
        assert command.vmids == ("300",)
        assert (command.storage, command.node) == ("pbs2", "pve3")


def test_an_exclude_list_with_spaces_is_quoted() -> None:
    """A ``pve-vmid-list`` may separate with spaces (``split_list``): then it is quoted."""
    command = _parse("vzdump --all 1 --exclude '112 123' --storage pbs1")
    assert command.exclude == "112 123"
    assert command.as_job_item("j")["exclude"] == "112 123"


def test_an_unbalanced_quote_keeps_the_leading_vmids() -> None:
    """Not something ``shellquote`` writes: the words are split on whitespace, and only the
    VMIDs before the first option count (``command_line`` writes them first)."""
    command = _parse("vzdump 100 --notes-template 'it is 2 --storage pbs1")
    assert command.vmids == ("100",)


def test_real_command_lines_are_unchanged() -> None:
    """The real logs (no quoting needed) parse as before."""
    command = _parse(
        "vzdump 112 119 120 123 --storage StorageBox-219063 --quiet 1 --mode snapshot "
        "--compress zstd --mailto admin@helloworld.de --mailnotification always"
    )
    assert command.vmids == ("112", "119", "120", "123")
    assert command.storage == "StorageBox-219063"
    pool = _parse("vzdump --quiet 1 --storage backup --mailto foo@bar.de --pool infr")
    assert (pool.pool, pool.vmids) == ("infr", ())


def test_shell_quote_of_the_simulator() -> None:
    """The simulator writes values as String::ShellQuote ``shell_quote`` does."""
    assert shell_quote("pbs-main") == "pbs-main"
    assert shell_quote("admin@example.com") == "admin@example.com"
    assert shell_quote("keep-last=3") == "'keep-last=3'"
    assert shell_quote("{{guestname}} keep 2 weeks") == "'{{guestname}} keep 2 weeks'"
    assert shell_quote("it's") == "'it'\\''s'"
    assert shell_quote("'5") == "\\''5'"
    assert shell_quote("a''b") == "'a'\"''\"'b'"
    assert shell_quote("") == "''"


@given(
    st.text(max_size=40),
    st.lists(st.integers(100, 999_999_999), max_size=4),
    st.sampled_from(["pbs1", "pbs-main", "backup_2"]),
)
def test_any_notes_template_round_trips(notes: str, vmids: list[int], storage: str) -> None:
    """Whatever a notes template holds, the VMIDs and the storage come back as written."""
    job = {"vmid": ",".join(map(str, vmids)), "notes-template": notes, "storage": storage,
           "mode": "snapshot"}  # fmt: skip
    line = vzdump_command(job)
    if notes:
        assert shlex.split(shell_quote(notes)) == [notes]
    command = _parse(line)
    assert command.vmids == tuple(map(str, vmids))
    assert command.storage == storage


# --------------------------------------------------------------------------- the real CLI

HOOK_ERROR = "command '/usr/local/bin/vzdump-hook.sh job-start' failed: exit code 1"


def _check(sim: Simulator, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    env.update(PVE_HOST=sim.url, PVE_API_TOKEN_ID=sim.token_id,
               PVE_API_TOKEN_SECRET=sim.token_secret, XDG_CACHE_HOME=str(tmp_path))  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "pve_backup_report", "--now", "2026-11-20T12:00:00Z", "-v"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_job_death_after_a_quoted_command_line_fails_every_guest(tmp_path: Path) -> None:
    """The job-start hook fails (pve-manager ``PVE/VZDump.pm`` ``exec_backup``: ``Backup
    job failed - …`` right after the command line). The run was ``--all 1`` with a quoted
    notes template; read word by word, ``2`` made it a run of VMID 2 only, and 100 and 101
    kept their older success."""
    job = vzdump_job("backup-all", storage="pbs-main", all=1,
                     **{"notes-template": "{{guestname}} keep 2 weeks"})  # fmt: skip
    command = vzdump_command(job)
    assert "--notes-template '{{guestname}} keep 2 weeks'" in command
    log = f"{PREFIX}{command}\nERROR: Backup job failed - {HOOK_ERROR}\nTASK ERROR: {HOOK_ERROR}"
    night = parse_timestamp("2026-11-18T20:00:00Z")  # 21:00 in Paris
    ok = vzdump_log([LogGuest(100), LogGuest(101)], start=night, command=command, first=1,
                    gap=2, took=1, tz_offset=3600)  # fmt: skip
    data = scenario(
        secret="s3cret-n0tes",
        privileges={"/": ["Sys.Audit", "VM.Audit", "Datastore.Audit"],
                    "/storage/pbs-main": ["Datastore.Allocate"]},
        nodes=[sim_node(timezone="Europe/Paris")],
        storages=[pbs_storage("pbs-main", server="192.0.2.10", datastore="main")],
        guests=[sim_guest(100, name="web1"), sim_guest(101, name="mail")],
        jobs=[job],
        tasks=[
            vzdump_task(start="2026-11-19T20:00:00Z", end="2026-11-19T20:00:01Z", log=log),
            vzdump_task(start=night, end=night + 5, log=ok),
        ],
        backups=[backup(v, ctime=night + i, storage="pbs-main") for i, v in ((1, 100), (3, 101))],
    )  # fmt: skip
    with Simulator(Scenario.from_dict(data)) as sim:
        proc = _check(sim, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("PVE_BACKUP CRITICAL - 2 failed backups (vm 100 web1, vm 101 mail)")
    for label in ("vm 100 web1", "vm 101 mail"):
        line = next(x for x in proc.stdout.splitlines() if x.startswith(label))
        assert f"latest backup: failed at 2026-11-19T20:00:01Z ({HOOK_ERROR})" in line


@given(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
        st.text(alphabet=" \t\n\x0b\xa0'\"\\-=a1", max_size=30),
        st.lists(
            st.sampled_from(
                [
                    "--notes-template",
                    "'{{guestname}} a'",
                    "'\\''",
                    "a'b c'd",
                    "''",
                    "100",
                    "\\ ",
                    "--exclude",
                    "101,102",
                ]
            )
        ).map(" ".join),
    )
)
def test_words_are_shlex_words_with_or_without_quotes(text: str) -> None:
    """``_split`` reads shell words without shlex (unquoted runs, single-quoted segments,
    backslash escapes) and gives exactly shlex's words, or shlex's fallback."""
    from pve_backup_report.pve.vzdump_command import _split

    try:
        expected = shlex.split(text)
    except ValueError:
        expected = text.split()
    assert _split(text) == expected


def test_words_of_real_command_lines() -> None:
    """Every command line of the real logs in ``tests/fixtures/tasklogs`` splits as shlex
    splits it."""
    from pve_backup_report.pve.vzdump_command import _split

    lines = [
        line.split(PREFIX, 1)[1]
        for path in sorted((Path(__file__).parent / "fixtures" / "tasklogs").glob("*.log"))
        for line in path.read_text(errors="replace").splitlines()
        if PREFIX in line
    ]
    assert lines
    for line in lines:
        assert _split(line) == shlex.split(line), line
