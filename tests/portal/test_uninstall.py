"""Uninstalling: the event must carry the application token kept at installation."""

from __future__ import annotations

from tests.portal.conftest import App
from tests.support.bitrix import FakeBitrix

MEMBER = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def test_uninstall_forgets_the_portal(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))

    response = app.post_event("/uninstall", bitrix.uninstall_event(MEMBER))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "uninstalled"
    assert app.lifecycle().portals.get(MEMBER) is None


def test_a_forged_uninstall_is_refused_and_the_portal_kept(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))

    response = app.post_event(
        "/uninstall", bitrix.uninstall_event(MEMBER, application_token="guessed")
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "install_refused"
    assert app.lifecycle().portals.get(MEMBER) is not None


def test_uninstalling_an_unknown_portal_changes_nothing(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)

    response = app.post_event("/uninstall", bitrix.uninstall_event(MEMBER))

    assert response.status_code == 200
    assert response.json()["status"] == "not_installed"


def test_a_reinstall_replaces_the_application_token(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    first = bitrix.install_event(MEMBER)
    app.post_event("/install", first)
    bitrix.portal(MEMBER).application_token = "rotated-" + bitrix.portal(MEMBER).application_token
    app.post_event("/install", bitrix.install_event(MEMBER))

    stale = app.post_event(
        "/uninstall",
        bitrix.uninstall_event(MEMBER, application_token=first["auth"]["application_token"]),
    )
    assert stale.status_code == 403
    assert app.post_event("/uninstall", bitrix.uninstall_event(MEMBER)).status_code == 200
