"""The shipped monitoring configuration (icinga/): complete, in sync with --help, valid.

* The CheckCommand and the Director basket cover every option of the monitoring check
  and are exactly what ``icinga/gen_command.py`` generates from ``build_parser()``.
* ``icinga2 daemon -C`` accepts the CheckCommand, the service template and apply rule.
* ``nagios4 -v`` accepts the Nagios definitions.
* The NRPE snippet's command lines parse with the real argument parser.
"""

from __future__ import annotations

import argparse
import grp
import importlib.util
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from icinga_harness import ICINGA_DIR, IcingaSandbox, require_tool, run_as
from pve_backup_report.cli import build_parser
from pve_backup_report.config import read_env_file

REPO = ICINGA_DIR.parent
CONF = ICINGA_DIR / "pve_backup.conf"
SERVICE_CONF = ICINGA_DIR / "pve_backup-service.conf"
BASKET = ICINGA_DIR / "director" / "pve_backup-basket.json"
NAGIOS_DIR = ICINGA_DIR / "nagios"
NRPE_CFG = ICINGA_DIR / "nrpe" / "check_pve_backup.cfg"
NRPE_ENV = ICINGA_DIR / "nrpe" / "check_pve_backup.env.example"

# Modes for a human at a shell, not for a monitoring core (see gen_command.SKIP_OPTIONS).
DIAGNOSTIC = {"--check-api", "--explain-schedule", "--demo", "--format", "--help", "--version"}


def _load_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_command", ICINGA_DIR / "gen_command.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_command"] = module
    spec.loader.exec_module(module)
    return module


gen = _load_gen()


def _long(action: argparse.Action) -> str:
    return next(s for s in action.option_strings if s.startswith("--"))


def _conf_arguments(text: str) -> dict[str, str]:
    """Argument key -> its block body, from the committed CheckCommand."""
    block = text[text.index("arguments = {") :]
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'^\t\t"(-[^"]+)" = \{\n(.*?)^\t\t\}', block, re.M | re.S)
    }


# --------------------------------------------------------------------------- drift


def test_generated_files_are_up_to_date() -> None:
    assert gen.main(["--check"]) == 0, "run: python icinga/gen_command.py"


def test_checkcommand_covers_every_option_of_the_parser() -> None:
    parser = build_parser()
    args = _conf_arguments(CONF.read_text())
    skipped = gen._skipped(parser)
    assert skipped >= DIAGNOSTIC
    assert {"--dump-inventory", "--dump-coverage"} <= skipped  # the whole modes group
    covered = 0
    for action in parser._actions:
        key = _long(action)
        if key in skipped:
            assert key not in args, f"{key} is diagnostic-only and must not be in the command"
            continue
        var = f"$pve_backup_{action.dest}$"
        if key == "--verbose":
            assert {"-v", "-vv", "-vvv"} <= set(args)
            assert var in args["-v"] and var in args["-vvv"]
            continue
        assert key in args, f"{key} missing from icinga/pve_backup.conf"
        assert var in args[key], f"{key} should use the custom variable {var}"
        help_text = " ".join((action.help or "").split())
        if "%(" not in help_text:
            assert help_text in args[key], f"{key}: description not copied from --help"
        covered += 1
    assert covered >= 20
    assert set(args) - {"-v", "-vv", "-vvv"} <= {_long(a) for a in parser._actions}


def test_every_threshold_category_has_warn_and_crit() -> None:
    args = _conf_arguments(CONF.read_text())
    warns = {k[len("--warn-") :] for k in args if k.startswith("--warn-")}
    crits = {k[len("--crit-") :] for k in args if k.startswith("--crit-")}
    assert warns == crits
    assert {"not-covered", "failed", "stale", "never"} <= warns


def test_secret_only_in_env_and_verbose_by_default() -> None:
    text = CONF.read_text()
    assert 'env.PVE_API_TOKEN_SECRET = "$pve_backup_token_secret$"' in text
    assert text.count("$pve_backup_token_secret$") == 1, "the secret var must not be an argument"
    assert "vars.pve_backup_verbose = 1" in text
    assert 'command = [ PluginContribDir + "/check_pve_backup" ]' in text


