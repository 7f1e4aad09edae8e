"""The application's own database: its migrations on every engine it may live on."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from biconnector.portal import store
from biconnector.portal.keys import Keys
from biconnector.portal.store import Portal, Portals, Tokens


def test_the_schema_revision_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(store.__file__).parent / "migrations"))

    assert ScriptDirectory.from_config(config).get_current_head() == store.SCHEMA_REVISION


@pytest.fixture
def portals(every_state_url: str) -> Iterator[Portals]:
    kept = Portals(every_state_url, Keys(b"k" * 32))
    yield kept
    kept.close()


def test_a_portal_round_trips_on_every_engine(portals: Portals) -> None:
    portals.upgrade()
    assert portals.current()
    portals.upgrade()  # a second start finds nothing to do
    installed = datetime.datetime(2026, 12, 4, 10, 30, tzinfo=datetime.UTC)
    portal = Portal(
        member_id="f" * 32,
        domain="example.bitrix24.de",
        client_endpoint="https://example.bitrix24.de/rest/",
        scope="biconnector",
        tokens=Tokens("a" * 70, "r" * 70, int(time.time()) + 3600),
        installed_at=installed,
    )

    portals.save(portal, "application-token")
    portals.save(portal, "application-token")

    assert [p.member_id for p in portals.all()] == [portal.member_id]
    kept = portals.get(portal.member_id)
    assert kept is not None
    assert kept.tokens == portal.tokens
    assert kept.installed_at == installed
    assert portals.has_application_token(portal.member_id, "application-token")
    assert not portals.has_application_token(portal.member_id, "another")
    assert portals.forget(portal.member_id)
    assert portals.get(portal.member_id) is None


def test_workers_starting_together_migrate_once(every_state_url: str, tmp_path: Path) -> None:
    environment = {
        "PATH": os.environ["PATH"],
        "APP_DATABASE_URL": every_state_url,
        "STATE_DIR": str(tmp_path / "state"),
        "LOG_LEVEL": "WARNING",
    }
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "biconnector", "db", "upgrade"],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    errors = [start.communicate(timeout=120)[1] for start in starts]

    assert [start.returncode for start in starts] == [0] * 5, errors
    migrated = Portals(every_state_url, Keys(b"k" * 32))
    assert migrated.current()
    migrated.close()
