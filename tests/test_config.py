"""Configuration: precedence, validation, secret handling."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from pve_backup_report.config import (
    SPECS,
    Secret,
    Sources,
    Spec,
    load_settings,
    merge,
    parse_duration,
    parse_fingerprint,
    parse_hosts,
    parse_max_age,
    redact,
)
from pve_backup_report.errors import ConfigError

CANARY = "canary-5ecr3t-0f-the-t0ken"


def test_hosts_are_normalised() -> None:
    assert parse_hosts("pve1.example.org, https://10.0.0.2:8006/api2/json,http://h:80") == (
        "https://pve1.example.org:8006",
        "https://10.0.0.2:8006",
        "http://h:80",
    )
    assert parse_hosts("[::1]") == ("https://[::1]:8006",)
    for bad in ("", " , ", "ftp://x", "https://h:99999", "https://h/other"):
        with pytest.raises(ValueError):
            parse_hosts(bad)


def test_durations_and_max_age() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("45m") == 2700
    assert parse_duration("26h") == 93600
    assert parse_duration("8d") == 691200
    assert parse_duration("1w") == 604800
    assert parse_max_age("26h,50h") == (93600, 180000)
    assert parse_max_age("2d") == (172800, 172800)
    with pytest.raises(ValueError):
        parse_max_age("50h,26h")
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_fingerprint_normalised() -> None:
    fp = "ab" * 32
    assert parse_fingerprint(fp) == ":".join(["AB"] * 32)
    with pytest.raises(ValueError):
        parse_fingerprint("AB:CD")


def test_precedence_cli_env_envfile_yaml_default() -> None:
    yaml_layer = {"host": "yaml-host", "request_timeout": 7, "history_days": 3, "max_workers": 2}
    env_file = {"PVE_HOST": "file-host", "PVE_TIMEOUT": "6", "PVE_HISTORY_DAYS": "4"}
    environ = {"PVE_HOST": "env-host", "PVE_TIMEOUT": "5"}
    cli = {"hosts": "cli-host"}
    s = merge(Sources(cli=cli, environ=environ, env_file=env_file, yaml=yaml_layer))
    assert s.hosts == ("https://cli-host:8006",)
    assert s.request_timeout == 5.0  # environment beats .env and YAML
    assert s.history_days == 4  # .env beats YAML
    assert s.max_workers == 2  # YAML beats the default
    assert s.task_log_limit == 500000  # default


def test_invalid_value_names_setting_and_source() -> None:
    with pytest.raises(ConfigError, match=r"PVE_TIMEOUT \(environment\): must be a number"):
        merge(Sources(environ={"PVE_TIMEOUT": "abc"}))
    with pytest.raises(ConfigError, match=r"api_token_id .*user@realm!tokenname"):
        merge(Sources(yaml={"api_token_id": "root"}, yaml_path="c.yaml"))


def test_secret_never_shows() -> None:
    s = merge(Sources(environ={"PVE_API_TOKEN_SECRET": CANARY}))
    assert s.token_secret is not None
    assert s.token_secret.reveal() == CANARY
    for text in (repr(s), str(s), f"{s.token_secret}", repr(s.token_secret)):
        assert CANARY not in text
    assert redact(f"boom {CANARY} boom") == "boom ******** boom"


def test_secret_file_and_permission_warning(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_text(CANARY + "\n")
    os.chmod(f, 0o644)
    s = merge(Sources(environ={"PVE_API_TOKEN_SECRET_FILE": str(f)}))
    assert s.token_secret == Secret(CANARY)
    assert len(s.secret_warnings) == 1 and "chmod o-rwx" in s.secret_warnings[0]
    for mode in (0o600, 0o640, 0o440, 0o400):  # 0640 root:nagios is the documented setup
        os.chmod(f, mode)
        assert merge(Sources(environ={"PVE_API_TOKEN_SECRET_FILE": str(f)})).secret_warnings == ()
    f.write_text("two\nlines\n")
    with pytest.raises(ConfigError, match="only the secret"):
        merge(Sources(environ={"PVE_API_TOKEN_SECRET_FILE": str(f)}))
    with pytest.raises(ConfigError, match="cannot read token secret file"):
        merge(Sources(environ={"PVE_API_TOKEN_SECRET_FILE": str(tmp_path / "missing")}))


def test_yaml_file_profiles_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("host: base\napi_token_id: 'a@pve!b'\nclusters:\n  lab:\n    host: lab1,lab2\n")
    s = load_settings({}, {}, str(cfg), None, cluster="lab")
    assert s.hosts == ("https://lab1:8006", "https://lab2:8006")
    assert s.token_id == "a@pve!b"
    assert s.cluster == "lab"
    with pytest.raises(ConfigError, match="no cluster 'prod' \\(known: lab\\)"):
        load_settings({}, {}, str(cfg), None, cluster="prod")
    cfg.write_text("hots: x\n")
    with pytest.raises(ConfigError, match="unknown setting 'hots'"):
        load_settings({}, {}, str(cfg), None)
    cfg.write_text("host: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_settings({}, {}, str(cfg), None)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings({}, {}, str(tmp_path / "nope.yaml"), None)


def test_env_file_default_and_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PVE_HOST=from-dotenv\n# comment\nPVE_TIMEOUT='3'\n")
    s = load_settings({}, {}, None, None)
    assert s.hosts == ("https://from-dotenv:8006",)
    assert s.request_timeout == 3.0
    other = tmp_path / "other.env"
    other.write_text("export PVE_HOST=other\n")
    assert load_settings({}, {}, None, str(other)).hosts == ("https://other:8006",)
    with pytest.raises(ConfigError, match="cannot read env file"):
        load_settings({}, {}, None, str(tmp_path / "missing.env"))


def test_secret_file_flag_beats_secret_in_environment(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_text("from-file\n")
    os.chmod(f, 0o600)
    s = merge(
        Sources(
            cli={"token_secret_file": str(f)},
            environ={"PVE_API_TOKEN_SECRET": "from-env"},
        )
    )
    assert s.token_secret == Secret("from-file")
    s = merge(
        Sources(
            environ={"PVE_API_TOKEN_SECRET": "from-env"},
            yaml={"api_token_secret_file": str(f)},
        )
    )
    assert s.token_secret == Secret("from-env")


def test_flag_errors_name_the_flag() -> None:
    """A flag is named with the Icinga custom variable the CheckCommand sets it from."""
    with pytest.raises(
        ConfigError, match=r"^--token-id \(Icinga: vars.pve_backup_token_id\): must look like"
    ):
        merge(Sources(cli={"token_id": "root"}))
    with pytest.raises(ConfigError, match=r"^--host \(Icinga: vars.pve_backup_host\): "):
        merge(Sources(cli={"hosts": "ftp://x"}))
    with pytest.raises(ConfigError, match=r"^--warn-stale \(Icinga: vars.pve_backup_warn_stale\)"):
        merge(Sources(cli={"thresholds": {"warn_stale": "5:1"}}))


def test_threshold_errors_name_the_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^thresholds.warn_foo \(config file c.yaml\): unknown"):
        merge(Sources(yaml={"thresholds": {"warn_foo": "0"}}, yaml_path="c.yaml"))
    with pytest.raises(ConfigError, match=r"^thresholds.crit_stale \(config file c.yaml\): inv"):
        merge(Sources(yaml={"thresholds": {"crit_stale": "x"}}, yaml_path="c.yaml"))
    # the threshold flags do not hide a malformed thresholds: mapping (it was an internal
    # error, a ValueError, while the flags' values passed for the whole setting)
    with pytest.raises(ConfigError, match=r"^thresholds \(config file c.yaml\): must be a map"):
        merge(
            Sources(
                cli={"thresholds": {"warn_stale": "1"}},
                yaml={"thresholds": "x"},
                yaml_path="c.yaml",
            )
        )


@pytest.mark.parametrize("spec", [s for s in SPECS if s.default is not None], ids=lambda s: s.name)
def test_a_default_given_explicitly_changes_nothing(spec: Spec) -> None:
    """Each default in SPECS is what a user could write (--help shows some), and it is
    what Settings holds when nothing is set."""
    assert spec.default is not None
    given = merge(Sources(yaml={spec.yaml: spec.default}, yaml_path="c.yaml"))
    assert dataclasses.replace(given, origins={}) == merge(Sources())


def test_origins_name_where_each_value_came_from(tmp_path: Path) -> None:
    s = merge(
        Sources(
            cli={"verify_tls": False},
            environ={"PVE_HOST": "http://pve1"},
            yaml={"max_output": 65536},
            yaml_path="c.yaml",
        )
    )
    assert s.origin("verify_tls", "?") == "--insecure (Icinga: vars.pve_backup_insecure)"
    assert s.origin("hosts", "?") == "PVE_HOST (environment)"
    assert (
        s.max_output == 65536 and s.origin("max_output", "?") == "max_output (config file c.yaml)"
    )
    assert s.origin("ca_bundle", "none") == "none"
    assert merge(Sources(environ={"PVE_MAX_OUTPUT": "0"})).max_output == 0  # no limit
    with pytest.raises(ConfigError, match=r"^PVE_MAX_OUTPUT \(environment\): must be between"):
        merge(Sources(environ={"PVE_MAX_OUTPUT": "-1"}))


def test_verify_tls_given_a_path_suggests_the_ca_bundle_setting() -> None:
    with pytest.raises(ConfigError, match=r"set PVE_CA_BUNDLE to '/etc/pve/pve-root-ca.pem'$"):
        merge(Sources(environ={"PVE_VERIFY_TLS": "/etc/pve/pve-root-ca.pem"}))
    with pytest.raises(ConfigError, match=r"^verify_tls \(config file c.yaml\): .* set ca_bundle "):
        merge(Sources(yaml={"verify_tls": "ca.pem"}, yaml_path="c.yaml"))


def test_ca_bundle_that_is_not_pem_says_so(tmp_path: Path) -> None:
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x03\x00" + bytes(64))  # a DER certificate starts like this
    with pytest.raises(ConfigError, match=r"^PVE_CA_BUNDLE \(environment\): .* is not a PEM"):
        merge(Sources(environ={"PVE_CA_BUNDLE": str(der)}))
    with pytest.raises(ConfigError, match=r"^--ca-bundle .*: cannot read CA bundle"):
        merge(Sources(cli={"ca_bundle": str(tmp_path / "missing.pem")}))
