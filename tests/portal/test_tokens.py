"""Access tokens expire; renewing them spends a refresh token that works once, so however
many workers find a token expired at once, the OAuth server is asked once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from biconnector.errors import PortalError
from biconnector.portal.lifecycle import Lifecycle
from tests.portal.conftest import App, app_settings
from tests.support.bitrix import FakeBitrix

MEMBER = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"


def test_an_expired_access_token_is_renewed_and_kept(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))
    bitrix.expire_access_tokens(MEMBER)
    lifecycle = app.lifecycle()
    portal = lifecycle.portals.get(MEMBER)
    assert portal is not None

    lifecycle.register(portal)

    assert bitrix.refreshes == 1
    renewed = lifecycle.portals.get(MEMBER)
    assert renewed is not None
    assert renewed.tokens.refresh_token == bitrix.last_refresh_token(MEMBER)
    assert renewed.tokens.access_token != portal.tokens.access_token
    # The renewal's answer names the OAuth server as its domain; the portal's stays.
    assert renewed.domain == portal.domain
    assert not renewed.tokens.expired()
    lifecycle.register(renewed)
    assert bitrix.refreshes == 1
    lifecycle.close()


def test_workers_renewing_at_once_spend_the_refresh_token_once(
    bitrix: FakeBitrix, tmp_path: Path, every_state_url: str
) -> None:
    settings = app_settings(bitrix, tmp_path, app_database_url=every_state_url)
    installer = Lifecycle(settings)
    installer.portals.upgrade()
    bitrix.add_portal(MEMBER)
    installer.install(bitrix.install_event(MEMBER))
    bitrix.expire_access_tokens(MEMBER)
    bitrix.delay = 0.3  # long enough for every worker to find the token expired
    # Each worker has its own Lifecycle, so its own connections, as processes would.
    workers = [Lifecycle(settings) for _ in range(4)]
    stale = installer.portals.get(MEMBER)
    assert stale is not None
    errors: list[BaseException] = []

    def work(lifecycle: Lifecycle) -> None:
        try:
            lifecycle.register(stale)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert bitrix.refreshes == 1
    kept = installer.portals.get(MEMBER)
    assert kept is not None
    assert kept.tokens.refresh_token == bitrix.last_refresh_token(MEMBER)
    for lifecycle in [installer, *workers]:
        lifecycle.close()


def test_a_refresh_token_the_oauth_server_refuses_is_a_portal_error(
    app: App, bitrix: FakeBitrix
) -> None:
    bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))
    lifecycle = app.lifecycle()
    portal = lifecycle.portals.get(MEMBER)
    assert portal is not None
    bitrix.expire_access_tokens(MEMBER)
    lifecycle.register(portal)  # spends the stored refresh token
    # Another copy of the state, restored from a backup, holds the spent one.
    lifecycle.portals.save(portal, "whatever")
    bitrix.expire_access_tokens(MEMBER)

    with pytest.raises(PortalError, match="reinstall the application"):
        lifecycle.register(portal)
    lifecycle.close()
