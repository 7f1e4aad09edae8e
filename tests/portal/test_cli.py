"""`biconnector portals ...`: the installed portals, and their connectors registered again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from biconnector.settings import Settings
from tests.portal.conftest import App
from tests.support.bitrix import FakeBitrix

MEMBER = "1a2b3c4d5e6f708192a3b4c5d6e7f809"


def _cli(settings: Settings, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    assert settings.bitrix24_client_secret
    assert settings.app_secret
    variables = {
        "PATH": os.environ["PATH"],
        "STATE_DIR": str(settings.state_dir),
        "APP_DOMAIN": settings.app_domain,
        "APP_DATABASE_URL": settings.database_url,
        "APP_SECRET": settings.app_secret.get_secret_value(),
        "BITRIX24_PHP_SDK_APPLICATION_CLIENT_ID": settings.bitrix24_client_id,
        "BITRIX24_PHP_SDK_APPLICATION_CLIENT_SECRET":
            settings.bitrix24_client_secret.get_secret_value(),
        "BITRIX24_OAUTH_URL": settings.bitrix24_oauth_url,
        "BITRIX24_CA_FILE": str(settings.bitrix24_ca_file),
        **env,
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "biconnector", *args],
        cwd=cwd, env=variables, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_portals_are_listed(app: App, bitrix: FakeBitrix, tmp_path: Path) -> None:
    installation = bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))

    listed = _cli(app.settings, tmp_path, "portals", "list")

    assert listed.returncode == 0, listed.stderr
    assert MEMBER in listed.stdout
    assert installation.domain in listed.stdout


def test_register_moves_the_connectors_to_a_new_app_domain(
    app: App, bitrix: FakeBitrix, tmp_path: Path
) -> None:
    bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))
    before = dict(bitrix.portal(MEMBER).connectors)

    done = _cli(app.settings, tmp_path, "portals", "register",
                APP_DOMAIN="https://bi.example.com/connector")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "updated" in done.stdout
    after = bitrix.portal(MEMBER).connectors
    assert after.keys() == before.keys()
    for connector in after.values():
        assert connector["urlData"].startswith("https://bi.example.com/connector/connectors/")
    handlers = [e["handler"] for e in bitrix.portal(MEMBER).events]
    assert handlers == ["https://bi.example.com/connector/uninstall"]


def test_register_names_a_portal_that_is_not_installed(app: App, tmp_path: Path) -> None:
    done = _cli(app.settings, tmp_path, "portals", "register", "00000000000000000000000000000000")

    assert done.returncode == 1
    assert "no such portal" in done.stderr


def test_renew_renews_every_portals_tokens(app: App, bitrix: FakeBitrix, tmp_path: Path) -> None:
    for member in (MEMBER, "2b3c4d5e6f708192a3b4c5d6e7f8091a"):
        bitrix.add_portal(member)
        app.post_event("/install", bitrix.install_event(member))

    done = _cli(app.settings, tmp_path, "portals", "renew")

    assert done.returncode == 0, done.stderr
    assert done.stdout.count("tokens renewed") == 2
    assert bitrix.refreshes == 2
    kept = app.lifecycle().portals.get(MEMBER)
    assert kept is not None
    assert kept.tokens.refresh_token == bitrix.last_refresh_token(MEMBER)
