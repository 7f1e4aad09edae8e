"""Settings: names, defaults, validation, and documentation kept honest."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from biconnector.errors import ConnectorError
from biconnector.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = [name.upper() for name in Settings.model_fields]


@pytest.mark.parametrize(
    ("name", "level"),
    [("DEBUG", logging.DEBUG), ("notice", logging.INFO), ("WARNING", logging.WARNING),
     ("ALERT", logging.CRITICAL), ("EMERGENCY", logging.CRITICAL)],
    ids=["debug", "notice-lower-case", "warning", "alert", "emergency"],
)  # fmt: skip
def test_log_levels_of_the_php_implementation_are_understood(name: str, level: int) -> None:
    assert Settings(_env_file=None, log_level=name).logging_level == level


@pytest.mark.parametrize(
    ("variable", "value", "hint"),
    [("LOG_LEVEL", "LOUD", "DEBUG"), ("EXPORT_TIMEZONE", "Mars/Base", "IANA"),
     ("DB_CONNECTION_TIMEOUT", "0", "greater than 0"), ("APP_ENV", "staging", "production")],
    ids=["log-level", "time-zone", "timeout", "app-env"],
)  # fmt: skip
def test_an_invalid_variable_stops_the_start_naming_it(
    variable: str, value: str, hint: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "biconnector", "serve"],
        env={"PATH": "/usr/bin:/bin", variable: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert variable in result.stderr
    assert hint in result.stderr


def test_production_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "biconnector", "serve"],
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "production", "APP_SECRET": "s" * 40},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "BITRIX24_CLIENT_ID" in result.stderr
    assert "BITRIX24_CLIENT_SECRET" in result.stderr
    assert "APP_SECRET" not in result.stderr


def test_production_needs_an_https_app_domain() -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings(
            _env_file=None, app_env="production", app_secret="p" * 32,
            app_domain="http://bi.example.com",
            bitrix24_client_id="id", bitrix24_client_secret="secret",
        )  # fmt: skip


def test_a_short_app_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(_env_file=None, app_secret="short")


def test_the_php_implementations_application_variables_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BITRIX24_PHP_SDK_APPLICATION_CLIENT_ID", "local.abc.123")
    monkeypatch.setenv("BITRIX24_PHP_SDK_APPLICATION_CLIENT_SECRET", "the-secret")
    monkeypatch.setenv("BITRIX24_PHP_SDK_APPLICATION_SCOPE", "biconnector,user")

    settings = Settings(_env_file=None)

    assert settings.bitrix24_client_id == "local.abc.123"
    assert settings.bitrix24_client_secret is not None
    assert settings.bitrix24_client_secret.get_secret_value() == "the-secret"
    assert settings.bitrix24_scope == "biconnector,user"


def test_unsigned_calls_are_allowed_in_development_only() -> None:
    assert Settings(_env_file=None).unsigned_calls_allowed
    production = Settings(
        _env_file=None, app_env="production", app_secret="p" * 32,
        app_domain="https://bi.example.com",
        bitrix24_client_id="id", bitrix24_client_secret="secret",
    )  # fmt: skip
    assert not production.unsigned_calls_allowed


def test_settings_are_read_from_a_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("EXPORT_TIMEZONE=Europe/Berlin\nDB_CONNECTION_TIMEOUT=4.5\n")
    monkeypatch.chdir(tmp_path)

    settings = Settings()

    assert settings.export_timezone == "Europe/Berlin"
    assert settings.db_connection_timeout == 4.5


def test_the_defaults_need_nothing_configured() -> None:
    settings = Settings(_env_file=None)

    assert settings.app_env == "development"
    assert settings.export_timezone == "UTC"


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, db_statement_timeout=0)


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_setting_is_documented(variable: str) -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()

    assert re.search(rf"^{variable}=", example, re.MULTILINE), f"{variable} not in .env.example"
    assert f"`{variable}`" in readme, f"{variable} not in the README"


@pytest.mark.parametrize("action", ["check", "table_list", "table_description", "data"])
def test_every_endpoint_is_in_the_readme(action: str) -> None:
    readme = (ROOT / "README.md").read_text()

    assert f"/connectors/{{engine}}/{action}" in readme


def _error_classes(root: type[ConnectorError]) -> list[type[ConnectorError]]:
    return [root, *(c for sub in root.__subclasses__() for c in _error_classes(sub))]


@pytest.mark.parametrize("error", _error_classes(ConnectorError), ids=lambda error: error.code)
def test_every_error_code_is_in_the_readme(error: type[ConnectorError]) -> None:
    readme = (ROOT / "README.md").read_text()

    assert f"| {error.status_code} | `{error.code}` |" in readme


def test_every_make_target_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()

    for target in set(re.findall(r"`make ([a-z-]+)`", readme)):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_the_example_file_is_a_valid_configuration_of_the_defaults(tmp_path: Path) -> None:
    example = tmp_path / ".env"
    example.write_text((ROOT / ".env.example").read_text())

    settings = Settings(_env_file=example)

    assert settings.cache_dir is None
    assert settings.cache_secret is None
    assert settings == Settings(_env_file=None)
