"""The command line's settings come from config.SPECS, the one table of the settings.

Every option of the check is a setting's flag as SPECS declares it, a threshold flag
(generated from CATEGORIES), or one of the options below that are not settings; and the
value of each setting's flag reaches that setting, named by its flag in messages.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from pve_backup_report.analysis.thresholds import CATEGORIES
from pve_backup_report.cli import _cli_settings, build_parser
from pve_backup_report.config import SPECS, Sources, Spec, _pick

# options that choose what to run, how to print it or where to read the settings from
NOT_SETTINGS = {
    "--help", "--version", "--verbose", "--config", "--env-file", "--cluster", "--demo",
    "--check-api", "--dump-inventory", "--dump-coverage", "--dump-report-data",
    "--explain-schedule", "--report", "--format", "--now", "--tz", "--count",
}  # fmt: skip
THRESHOLD_FLAGS = {
    f"--{kind}-{c.key.replace('_', '-')}" for c in CATEGORIES for kind in ("warn", "crit")
}
FLAGGED = [s for s in SPECS if s.flag is not None]


def _options() -> dict[str, argparse.Action]:
    """The parser's actions by long option name."""
    actions = build_parser()._actions
    return {next(o for o in a.option_strings if o.startswith("--")): a for a in actions}


def test_every_option_is_a_setting_a_threshold_or_not_a_setting() -> None:
    flags = [s.flag.name for s in FLAGGED if s.flag]
    assert len(set(flags)) == len(flags)
    assert not set(flags) & THRESHOLD_FLAGS and not set(flags) & NOT_SETTINGS
    assert set(_options()) == set(flags) | THRESHOLD_FLAGS | NOT_SETTINGS


@pytest.mark.parametrize("spec", FLAGGED, ids=lambda s: s.name)
def test_each_flag_is_the_option_its_spec_declares(spec: Spec) -> None:
    flag = spec.flag
    assert flag is not None
    action = _options()[flag.name]
    assert tuple(action.option_strings) == ((flag.short,) if flag.short else ()) + (flag.name,)
    assert action.dest == flag.dest
    assert action.help == flag.help.format(default=spec.default)
    if flag.sets is not None:
        assert isinstance(action, argparse._StoreTrueAction)
    else:
        assert (action.metavar, action.choices) == (flag.metavar, flag.choices)
    assert action.default is None or flag.sets is not None  # unset: the lower layers count
    if spec.default is not None and "{default}" not in flag.help:
        assert "Default:" not in flag.help  # a default in --help is the table's


@pytest.mark.parametrize("spec", FLAGGED, ids=lambda s: s.name)
def test_each_flag_reaches_its_setting_and_names_itself(spec: Spec) -> None:
    flag = spec.flag
    assert flag is not None
    expected: object
    if flag.sets is not None:
        argv, expected = [flag.name], flag.sets
    else:
        raw = spec.default or (flag.choices or ("some-value",))[0]
        argv, expected = [flag.name, raw], flag.type(raw) if flag.type else raw
    values = _cli_settings(build_parser().parse_args(argv))
    assert values.pop(spec.name) == expected
    assert all(v is None for v in values.values())  # and no other setting
    icinga = "vars.pve_backup_" + flag.name.lstrip("-").replace("-", "_")
    assert _pick(spec, Sources(cli={spec.name: expected}))[1] == f"{flag.name} (Icinga: {icinga})"


def test_no_flag_given_sets_nothing() -> None:
    values = _cli_settings(build_parser().parse_args([]))
    assert set(values) == {s.name for s in FLAGGED} | {"thresholds"}
    assert all(v is None for v in values.values())


def test_malloc_tuned_where_glibc_runs_the_check() -> None:
    """``cli._tune_malloc``: glibc's ``mallopt`` answers 1 when it takes a value (glibc
    ``malloc/malloc.c`` ``__libc_mallopt``); elsewhere nothing changes. Measured, not
    asserted: 133 → 117 MB peak RSS on a warm L run (arenas), 345-357 → 297-305 MB on
    an XL ``--report`` run (threshold)."""
    from pve_backup_report.cli import _tune_malloc

    assert _tune_malloc() is (platform.libc_ver()[0] == "glibc")


_LARGE_BLOCKS = """
import ctypes, sys
from pve_backup_report.cli import _tune_malloc

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    )]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
if sys.argv[1] == "tuned":
    assert _tune_malloc()
libc.free(libc.malloc(8 << 20))  # a large answer, freed
before = libc.mallinfo2().hblks
block = libc.malloc(3 << 20)  # the next large one
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or sys.maxsize <= 2**32, reason="64-bit glibc only"
)
@pytest.mark.parametrize(("mode", "mapped"), [("default", "0"), ("tuned", "1")])
def test_large_blocks_stay_mapped_after_one_is_freed(mode: str, mapped: str) -> None:
    """glibc ``malloc/malloc.c``: freeing a mapped block raises the mapping threshold to
    its size (``free``, unless ``mp_.no_dyn_threshold``), so the next large block comes
    from the heap and stays in the process once freed; ``_tune_malloc`` fixes the
    threshold at 1 MiB (``do_set_mmap_threshold``). Shown in a child process, by the
    number of mapped blocks glibc counts (``mallinfo2``, glibc 2.33)."""
    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("glibc older than 2.33: no mallinfo2")
    # glibc's own tuning from the environment would change what it does by default
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "LD_PRELOAD")
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _LARGE_BLOCKS, mode],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    assert done.stdout.strip() == mapped


def test_a_run_without_config_or_env_file_does_not_import_yaml_or_dotenv(tmp_path: Path) -> None:
    """PyYAML and python-dotenv are imported where a config or env file is read
    (``config.read_yaml_file``, ``read_env_file``); the command line only looks for them
    so that a missing one is still the one-line UNKNOWN. Importing them took about 6 ms
    of every run's start, mostly PyYAML's. Shown in a child process: every module a check
    or report run imports, then a config file read."""
    code = """
import sys
from pathlib import Path
import pve_backup_report.cli, pve_backup_report.commands, pve_backup_report.pipeline
import pve_backup_report.output.check, pve_backup_report.output.report
print(sorted(m for m in ("yaml", "dotenv") if m in sys.modules))
from pve_backup_report.config import read_yaml_file
print(read_yaml_file(sys.argv[1]), "yaml" in sys.modules)
"""
    config = tmp_path / "c.yml"
    config.write_text("host: pve.example\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["[]", "{'host': 'pve.example'} True"]


@pytest.mark.parametrize(("module", "flag", "text"), [
    ("yaml", "--config", "host: pve.example\n"),
    ("dotenv", "--env-file", "PVE_HOST=pve.example\n"),
])  # fmt: skip
def test_a_broken_yaml_or_dotenv_is_named_when_its_file_is_read(
    tmp_path: Path, module: str, flag: str, text: str
) -> None:
    """The command line only looks for PyYAML and python-dotenv; one that is there but
    cannot be imported (here a package of that name ahead on the path that raises
    ImportError, as a broken installation does) is named in the same one line, UNKNOWN,
    when its file is read, not an internal error (found by review)."""
    shadow = tmp_path / "shadow"
    (shadow / module).mkdir(parents=True)
    (shadow / module / "__init__.py").write_text("raise ImportError('broken')\n")
    given = tmp_path / "settings"
    given.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", flag, str(given), "--check-api"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stderr == ""
    assert out.stdout.startswith(f"PVE_BACKUP UNKNOWN - missing Python module {module}: install")
    assert out.stdout.count("\n") == 1
