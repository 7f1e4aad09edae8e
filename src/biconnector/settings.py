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

from pydantic import Field, SecretStr, field_validator
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


class Settings(BaseSettings):
    """The service's configuration; names follow the PHP implementation where it had one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    app_env: Literal["development", "production"] = "development"
    app_domain: str = "http://127.0.0.1:8000"
    bind_host: str = "127.0.0.1"
    bind_port: int = Field(8000, ge=1, le=65535)
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

    @field_validator("cache_dir", "cache_secret", "log_path", "db_ssl_ca_file", mode="before")
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

    @field_validator("db_ssl_ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"expected a file of PEM certificates; {value} is none")
        return value

    @field_validator("db_allow_loopback", mode="before")
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
    def cache_directory(self) -> Path:
        return self.cache_dir or self.state_dir / "cache"

    def cache_secret_bytes(self) -> bytes:
        """The key of the cache's password fingerprints: CACHE_SECRET, or one generated once
        and kept in the state directory, so that every worker and restart shares it."""
        if self.cache_secret is not None:
            return self.cache_secret.get_secret_value().encode()
        path = self.state_dir / "cache.key"
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
