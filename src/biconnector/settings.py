"""Every setting of the service, read from the environment and `.env`, validated once."""

from __future__ import annotations

import logging
import zoneinfo
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator
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
    db_connection_timeout: float = Field(10.0, gt=0, le=250)
    # PostgreSQL keeps statement_timeout in milliseconds in a 32-bit integer.
    db_statement_timeout: float = Field(300.0, ge=1, le=2_147_483)
    export_timezone: str = "UTC"
    # Connections kept open per source, between requests; 0 opens one for every request.
    db_pool_size: int = Field(4, ge=0, le=100)
    db_pool_idle_timeout: float = Field(60.0, gt=0)
    db_pools_max: int = Field(50, ge=1)
    # Bitrix24 stops reading after about 60 seconds without a byte (PROTOCOL.md).
    data_keepalive_interval: float = Field(20.0, gt=0, le=50)
    slash_date_order: SlashOrder = "month-first"

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

    @cached_property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.export_timezone)

    @property
    def logging_level(self) -> int:
        return LOG_LEVELS[self.log_level]