def test_director_basket_matches_the_command() -> None:
    basket: dict[str, Any] = json.loads(BASKET.read_text())
    command = basket["Command"]["pve_backup"]
    conf_args = _conf_arguments(CONF.read_text())
    assert set(command["arguments"]) == set(conf_args)
    assert command["methods_execute"] == "PluginCheck"
    assert command["object_type"] == "object"
    assert command["vars"] == {"pve_backup_verbose": 1}
    fields = basket["Datafield"]
    varnames = {f["varname"] for f in fields.values()}
    for field_ref in command["fields"]:
        assert str(field_ref["datafield_id"]) in fields
    for key, arg in command["arguments"].items():
        macro = arg.get("value") or arg.get("set_if")
        var = re.search(r"\$(pve_backup_\w+)\$", macro).group(1)  # type: ignore[union-attr]
        assert var in varnames, f"{key}: no data field for {var}"
        if arg.get("set_if_format") == "expression":
            assert not macro.lstrip().startswith("{{"), "Director adds the {{ }} itself"
    # Director cannot set a command's env (Icinga/icingaweb2-module-director#2754), so the
    # basket has no secret variable at all: the secret stays in a file on the executing node.
    assert not re.search(r"pve_backup_token_secret(?!_file)", BASKET.read_text())
    template = basket["ServiceTemplate"]["pve-backup"]
    assert template["check_command"] == "pve_backup"
    assert template["object_type"] == "template"


