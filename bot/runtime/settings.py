"""Configuration from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.content import DEFAULT_CONTENT_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    db: str = Field(default="./tcns.db", validation_alias="TCNS_DB")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", validation_alias="TCNS_TIMEZONE")
    content_dir: Path = Field(default=DEFAULT_CONTENT_DIR, validation_alias="TCNS_CONTENT_DIR")
    telegram_bot_token: str | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", validation_alias="TELEGRAM_API_BASE_URL"
    )
    telegram_file_base_url: str | None = Field(default=None, validation_alias="TELEGRAM_FILE_BASE_URL")
    # PTB's limiter on replies (Telegram's ~30 msg/s, 1/s per chat). Off only against a Bot API
    # server without those limits (a local fake: the benchmarks).
    telegram_rate_limit: bool = Field(default=True, validation_alias="TELEGRAM_RATE_LIMIT")
    zalo_bot_token: str | None = Field(default=None, validation_alias="ZALO_BOT_TOKEN")
    zalo_api_base_url: str = Field(
        default="https://bot-api.zaloplatforms.com/bot", validation_alias="ZALO_API_BASE_URL"
    )
    # Pushes the Zalo bot may send a month (its quota); unset: no budget is kept.
    zalo_monthly_budget: int | None = Field(default=None, ge=0, validation_alias="TCNS_ZALO_MONTHLY_BUDGET")
    # Share of a budget kept for deadline reminders: below it digests and announcements wait.
    quota_reserve: float = Field(default=0.1, ge=0, le=1, validation_alias="TCNS_QUOTA_RESERVE")
    outbox_rate: float = Field(default=30.0, gt=0, le=1000, validation_alias="TCNS_OUTBOX_RATE")  # msgs/s overall
    # tcns serve (webhooks): the public https base URL the channels reach this server at; it
    # also enables the signed file URLs (with TCNS_FILE_SECRET).
    public_url: str | None = Field(default=None, validation_alias="TCNS_PUBLIC_URL")
    telegram_webhook_secret: str | None = Field(default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET")
    zalo_webhook_secret: str | None = Field(default=None, validation_alias="ZALO_WEBHOOK_SECRET")
    # Replies a second (per worker) that may go back in the webhook's own answer instead of a
    # request of their own (Telegram runs it; no error comes back): 0 never. With
    # TELEGRAM_RATE_LIMIT=false there is no budget: every single-message reply goes that way.
    telegram_inline_rate: float = Field(default=20.0, ge=0, le=1000, validation_alias="TELEGRAM_WEBHOOK_INLINE_RATE")
    # Under load, how long a webhook group may wait for the requests the last one answered
    # (bot/handlers/webhooks.py GroupStore, GATHER_SECONDS), in milliseconds: bigger groups, fewer
    # commits. 0: never.
    webhook_gather_ms: float = Field(default=5.0, ge=0, le=100, validation_alias="TCNS_WEBHOOK_GATHER_MS")
    file_secret: str | None = Field(default=None, validation_alias="TCNS_FILE_SECRET")
    log_format: str = Field(default="text", pattern="^(text|json)$", validation_alias="TCNS_LOG_FORMAT")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def zalo_webhook_token(self) -> str | None:
        """The secret every Zalo webhook delivery must carry: ``ZALO_WEBHOOK_SECRET`` if set, else
        one generated from the bot token (HMAC-SHA256, 64 hex characters, within Zalo's 8-256):
        the same in every worker and after a restart, with nothing to store or configure."""
        if self.zalo_webhook_secret:
            return self.zalo_webhook_secret
        if not self.zalo_bot_token:
            return None
        return hmac.new(self.zalo_bot_token.encode(), b"tcns zalo webhook secret", hashlib.sha256).hexdigest()

    @property
    def file_base_url(self) -> str:
        if self.telegram_file_base_url:
            return self.telegram_file_base_url
        return self.telegram_api_base_url.replace("/bot", "/file/bot", 1)
