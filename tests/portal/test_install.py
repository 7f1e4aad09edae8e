"""Installing the application: the OAuth server is asked first, then the connectors are
registered on the portal, once per engine however often it is installed."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.portal.conftest import APP_SECRET, App, app_settings, running_app
from tests.support.bitrix import FakeBitrix

MEMBER = "a3f1c2b4d5e6f708192a3b4c5d6e7f80"


def test_install_registers_one_connector_per_engine(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)

    response = app.post_event("/install", bitrix.install_event(MEMBER))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "installed"
    connectors = list(bitrix.portal(MEMBER).connectors.values())
    assert sorted(c["sourceCode"] for c in connectors) == ["mysql", "pgsql"]
    for connector in connectors:
        engine = "mysql" if connector["sourceCode"] == "mysql" else "postgresql"
        for field, action in (
            ("urlCheck", "check"),
            ("urlTableList", "table_list"),
            ("urlTableDescription", "table_description"),
            ("urlData", "data"),
        ):
            url = urlsplit(connector[field])
            assert f"{url.scheme}://{url.netloc}" == app.url
            assert url.path == f"/connectors/{engine}/{action}"
            assert parse_qs(url.query)["member_id"] == [MEMBER]
        settings = {item["code"]: item["type"] for item in connector["settings"]}
        assert settings == {
            "host": "STRING",
            "port": "INT",
            "database": "STRING",
            "username": "STRING",
            "password": "STRING",
        }
        assert connector["title"]
        assert connector["description"]
        assert (
            base64.b64decode(connector["logo"].removeprefix("data:image/png;base64,"))[:8]
            == b"\x89PNG\r\n\x1a\n"
        )
    events = bitrix.portal(MEMBER).events
    assert [(e["event"], e["handler"]) for e in events] == [
        ("ONAPPUNINSTALL", f"{app.url}/uninstall")
    ]


def test_the_oauth_server_is_asked_before_the_portal(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)

    app.post_event("/install", bitrix.install_event(MEMBER))

    assert bitrix.calls[0] == ("oauth", "app.info")
    assert bitrix.calls[1][0] == "rest"


def test_reinstall_updates_and_never_duplicates(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    app.post_event("/install", bitrix.install_event(MEMBER))
    first = dict(bitrix.portal(MEMBER).connectors)

    for _ in range(2):
        response = app.post_event("/install", bitrix.install_event(MEMBER))
        assert response.status_code == 200, response.text

    assert bitrix.portal(MEMBER).connectors.keys() == first.keys()
    assert all(not item["added"] for item in response.json()["connectors"])
    assert len(bitrix.portal(MEMBER).events) == 1


def test_connectors_of_the_php_implementation_are_taken_over(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    php_mysql = bitrix.add_foreign_connector(MEMBER, {
        "title": "MySQL Database Connector",
        "description": "Connector for MySQL databases with authentication",
        "urlCheck": "https://old.example.com/?connection_type=mysql&action=check",
        "urlTableList": "https://old.example.com/?connection_type=mysql&action=table_list",
        "urlTableDescription":
            "https://old.example.com/?connection_type=mysql&action=table_description",
        "urlData": "https://old.example.com/?connection_type=mysql&action=data",
        "settings": [{"code": "host", "name": "Host", "type": "STRING"}],
        "sort": 100,
    })  # fmt: skip

    app.post_event("/install", bitrix.install_event(MEMBER))

    connectors = bitrix.portal(MEMBER).connectors
    assert len(connectors) == 2
    assert connectors[php_mysql]["sourceCode"] == "mysql"
    assert connectors[php_mysql]["urlData"].startswith(f"{app.url}/connectors/mysql/data?")


def test_a_portal_that_refuses_int_settings_gets_string_ones(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    bitrix.refuse_int_settings = True

    response = app.post_event("/install", bitrix.install_event(MEMBER))

    assert response.status_code == 200, response.text
    for connector in bitrix.portal(MEMBER).connectors.values():
        assert {item["type"] for item in connector["settings"]} == {"STRING"}


def test_a_token_the_oauth_server_does_not_know_is_refused(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    forged = bitrix.install_event(MEMBER)
    forged["auth"]["access_token"] = "forged-" + forged["auth"]["access_token"]

    response = app.post_event("/install", forged)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "install_refused"
    assert not [call for call in bitrix.calls if call[0] == "rest"]
    assert not app.lifecycle().portals.all()


def test_an_event_naming_another_portal_than_its_token_is_refused(
    app: App, bitrix: FakeBitrix
) -> None:
    bitrix.add_portal(MEMBER)
    other = bitrix.add_portal("ffffffffffffffffffffffffffffffff")
    event = bitrix.install_event(MEMBER)
    event["auth"]["member_id"] = other.member_id
    event["auth"]["domain"] = "attacker.example.com"
    event["auth"]["client_endpoint"] = "https://attacker.example.com/rest/"

    response = app.post_event("/install", event)

    assert response.status_code == 403
    assert not app.lifecycle().portals.all()


def test_a_token_of_another_application_is_refused(bitrix: FakeBitrix, tmp_path: Path) -> None:
    bitrix.add_portal(MEMBER)
    settings = app_settings(bitrix, tmp_path, bitrix24_client_id="local.another.app")
    with running_app(settings) as app:
        response = app.post_event("/install", bitrix.install_event(MEMBER))

    assert response.status_code == 403
    assert not [call for call in bitrix.calls if call[0] == "rest"]


@pytest.mark.parametrize(
    "event",
    [{}, {"event": "ONAPPINSTALL"}, {"event": "ONAPPINSTALL", "auth": "x"},
     {"event": "ONCRMDEALADD", "event_handler_id": "1", "ts": "1", "auth": {
         "member_id": MEMBER, "domain": "d", "client_endpoint": "c", "server_endpoint": "s",
         "application_token": "t"}}],
    ids=["empty", "no-auth", "auth-not-a-map", "another-event"],
)  # fmt: skip
def test_a_malformed_install_event_is_a_400(app: App, event: dict[str, object]) -> None:
    response = app.post_event("/install", event)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_php_implementations_install_path_works(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)

    response = app.post_event("/install.php", bitrix.install_event(MEMBER))

    assert response.status_code == 200, response.text


def test_tokens_are_encrypted_at_rest(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    event = bitrix.install_event(MEMBER)
    app.post_event("/install", event)

    engine = create_engine(app.settings.database_url)
    with engine.connect() as connection:
        row = " ".join(str(v) for v in connection.execute(text("SELECT * FROM portals")).one())
    engine.dispose()

    for secret in (event["auth"]["refresh_token"], event["auth"]["access_token"],
                   event["auth"]["application_token"], APP_SECRET):  # fmt: skip
        assert secret not in row
    stored = app.lifecycle().portals.get(MEMBER)
    assert stored is not None
    assert stored.tokens.refresh_token == event["auth"]["refresh_token"]


def test_without_application_credentials_install_says_what_to_set(
    bitrix: FakeBitrix, tmp_path: Path
) -> None:
    bitrix.add_portal(MEMBER)
    settings = app_settings(bitrix, tmp_path, bitrix24_client_id="", bitrix24_client_secret=None)
    with running_app(settings) as app:
        response = app.post_event("/install", bitrix.install_event(MEMBER))

    assert response.status_code == 503
    assert "BITRIX24_CLIENT_ID" in response.json()["error"]["message"]


def test_the_event_shape_the_sdk_knows_is_accepted_too(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    event = bitrix.install_event(MEMBER)
    event["event_handler_id"] = "7"
    event["auth"] |= {"expires": str(int(time.time()) + 3600), "user_id": "1"}

    assert app.post_event("/install", event).status_code == 200


def test_an_install_event_without_a_refresh_token_is_a_400(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    event = bitrix.install_event(MEMBER)
    del event["auth"]["refresh_token"]

    response = app.post_event("/install", event)

    assert response.status_code == 400
    assert "refresh_token" in response.json()["error"]["message"]
    assert not bitrix.calls


def test_a_portal_that_does_not_know_source_code_still_gets_its_connectors(
    app: App, bitrix: FakeBitrix
) -> None:
    bitrix.add_portal(MEMBER)
    bitrix.knows_source_code = False

    response = app.post_event("/install", bitrix.install_event(MEMBER))

    assert response.status_code == 200, response.text
    connectors = bitrix.portal(MEMBER).connectors.values()
    assert len(connectors) == 2
    assert all("sourceCode" not in c for c in connectors)
    # Reinstalled, they are found by their URLs and updated.
    app.post_event("/install", bitrix.install_event(MEMBER))
    assert len(bitrix.portal(MEMBER).connectors) == 2


def test_installs_at_once_register_each_connector_once(app: App, bitrix: FakeBitrix) -> None:
    bitrix.add_portal(MEMBER)
    events = [bitrix.install_event(MEMBER) for _ in range(4)]
    answers: list[int] = []

    def install(event: dict[str, object]) -> None:
        answers.append(app.post_event("/install", event).status_code)

    threads = [threading.Thread(target=install, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert answers == [200] * 4
    codes = sorted(c["sourceCode"] for c in bitrix.portal(MEMBER).connectors.values())
    assert codes == ["mysql", "pgsql"]
    assert len(bitrix.portal(MEMBER).events) == 1
    assert len(app.lifecycle().portals.all()) == 1
