"""The wheel and sdist ``python -m build`` makes install into a clean venv and work.

The README documents installing from a checkout or from a wheel (the package is not on
PyPI). This builds both (the wheel is built from the sdist, so the sdist is complete),
installs the wheel into a new virtualenv outside the checkout (first without its
dependencies: a one-line UNKNOWN naming the missing module), and runs ``--version``,
``--demo`` without ``trustme`` (a one-line UNKNOWN saying what to install) and
``--demo`` with the ``demo`` extra (the bundled scenario: its data file is in the wheel).
The dependencies come from the package index, as on a real install.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pve_backup_report import __version__

REPO = Path(__file__).resolve().parents[1]
DEV_PLUGIN = Path(sys.executable).parent / "check_pve_backup"


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _without_timing(output: str) -> str:
    return re.sub(r"collect_time=[0-9.]+s", "collect_time=Xs", output)


def _build(outdir: Path) -> tuple[Path, Path]:
    if importlib.util.find_spec("build") is None:
        pytest.fail("the 'build' package is missing: pip install -e '.[dev]'", pytrace=False)
    _ok(_run([sys.executable, "-m", "build", "--outdir", str(outdir), str(REPO)], REPO))
    wheels, sdists = list(outdir.glob("*.whl")), list(outdir.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(outdir.iterdir())
    return wheels[0], sdists[0]


def _check_contents(wheel: Path, sdist: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pve_sim/demo.py" in names  # what --demo builds its cluster from
    assert "pve_backup_report/py.typed" in names
    assert not any(n.startswith(("tests/", "icinga/")) for n in names)
    prefix = sdist.name.removesuffix(".tar.gz") + "/"
    with tarfile.open(sdist) as tar:
        members = {m.name.removeprefix(prefix) for m in tar.getmembers()}
    for needed in (
        "icinga/pve_backup.conf",
        "icinga/nagios/pve_backup-commands.cfg",
        "icinga/director/pve_backup-basket.json",
        "docs/configuration.md",
        "config.example.yaml",
        "tests/conftest.py",
        "src/pve_sim/demo.py",
    ):
        assert needed in members, f"{needed} missing from the sdist"


def test_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    wheel, sdist = _build(tmp_path / "dist")
    assert wheel.name == f"check_pve_backup-{__version__}-py3-none-any.whl"
    _check_contents(wheel, sdist)

    venv, work = tmp_path / "venv", tmp_path / "elsewhere"
    work.mkdir()
    _ok(_run([sys.executable, "-m", "venv", str(venv)], work))
    pip = str(venv / "bin/pip")
    _ok(_run([pip, "install", "--quiet", "--no-deps", str(wheel)], work))
    plugin = str(venv / "bin/check_pve_backup")
    no_deps = _run([plugin, "--version"], work)  # a dependency missing: one line, UNKNOWN
    assert no_deps.returncode == 3
    assert re.fullmatch(
        r"PVE_BACKUP UNKNOWN - missing Python module \w+: install check_pve_backup with its "
        r"dependencies \(pip install <wheel or checkout>\) for \S+/venv/bin/python[0-9.]*\n",
        no_deps.stdout,
    ), no_deps.stdout + no_deps.stderr

    _ok(_run([pip, "install", "--quiet", str(wheel)], work))
    where = _ok(
        _run(
            [str(venv / "bin/python"), "-c", "import pve_backup_report as p; print(p.__file__)"],
            work,
        )
    )
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout

    version = _run([plugin, "--version"], work)
    assert version.returncode == 3  # like --help: a plugin never exits 0 without a check
    assert __version__ in version.stdout

    no_trustme = _run([plugin, "--demo"], work)
    assert no_trustme.returncode == 3
    assert no_trustme.stderr == ""
    lines = no_trustme.stdout.splitlines()
    assert len(lines) == 1, no_trustme.stdout
    assert lines[0].startswith("PVE_BACKUP UNKNOWN - --demo needs the Python package trustme: ")
    assert re.search(rf"{re.escape(str(venv))}/bin/python[0-9.]* -m pip install trustme$", lines[0])
    assert "internal error" not in lines[0]
    assert "--cert" not in lines[0] and "--key" not in lines[0]  # simulator-only flags

    _ok(_run([pip, "install", "--quiet", f"{wheel}[demo]"], work))
    demo = _run([plugin, "--demo", "-v"], work)
    assert demo.returncode in (0, 1, 2), demo.stdout + demo.stderr
    assert demo.stdout.startswith("PVE_BACKUP ")
    assert "guests_total=" in demo.stdout
    # The same output as the checkout's own install: nothing is missing from the wheel.
    reference = _run([str(DEV_PLUGIN), "--demo", "-v"], work)
    assert _without_timing(demo.stdout) == _without_timing(reference.stdout)
    assert demo.returncode == reference.returncode