def _basket_command_as_dsl(command: dict[str, Any], name: str) -> str:
    """Roughly what Director deploys for the basket's command (to let icinga2 check it)."""
    lines = [f'object CheckCommand "{name}" {{', f"  command = [ {command['command']} ]"]
    lines.append(f"  timeout = {int(command['timeout'])}s")
    lines.append("  arguments = {")
    for key, arg in command["arguments"].items():
        lines.append(f"    {json.dumps(key)} = {{")
        if "value" in arg:
            lines.append(f"      value = {json.dumps(arg['value'])}")
        if "set_if" in arg:
            if arg.get("set_if_format") == "expression":
                lines.append(f"      set_if = {{{{ {arg['set_if']} }}}}")
            else:
                lines.append(f"      set_if = {json.dumps(arg['set_if'])}")
        if arg.get("repeat_key"):
            lines.append("      repeat_key = true")
        if "description" in arg:
            lines.append(f"      description = {json.dumps(arg['description'])}")
        lines.append("    }")
    lines.append("  }")
    for var, value in command["vars"].items():
        lines.append(f"  vars.{var} = {json.dumps(value)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_director_basket_command_is_valid_icinga_dsl(tmp_path: Path) -> None:
    basket: dict[str, Any] = json.loads(BASKET.read_text())
    dsl = _basket_command_as_dsl(basket["Command"]["pve_backup"], "pve_backup_from_director")
    proc = IcingaSandbox(tmp_path).validate(dsl)
    assert proc.returncode == 0, dsl + proc.stdout + proc.stderr


# --------------------------------------------------------------------------- Icinga 2


def _cluster_hosts() -> str:
    return """
object Endpoint "pve-backup-test" { }
object Zone "master" { endpoints = [ "pve-backup-test" ] }
object Endpoint "satellite1" { }
object Zone "dmz" { endpoints = [ "satellite1" ]; parent = "master" }

object Host "pve-prod" {
  check_command = "dummy"
  vars.pve_backup_clusters["prod"] = {
    pve_backup_host = "pve1.example.com,pve2.example.com"
    pve_backup_token_id = "monitoring@pve!icinga"
    pve_backup_token_secret_file = "/etc/icinga2/pve-backup/prod.secret"
  }
  vars.pve_backup_clusters["lab"] = {
    pve_backup_env_file = "/etc/icinga2/pve-lab.env"
    pve_backup_verbose = 2
    pve_backup_max_age = "26h,50h"
  }
}

object Host "pve-dmz" {
  check_command = "dummy"
  zone = "master"
  vars.pve_backup_command_endpoint = "satellite1"
  vars.pve_backup_clusters["dmz"] = {
    pve_backup_host = "dmz1.example.com"
    pve_backup_token_secret_file = "/etc/icinga2/pve-dmz.secret"
  }
}

object Host "unrelated" { check_command = "dummy" }
"""


def test_icinga2_validates_the_shipped_config(tmp_path: Path) -> None:
    sandbox = IcingaSandbox(tmp_path, conf_files=(CONF, SERVICE_CONF))
    proc = sandbox.validate(_cluster_hosts())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Instantiated 3 Services" in proc.stdout

    services = sandbox.services()
    assert set(services) == {
        "pve-prod!pve-backup-prod",
        "pve-prod!pve-backup-lab",
        "pve-dmz!pve-backup-dmz",
    }
    prod = services["pve-prod!pve-backup-prod"]
    assert prod["check_command"] == "pve_backup"
    assert prod["display_name"] == "PVE backups prod"
    assert prod["vars"]["pve_backup_token_id"] == "monitoring@pve!icinga"
    assert prod["check_interval"] == 900
    assert prod["check_timeout"] == 60
    assert not prod.get("command_endpoint")
    assert services["pve-dmz!pve-backup-dmz"]["command_endpoint"] == "satellite1"


def test_icinga2_rejects_a_command_endpoint_outside_the_zone_tree(tmp_path: Path) -> None:
    # Proves the apply rule really sets command_endpoint (and that -C checks it).
    body = _cluster_hosts().replace(
        'object Zone "dmz" { endpoints = [ "satellite1" ]; parent = "master" }',
        'object Zone "dmz" { endpoints = [ "satellite1" ] }',
    )
    proc = IcingaSandbox(tmp_path, conf_files=(CONF, SERVICE_CONF)).validate(body)
    assert proc.returncode != 0
    assert "Command endpoint must be in zone 'master'" in proc.stdout + proc.stderr
    assert "pve-dmz!pve-backup-dmz" in proc.stdout + proc.stderr


def test_icinga2_validates_the_command_alone(tmp_path: Path) -> None:
    # pve_backup.conf must not depend on anything but the ITL (e.g. in a global zone).
    proc = IcingaSandbox(tmp_path).validate()
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- Nagios 4

STOCK_NAGIOS_CFG = Path("/etc/nagios4/nagios.cfg")  # Debian's nagios4-common
# Settings of the stock nagios.cfg that name a file or directory the daemon writes.
_NAGIOS_STATE_KEYS = {
    "log_file",
    "object_cache_file",
    "precached_object_file",
    "status_file",
    "command_file",
    "lock_file",
    "temp_file",
    "temp_path",
    "check_result_path",
    "state_retention_file",
    "log_archive_path",
    "debug_file",
}


def _stock_nagios_cfg() -> str:
    require_tool("nagios4", "nagios4-core")
    if not STOCK_NAGIOS_CFG.is_file():
        msg = f"{STOCK_NAGIOS_CFG} missing (Debian package nagios4-common)"
        if os.environ.get("CI"):
            pytest.fail(msg + " -- CI is set, so this test must not be skipped", pytrace=False)
        pytest.skip(msg)
    return STOCK_NAGIOS_CFG.read_text()


def _readme_block(heading: str, readme: str = "README.md") -> list[str]:
    """The command lines of the first ```sh block after ``heading`` in icinga/<readme>."""
    text = (ICINGA_DIR / readme).read_text()
    section = text[text.index(heading) :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, f"no sh block after {heading!r}"
    return [
        line
        for line in block.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _run_install_steps(lines: list[str], root: Path) -> list[str]:
    """Run the README's install/cp lines with /etc/ moved under ``root``.

    The ``nagios4 -v`` and ``systemctl`` lines are left to the caller. Ownership options
    are kept when the test runs as root and the group exists (CI), dropped otherwise.
    """
    keep_owner = os.geteuid() == 0 and _group_exists("nagios")
    ran = []
    for line in lines:
        if line.startswith(("nagios4 ", "systemctl ", "icinga2 ")):
            continue
        cmd = line.replace(" /etc/", f" {root}/etc/")
        if not keep_owner:
            cmd = re.sub(r" -o \S+ -g \S+", "", cmd)
        proc = subprocess.run(
            ["bash", "-c", "set -e; " + cmd],
            cwd=ICINGA_DIR,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, f"{line}\n{proc.stderr}"
        ran.append(line)
    return ran


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _nagios_cfg_from_stock(stock: str, root: Path, state: Path) -> str:
    """Debian's stock nagios.cfg, every value kept except where the daemon writes.

    The object files (``cfg_file=/etc/nagios4/objects/...``) are the real stock ones;
    ``cfg_dir=/etc/nagios4/conf.d`` is the copy under ``root`` the README filled.
    """
    user, group = run_as()
    out = []
    for line in stock.splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            out.append(line)
        elif key in _NAGIOS_STATE_KEYS:
            out.append(f"{key}={state / Path(value).name}")
        elif key == "cfg_dir" and value == "/etc/nagios4/conf.d":
            out.append(f"cfg_dir={root}{value}")
        elif key == "cfg_dir" and not Path(value).is_dir():
            continue  # a plugin package's directory that is not installed here
        elif key in ("nagios_user", "nagios_group"):
            out.append(f"{key}={user if key == 'nagios_user' else group}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _stock_value(stock: str, key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", stock, re.M)
    assert match is not None, f"{key} not in the stock nagios.cfg"
    return match.group(1)


@pytest.mark.parametrize("readme", ["README.md", "README.fr.md"])
def test_nagios4_validates_the_readme_install_with_stock_settings(
    tmp_path: Path, readme: str
) -> None:
    """The README's Nagios steps on a fresh Debian tree, then ``nagios4 -v`` as shipped.

    Every setting of Debian's stock ``nagios.cfg`` is kept (``illegal_object_name_chars``
    with its parentheses, the stock object files defining ``check-host-alive``, ``24x7``
    and ``admins``); only the files the daemon writes move to a temp dir. The directory
    for the .env file does not exist beforehand, as on a fresh install.
    """
    nagios = require_tool("nagios4", "nagios4-core")
    stock = _stock_nagios_cfg()
    root, state = tmp_path / "root", tmp_path / "state"
    (root / "etc/nagios4/conf.d").mkdir(parents=True)  # shipped by nagios4-common
    for sub in ("checkresults", "tmp", "archives"):  # the stock directories, moved
        (state / sub).mkdir(parents=True)
    (state / "nagios.cfg").write_text(_nagios_cfg_from_stock(stock, root, state))

    def verify() -> str:
        proc = subprocess.run(
            [nagios, "-v", str(state / "nagios.cfg")], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Total Errors:   0" in proc.stdout
        assert "Total Warnings: 0" in proc.stdout
        return proc.stdout

    stock_only = verify()
    lines = _readme_block("## Nagios 4", readme)
    assert any(line.startswith("nagios4 -v /etc/nagios4/nagios.cfg") for line in lines)
    assert len(_run_install_steps(lines, root)) >= 4
    env_file = root / "etc/nagios4/pve-backup/prod.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
    assert stat.S_IMODE(env_file.parent.stat().st_mode) == 0o750
    assert set(read_env_file(str(env_file))) >= {"PVE_HOST", "PVE_API_TOKEN_SECRET"}

    with_ours = verify()
    assert _checked(with_ours, "services") == _checked(stock_only, "services") + 2
    assert _checked(with_ours, "hosts") == _checked(stock_only, "hosts") + 1
    assert _checked(with_ours, "commands") == _checked(stock_only, "commands") + 2


def _checked(verify_output: str, kind: str) -> int:
    match = re.search(rf"Checked (\d+) {kind}\.", verify_output)
    assert match is not None, verify_output
    return int(match.group(1))


def test_nagios_object_names_avoid_the_stock_illegal_characters() -> None:
    illegal = set(_stock_value(_stock_nagios_cfg(), "illegal_object_name_chars"))
    assert set("()") <= illegal  # what made "PVE backups (strict age)" fail
    text = "\n".join(p.read_text() for p in NAGIOS_DIR.glob("*.cfg"))
    keys = ("host_name", "service_description", "command_name", "name")
    names = re.findall(rf"^\s+(?:{'|'.join(keys)})\s+(.+?)\s*$", text, re.M)
    assert len(names) >= 6
    for name in names:
        assert not set(name) & illegal, f"{name!r} has characters nagios4 rejects"


def _nagios_command_lines() -> dict[str, str]:
    text = "\n".join(p.read_text() for p in NAGIOS_DIR.glob("*.cfg"))
    blocks = re.findall(r"define command \{(.*?)\}", text, re.S)
    result = {}
    for block in blocks:
        fields = dict(line.strip().split(None, 1) for line in block.strip().splitlines())
        result[fields["command_name"]] = fields["command_line"]
    return result


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("check_pve_backup", ["/etc/x.env", "--max-age 26h,50h --report /tmp/r.md"]),
        ("check_pve_backup", ["/etc/x.env", ""]),
        ("check_pve_backup_config", ["/etc/x.yaml", "prod", "--lang fr"]),
    ],
)
def test_nagios_command_lines_parse(name: str, args: list[str]) -> None:
    line = _nagios_command_lines()[name]
    line = line.replace("$USER1$", "/usr/lib/nagios/plugins")
    for i, value in enumerate(args, start=1):
        line = line.replace(f"$ARG{i}$", value)
    assert "$" not in line
    argv = shlex.split(line)
    assert argv[0] == "/usr/lib/nagios/plugins/check_pve_backup"
    ns = build_parser().parse_args(argv[1:])
    assert ns.verbose == 1
    assert not (ns.check_api or ns.demo)


# --------------------------------------------------------------------------- NRPE


def test_nrpe_commands_are_fixed_and_parse() -> None:
    commands = [
        line.split("=", 1)
        for line in NRPE_CFG.read_text().splitlines()
        if line.startswith("command[")
    ]
    assert commands
    for key, line in commands:
        assert re.fullmatch(r"command\[check_pve_backup[\w-]*\]", key)
        assert "$ARG" not in line, "NRPE arguments must be fixed (dont_blame_nrpe=0)"
        argv = shlex.split(line)
        assert argv[0].endswith("/check_pve_backup")
        ns = build_parser().parse_args(argv[1:])
        assert ns.verbose == 1
        assert ns.env_file, "the secret comes from the --env-file"
    assert "dont_blame_nrpe=0" in NRPE_CFG.read_text()


def test_nrpe_env_example_is_a_valid_env_file(tmp_path: Path) -> None:
    values = read_env_file(str(NRPE_ENV))
    assert set(values) >= {"PVE_HOST", "PVE_API_TOKEN_ID", "PVE_API_TOKEN_SECRET"}


# --------------------------------------------------------------------------- French README


def test_french_readme_is_linked_and_has_the_same_commands() -> None:
    fr = ICINGA_DIR / "README.fr.md"
    assert "(README.fr.md)" in (ICINGA_DIR / "README.md").read_text()
    assert "(../../icinga/README.fr.md)" in (REPO / "docs/fr/README.md").read_text()
    assert "(README.md)" in fr.read_text()
    for heading_en, heading_fr in [
        ("## Icinga 2\n", "## Icinga 2\n"),
        ("### Keep the token secret", "### Gardez le secret du jeton"),
        ("### Running the check on a satellite", "### Exécuter la sonde sur un satellite"),
        ("## Nagios 4", "## Nagios 4"),
    ]:
        en_lines = [re.sub(r"\s+#.*$", "", line) for line in _readme_block(heading_en)]
        fr_lines = [re.sub(r"\s+#.*$", "", line) for line in _readme_block(heading_fr, fr.name)]
        assert en_lines == fr_lines, heading_en  # the same commands, comments translated


# --------------------------------------------------------------------------- install steps

# Directories the distribution packages create (Debian: nagios4-common, icinga2-common,
# nagios-nrpe-server, monitoring-plugins-basic; RHEL: the lib64 plugin directory).
_PACKAGED_DIRS = {
    "/etc/nagios4/conf.d",
    "/etc/icinga2",
    "/etc/icinga2/zones.d",
    "/etc/nagios",
    "/etc/nagios/nrpe.d",
    "/usr/lib/nagios/plugins",
    "/usr/lib64/nagios/plugins",
}
_DOCS_WITH_INSTALL_STEPS = (
    "README.md",
    "docs/fr/README.md",
    "icinga/README.md",
    "icinga/README.fr.md",
)


def _sh_blocks(text: str) -> list[list[list[str]]]:
    """Each ```sh block as a list of argvs (continuations joined, comments dropped)."""
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines = block.replace("\\\n", " ").splitlines()
        blocks.append([argv for line in lines if (argv := shlex.split(line, comments=True))])
    return blocks


def _destination_dirs(argv: list[str]) -> tuple[list[str], list[str]]:
    """(directories this command creates, directories it writes into)."""
    args = [a for a in argv[1:] if not a.startswith("-")]
    if argv[0] == "mkdir" or (argv[0] == "install" and "-d" in argv):
        return [a for a in args if a.startswith("/")], []
    if argv[0] == "install":  # install -m MODE [-o U -g G] SRC DEST: skip option values
        values = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-m", "-o", "-g")}
        args = [a for a in args if a not in values]
    if argv[0] in ("install", "cp", "ln") and args and args[-1].startswith("/"):
        dest = args[-1]
        return [], [dest.rstrip("/") if dest.endswith("/") else str(Path(dest).parent)]
    return [], []


@pytest.mark.parametrize("doc", _DOCS_WITH_INSTALL_STEPS)
def test_install_steps_create_the_directories_they_write_into(doc: str) -> None:
    """Every ``install``/``cp``/``ln`` into a directory the packages do not create comes
    after an ``install -d`` or ``mkdir -p`` of it in the same block."""
    checked = 0
    for block in _sh_blocks((REPO / doc).read_text()):
        created: set[str] = set()
        for argv in block:
            made, targets = _destination_dirs(argv)
            line = " ".join(argv)
            created.update(made)
            for target in targets:
                checked += 1
                assert target in created or target in _PACKAGED_DIRS, (
                    f"{doc}: `{line}` writes into {target}, which nothing creates "
                    "(add install -d / mkdir -p before it)"
                )
    assert checked >= 2
