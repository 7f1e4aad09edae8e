"""Connector calls are answered only for portals that installed the application: the
registered URLs carry a credential that only this service can make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.portal.conftest import App, app_settings, running_app, state_database
from tests.support.bitrix import FakeBitrix
from tests.support.databases import Database, postgres_admin
from tests.support.service import SENT_PASSWORDS

MEMBER = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"


def _connector(bitrix: FakeBitrix, source_code: str) -> dict[str, Any]:
    found = [c for c in bitrix.portal(MEMBER).connectors.values()
             if c["sourceCode"] == source_code]  # fmt: skip
    assert len(found) == 1
    SENT_PASSWORDS.add(found[0]["urlCheck"].split("signature=")[1])
    return found[0]


@pytest.fixture
def installed(app: App, bitrix: FakeBitrix) -> App:
    bitrix.add_portal(MEMBER)
    assert app.post_event("/install", bitrix.install_event(MEMBER)).status_code == 200
    return app


def _check(url: str, db: Database) -> httpx.Response:
    return httpx.post(url, json={"connection": db.connection()}, timeout=30)


def test_the_registered_urls_answer(installed: App, bitrix: FakeBitrix, pg_db: Database) -> None:
    connector = _connector(bitrix, "pgsql")

    assert _check(connector["urlCheck"], pg_db).status_code == 200
    listed = httpx.post(connector["urlTableList"], json={"connection": pg_db.connection()})
    assert listed.status_code == 200
    assert listed.json()


def test_a_call_without_a_credential_is_refused(installed: App, pg_db: Database) -> None:
    response = _check(f"{installed.url}/connectors/postgresql/check", pg_db)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "credential_missing"


def test_the_php_implementations_urls_are_refused_without_a_credential(
    installed: App, pg_db: Database
) -> None:
    response = _check(f"{installed.url}/?connection_type=postgresql&action=check", pg_db)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "query",
    [f"member_id={MEMBER}&signature=AAAA", f"member_id={MEMBER}", "signature=AAAA",
     "member_id=ffffffffffffffffffffffffffffffff&signature={signature}",
     f"member_id={MEMBER}&signature=%C3%A9%E2%82%AC"],
    ids=["wrong-signature", "no-signature", "no-member", "another-portals-signature",
         "not-ascii"],
)  # fmt: skip
def test_a_wrong_credential_is_refused(
    installed: App, bitrix: FakeBitrix, pg_db: Database, query: str
) -> None:
    signature = _connector(bitrix, "pgsql")["urlCheck"].split("signature=")[1]

    response = _check(
        f"{installed.url}/connectors/postgresql/check?{query.format(signature=signature)}", pg_db
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "credential_invalid"


def test_a_credential_is_refused_once_its_portal_uninstalls(
    installed: App, bitrix: FakeBitrix, pg_db: Database
) -> None:
    url = _connector(bitrix, "pgsql")["urlCheck"]
    installed.post_event("/uninstall", bitrix.uninstall_event(MEMBER))

    response = _check(url, pg_db)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "credential_invalid"


def test_a_credential_is_refused_under_another_app_secret(
    bitrix: FakeBitrix, tmp_path: Path, pg_db: Database
) -> None:
    bitrix.add_portal(MEMBER)
    settings = app_settings(bitrix, tmp_path)
    with running_app(settings) as app:
        app.post_event("/install", bitrix.install_event(MEMBER))
    url = _connector(bitrix, "pgsql")["urlCheck"]
    other = app_settings(bitrix, tmp_path, app_secret="another-secret-" + "x" * 32,
                         app_domain=settings.app_domain, bind_port=settings.bind_port)  # fmt: skip
    with running_app(other):
        assert _check(url, pg_db).status_code == 403


def test_unsigned_calls_are_allowed_when_the_setting_says_so(
    bitrix: FakeBitrix, tmp_path: Path, pg_db: Database
) -> None:
    settings = app_settings(bitrix, tmp_path, allow_unsigned_calls=True)
    with running_app(settings) as app:
        response = _check(f"{app.url}/?connection_type=postgresql&action=check", pg_db)
        wrong = _check(f"{app.url}/connectors/postgresql/check?member_id=x&signature=y", pg_db)

    assert response.status_code == 200
    assert wrong.status_code == 403


def test_the_credential_is_not_logged(
    installed: App, bitrix: FakeBitrix, pg_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    url = _connector(bitrix, "pgsql")["urlCheck"]
    signature = url.split("signature=")[1]

    with caplog.at_level("DEBUG"):
        assert _check(url, pg_db).status_code == 200

    # The service's own records; httpx is the test's client, and pytest also captures
    # uvicorn's access log, which `biconnector serve` switches off.
    service = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore", "uvicorn"))]
    assert service
    assert not [r for r in service if signature in r.getMessage() or signature in str(r.__dict__)]
    assert any(getattr(r, "portal", None) == MEMBER for r in service)


def test_a_signed_call_while_the_state_database_is_down_is_a_503(
    bitrix: FakeBitrix, tmp_path: Path, pg_db: Database
) -> None:
    bitrix.add_portal(MEMBER)
    with state_database("postgresql") as state_url:
        settings = app_settings(bitrix, tmp_path, app_database_url=state_url)
        with running_app(settings) as app:
            app.post_event("/install", bitrix.install_event(MEMBER))
            url = _connector(bitrix, "pgsql")["urlCheck"]
            name = state_url.rsplit("/", 1)[1]
            with postgres_admin("postgres") as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())

            response = _check(url, pg_db)
            ready = httpx.get(f"{app.url}/ready")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    assert ready.status_code == 503
