"""Every setting of the service, read from the environment and `.env`, validated once."""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
import zoneinfo
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from biconnector.protocol.literals import SlashOrder

# The PHP implementation's users have PSR-3 level names in their `.env` files; each maps to
# the nearest level of Python's logging.
LOG_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "NOTICE": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
    "ALERT": logging.CRITICAL,
    "EMERGENCY": logging.CRITICAL,
}

MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """The service's configuration; names follow the PHP implementation where it had one."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    app_env: Literal["development", "production"] = "development"
    app_domain: str = "http://127.0.0.1:8000"
    bind_host: str = "127.0.0.1"
    bind_port: int = Field(8000, ge=1, le=65535)
    # Worker processes of `biconnector serve` (uvicorn's WEB_CONCURRENCY is read too).
    workers: int = Field(
        1, ge=1, le=64, validation_alias=AliasChoices("WORKERS", "WEB_CONCURRENCY", "workers")
    )
    # Seconds a stopping process lets running requests (exports) finish before it cuts them.
    shutdown_timeout: int = Field(60, ge=0)
    log_level: str = "INFO"
    # With a directory, logs also go to one file a day there, kept this many days.
    log_path: Path | None = None
    log_rotation_days: int = Field(14, ge=1)
    db_connection_timeout: float = Field(10.0, gt=0, le=250)
    # Host names, addresses and CIDR ranges the service may connect to besides public ones.
    db_allowed_hosts: str = ""
    # CA certificates (PEM) that verify-ca and verify-full trust instead of the system's.
    db_ssl_ca_file: Path | None = None
    # Loopback databases: allowed in development unless set, refused in production unless set.
    db_allow_loopback: bool | None = None
    # PostgreSQL keeps statement_timeout in milliseconds in a 32-bit integer.
    db_statement_timeout: float = Field(300.0, ge=1, le=2_147_483)
    export_timezone: str = "UTC"
    # Connections kept open per source, between requests; 0 opens one for every request.
    db_pool_size: int = Field(4, ge=0, le=100)
    db_pool_idle_timeout: float = Field(60.0, gt=0)
    db_pools_max: int = Field(50, ge=1)
    # Data exports from one database host that one service process runs at once.
    max_exports_per_host: int = Field(8, ge=1)
    # Data exports for one portal (a signed call) that one service process runs at once.
    max_exports_per_portal: int = Field(8, ge=1)
    # Bitrix24 stops reading after about 60 seconds without a byte (PROTOCOL.md).
    data_keepalive_interval: float = Field(20.0, gt=0, le=50)
    slash_date_order: SlashOrder = "month-first"
    # Seconds table_list and table_description answers are kept; 0 turns the cache off.
    cache_ttl_table_list: float = Field(600.0, ge=0)
    cache_ttl_table_description: float = Field(600.0, ge=0)
    # redis://host:port/db (or rediss://) shares the cache between hosts; empty: files.
    cache_url: SecretStr | None = None
    # The service's own files: the cache directory and the cache key live here.
    state_dir: Path = Path("var")
    cache_dir: Path | None = None
    cache_secret: SecretStr | None = None

    # The Bitrix24 application. The PHP implementation's variable names are read as well.
    bitrix24_client_id: str = Field(
        "",
        validation_alias=AliasChoices(
            "BITRIX24_CLIENT_ID", "BITRIX24_PHP_SDK_APPLICATION_CLIENT_ID", "bitrix24_client_id"
        ),
    )
    bitrix24_client_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "BITRIX24_CLIENT_SECRET",
            "BITRIX24_PHP_SDK_APPLICATION_CLIENT_SECRET",
            "bitrix24_client_secret",
        ),
    )
    bitrix24_scope: str = Field(
        "biconnector",
        validation_alias=AliasChoices(
            "BITRIX24_SCOPE", "BITRIX24_PHP_SDK_APPLICATION_SCOPE", "bitrix24_scope"
        ),
    )
    # The OAuth server that renews tokens and confirms an installation (app.info).
    bitrix24_oauth_url: str = "https://oauth.bitrix24.tech"
    # A PEM file of CA certificates trusted for the OAuth server and the portals, besides
    # the public ones (a box portal behind a company CA).
    bitrix24_ca_file: Path | None = None
    # At most 25: a renewal holds the portal's row locked for as long, within the lock waits
    # of SQLite (30 s) and MySQL (50 s).
    bitrix24_timeout: float = Field(15.0, gt=0, le=25)
    # Signs the connector URLs registered for each portal and encrypts the portals' tokens.
    app_secret: SecretStr | None = None
    # SQLAlchemy URL of the application's own state (installed portals and their tokens);
    # empty: a SQLite file in STATE_DIR.
    app_database_url: SecretStr | None = None
    # Connector calls whose URL carries no portal credential: allowed in development (and
    # while connectors of the PHP implementation are moved over) unless set.
    allow_unsigned_calls: bool | None = None

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        name = value.strip().upper()
        if name not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        return name

    @field_validator("export_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                "expected an IANA time zone name such as UTC or Europe/Berlin"
            ) from exc
        return value

    @field_validator(
        "cache_dir",
        "cache_secret",
        "log_path",
        "db_ssl_ca_file",
        "bitrix24_client_secret",
        "bitrix24_ca_file",
        "app_secret",
        "app_database_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # .env.example lists these empty: empty means "not set", not "here" or "no key".
        return None if value == "" else value

    @field_validator("cache_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        # A Redis URL may carry a password: the setting is a secret, and never shown.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str) or not text.strip():
            return None
        if not text.strip().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db, rediss://... or unix://...")
        return text.strip()

    @field_validator("db_ssl_ca_file", "bitrix24_ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"expected a file of PEM certificates; {value} is none")
        return value

    @field_validator("app_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"expected at least {MIN_SECRET_LENGTH} characters, for example the output "
                "of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("bitrix24_oauth_url", "app_domain")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/?#\s]+", value.strip()):
            raise ValueError("expected a URL such as https://connector.example.com")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.app_env != "production":
            return self
        missing = [
            name
            for name, value in (
                ("APP_DOMAIN", "app_domain" in self.model_fields_set),
                ("APP_SECRET", self.app_secret),
                ("BITRIX24_CLIENT_ID", self.bitrix24_client_id),
                ("BITRIX24_CLIENT_SECRET", self.bitrix24_client_secret),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"production needs {', '.join(missing)} to be set")
        domain = urlsplit(self.app_domain)
        if domain.scheme != "https" and domain.hostname not in ("127.0.0.1", "::1", "localhost"):
            # Bitrix24 calls only HTTPS addresses; plain HTTP is for a proxy on this host.
            raise ValueError("APP_DOMAIN must be an https:// address in production")
        return self

    @field_validator("db_allow_loopback", "allow_unsigned_calls", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def db_allowed_hosts_list(self) -> list[str]:
        return [part for part in re.split(r"[,\s]+", self.db_allowed_hosts) if part]

    @property
    def loopback_allowed(self) -> bool:
        if self.db_allow_loopback is not None:
            return self.db_allow_loopback
        return self.app_env == "development"

    @property
    def unsigned_calls_allowed(self) -> bool:
        if self.allow_unsigned_calls is not None:
            return self.allow_unsigned_calls
        return self.app_env == "development"

    @property
    def database_url(self) -> str:
        if self.app_database_url is not None:
            return self.app_database_url.get_secret_value()
        return f"sqlite:///{(self.state_dir / 'biconnector.sqlite3').resolve()}"

    @property
    def cache_directory(self) -> Path:
        return self.cache_dir or self.state_dir / "cache"

    def cache_secret_bytes(self) -> bytes:
        """The key of the cache's password fingerprints: CACHE_SECRET, or one generated once
        and kept in the state directory, so that every worker and restart shares it."""
        if self.cache_secret is not None:
            return self.cache_secret.get_secret_value().encode()
        return self._state_key("cache.key")

    def app_secret_bytes(self) -> bytes:
        """APP_SECRET, or in development a key generated once in the state directory."""
        if self.app_secret is not None:
            return self.app_secret.get_secret_value().encode()
        return self._state_key("app.key")

    def _state_key(self, name: str) -> bytes:
        path = self.state_dir / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            os.write(handle, secrets.token_bytes(32))
            os.close(handle)
            # A hard link appears whole or not at all; a worker that loses the race reads
            # the key the winner wrote.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
        return path.read_bytes()

    @cached_property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.export_timezone)

    @property
    def logging_level(self) -> int:
        return LOG_LEVELS[self.log_level]
