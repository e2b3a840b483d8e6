"""Settings: one pydantic-settings class for defaults, environment and command line, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from fst import resources
from fst.web.cli import _parser, main, settings_from_args, settings_options
from fst.web.settings import Settings, SettingsError, load_settings


def test_defaults_come_from_fst_resources(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FST_ASSETS", str(tmp_path))
    monkeypatch.setenv("FST_CHECKPOINTS", str(tmp_path / "ckpt"))
    settings = load_settings()
    assert settings.checkpoints_dir == tmp_path / "ckpt" == resources.checkpoints_dir()
    assert settings.paintings_dir == tmp_path / "paintings"


def test_without_assets_there_is_no_gallery(monkeypatch) -> None:
    monkeypatch.delenv("FST_ASSETS", raising=False)
    monkeypatch.setattr(resources, "assets_dir", lambda: None)
    assert load_settings().paintings_dir is None


def test_environment_then_command_line(monkeypatch) -> None:
    monkeypatch.setenv("FST_WEB_PORT", "9001")
    monkeypatch.setenv("FST_WEB_COMPILE", "off")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")
    settings = settings_from_args(_parser().parse_args(["--port", "9002"]))
    assert (settings.port, settings.compile, settings.database_url) == (9002, "off", "sqlite:///from-env.db")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("FST_WEB_COMPILE", "fast", "FST_WEB_COMPILE / --compile"),
        ("FST_WEB_UPLOADS_PER_MINUTE", "-1", "FST_WEB_UPLOADS_PER_MINUTE / --uploads-per-minute"),
        ("FST_WEB_PORT", "70000", "FST_WEB_PORT / --port"),
        ("FST_WEB_JOB_LEASE_S", "0", "FST_WEB_JOB_LEASE_S / --job-lease-s"),
        ("FST_WEB_DEVICE", "gpu", "FST_WEB_DEVICE / --device"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(monkeypatch, variable: str, value: str, named: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert named in str(refused.value) and repr(value) in str(refused.value)


def test_a_bad_option_stops_serve_py_with_the_reason(capsys) -> None:
    assert main(["--logins-per-minute", "-5", "admin", "users"]) == 2
    assert "--logins-per-minute" in capsys.readouterr().err


def test_replace_validates_too() -> None:
    with pytest.raises(SettingsError, match="FST_WEB_FREE_CREDITS"):
        Settings().replace(free_credits=-1)


def test_every_setting_but_secrets_is_an_option() -> None:
    # One source: a new field becomes an option (and its help names the variable) with no edit in cli.py.
    hidden = set(Settings.model_fields) - set(settings_options())
    assert hidden == {"secret_key", "stripe_secret_key", "stripe_webhook_secret", "smtp_password", "job_stall_s"}
    help_text = _parser().format_help()
    assert "FST_WEB_MAX_UPLOAD_PIXELS" in help_text and "{auto,on,off}" in help_text


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings(secret_key="s3cret-value", stripe_secret_key="sk_test_x")
    assert "s3cret-value" not in repr(settings) and "sk_test_x" not in repr(settings)
