"""The bots' settings: one pydantic-settings model, a section per chat platform (see `.env.example`).

`Settings` extends `rarereads.settings.PathSettings` (where models and shelves live) with
what `rarereads serve` needs: a section per platform (`RAREREADS_DISCORD_*`,
`RAREREADS_TELEGRAM_*`; each adapter gets only its own), and the bots' behaviour. Only
the outermost layer reads it (`load_settings`, once per command); everything below takes
explicit arguments. Tokens are `SecretStr`: no repr, str or log shows them, and
`redact_secrets_in_logs` keeps them out of every log record. A new platform is one adapter
file plus its section here: a `PlatformSettings` subclass and one field of `Settings`.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from engine.imports import MAX_ROWS
from engine.rarity import DEFAULT_RARITY, RARITIES
from rarereads.settings import PathSettings, SettingsError, add_flags, flag_values, read_settings

__all__ = ["Settings", "SettingsError", "load_settings", "add_setting_flags", "flag_values", "PLATFORMS"]


@dataclass(frozen=True)
class RateLimit:
    """At most `count` commands per `seconds` per user."""

    count: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}s"


@dataclass(frozen=True)
class Schedule:
    """When unattended retraining runs: daily at `at`, or every `every` seconds."""

    text: str
    at: dt.time | None = None
    every: float | None = None

    def next_run(self, now: dt.datetime) -> dt.datetime:
        """First run strictly after `now` (local time when `now` is naive)."""
        if self.every is not None:
            return now + dt.timedelta(seconds=self.every)
        candidate = now.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        return candidate if candidate > now else candidate + dt.timedelta(days=1)


# --- values written as text -------------------------------------------------------------
# Each parser raises ValueError saying what the setting takes; `rarereads.settings` adds its name.

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours)?\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_DAILY = re.compile(r"^\s*daily\s+(\d{1,2}):(\d{2})\s*$", re.I)
_EVERY = re.compile(r"^\s*every\s+(\d+(?:\.\d+)?)\s*(m|min|minutes?|h|hours?|d|days?)\s*$", re.I)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$", re.I)
_OFF = ("", "0", "off", "none", "never")


def parse_rate_limit(text: Any) -> RateLimit | None:
    """"5/10s" -> 5 per 10 seconds; "5/min", "20/h" likewise; "", "0" or "off" -> no limit."""
    if not isinstance(text, str):
        return text
    if text.strip().lower() in _OFF:
        return None
    match = _RATE.match(text)
    if not match:
        raise ValueError("write it as COUNT/PERIOD, e.g. 5/10s or 30/min, or off")
    count, amount, unit = match.groups()
    seconds = float(amount or 1) * _UNIT_SECONDS[(unit or "s")[0].lower()]
    if int(count) < 1 or seconds <= 0:
        raise ValueError("count and period must be positive")
    return RateLimit(int(count), seconds)


def parse_schedule(text: Any) -> Schedule | None:
    """"daily 03:00" or "every 12h" (also m, d); empty or "off" -> no schedule."""
    if not isinstance(text, str):
        return text
    if text.strip().lower() in _OFF:
        return None
    if match := _DAILY.match(text):
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise ValueError("no such time of day; write \"daily HH:MM\"")
        return Schedule(text.strip(), at=dt.time(hour, minute))
    if match := _EVERY.match(text):
        seconds = float(match[1]) * {"m": 60, "h": 3600, "d": 86400}[match[2][0].lower()]
        if seconds < 600:
            raise ValueError("retrain at most every 10 minutes")
        return Schedule(text.strip(), every=seconds)
    raise ValueError("write \"daily HH:MM\", \"every 12h\" or leave it empty")


def parse_duration(text: Any) -> float | None:
    """"90m", "6h", "3600" (seconds) -> seconds; "off" or "none" -> None (no limit)."""
    if not isinstance(text, str):
        return text
    if text.strip().lower() in ("off", "none", "never"):
        return None
    match = _DURATION.match(text)
    if not match or float(match[1]) <= 0:
        raise ValueError("write a duration such as 90m or 6h, or off")
    return float(match[1]) * _UNIT_SECONDS[(match[2] or "s")[0].lower()]


def parse_ids(text: Any) -> Any:
    """"1, 2;3" -> {1, 2, 3}: user ids separated by commas, semicolons or spaces."""
    if not isinstance(text, str):
        return text
    try:
        return frozenset(int(p) for p in re.split(r"[\s,;]+", text.strip()) if p)
    except ValueError:
        raise ValueError("write numeric user ids separated by commas") from None


def parse_shard_ids(text: Any) -> Any:
    """Discord shards as written, "0-3,6" -> (0, 1, 2, 3, 6); empty -> None (all of them)."""
    if not isinstance(text, str):
        return text
    ids: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ValueError("write shard numbers or ranges, e.g. 0-3 or 0,2,4") from None
        ids.update(range(first, last + 1))
    return tuple(sorted(ids)) or None


def check_shards(shards: tuple[int, ...] | None, count: int | None) -> None:
    """Raise ValueError unless `shards` are shards of `count` (the bot's shards over all processes)."""
    if count is not None and count < 1:
        raise ValueError("the shard count must be at least 1")
    if shards is not None and count is None:
        raise ValueError("shards need the shard count: how many shards the bot has over all its processes")
    if shards is not None and not all(0 <= i < count for i in shards):
        raise ValueError(f"shards are numbered 0 to {count - 1} when there are {count}")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


UserIds = Annotated[frozenset[int], NoDecode, BeforeValidator(parse_ids)]


# --- a section per platform ----------------------------------------------------------------

class PlatformSettings(BaseModel):
    """What every chat platform's section holds; a platform adds its own settings to it.

    Class attributes name the platform's adapter: `name` (for people), `runner` (its
    `bot.runtime.Runner` as "module:Class", imported only when its token is set), `extra`
    (the pip extra installing its library), `single_process` (one process per token).
    """

    name: ClassVar[str]
    runner: ClassVar[str]
    extra: ClassVar[str]
    # Only one process may run it per token (Telegram: two would fight over getUpdates); serve
    # holds a lease on the token in the shelf store (`bot.leases`).
    single_process: ClassVar[bool] = False

    token: SecretStr | None = Field(None, description="the bot's token (empty: the platform does not start)")
    admins: UserIds = Field(frozenset(), description="user ids allowed to /retrain and /status")

    def runner_class(self):
        """The `Runner` class (imports the platform's library; raises ImportError without it)."""
        module, _, attribute = self.runner.partition(":")
        return getattr(importlib.import_module(module), attribute)


class DiscordSettings(PlatformSettings):
    """RAREREADS_DISCORD_*: the Discord adapter's (`bot.discord_bot`) section."""

    name: ClassVar[str] = "Discord"
    runner: ClassVar[str] = "bot.discord_bot:DiscordRunner"
    extra: ClassVar[str] = "discord"

    test_guild_id: int | None = Field(None, description="sync slash commands to this one server only")
    sync: Annotated[Literal["auto", "always", "never"], BeforeValidator(_lower)] = Field(
        "auto", description="when to sync slash commands: auto (when they changed), always, never")
    shards: Annotated[tuple[int, ...] | None, NoDecode, BeforeValidator(parse_shard_ids)] = Field(
        None, description="the shards this process runs, e.g. 0-3 (with shard_count); empty: all of them")
    shard_count: int | None = Field(None, description="how many shards the bot has over all its processes")

    @model_validator(mode="after")
    def _shards_of_count(self):
        try:
            check_shards(self.shards, self.shard_count)
        except ValueError as exc:
            raise ValueError(f"RAREREADS_DISCORD_SHARDS / RAREREADS_DISCORD_SHARD_COUNT: {exc}") from None
        return self


class TelegramSettings(PlatformSettings):
    """RAREREADS_TELEGRAM_*: the Telegram adapter's (`bot.telegram_bot`) section."""

    name: ClassVar[str] = "Telegram"
    runner: ClassVar[str] = "bot.telegram_bot:TelegramRunner"
    extra: ClassVar[str] = "telegram"
    single_process: ClassVar[bool] = True

    base_url: str | None = Field(None, description="a self-hosted Bot API server's root")
    mode: Annotated[Literal["polling", "webhook"], BeforeValidator(_lower)] = Field(
        "polling", description="polling or webhook")
    webhook_url: str | None = Field(None, description="webhook mode: the public https URL Telegram posts to")
    webhook_listen: str = Field("0.0.0.0", description="webhook mode: the address to listen on")
    webhook_port: int = Field(8443, description="webhook mode: the port to listen on")
    webhook_secret: SecretStr | None = Field(None, description="webhook mode: the secret Telegram echoes back")

    @model_validator(mode="after")
    def _webhook_needs_url(self):
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("RAREREADS_TELEGRAM_MODE=webhook needs RAREREADS_TELEGRAM_WEBHOOK_URL (the public https URL)")
        return self

    def urls(self) -> tuple[str, str] | None:
        """(base_url, base_file_url) for python-telegram-bot, or None for api.telegram.org."""
        if not self.base_url:
            return None
        root = self.base_url.rstrip("/")
        root = root[:-len("/bot")] if root.endswith("/bot") else root
        return f"{root}/bot", f"{root}/file/bot"


# --- the whole model --------------------------------------------------------------------

RARITY_HELP = "how rare the picks are: " + "; ".join(f"{n}: {r.description}" for n, r in RARITIES.items())


class Settings(PathSettings):
    """Everything `rarereads serve` needs; read with `load_settings()`."""

    discord: DiscordSettings = DiscordSettings()
    telegram: TelegramSettings = TelegramSettings()
    default_rarity: Annotated[Literal[tuple(RARITIES)], BeforeValidator(_lower)] = Field(  # type: ignore[valid-type]
        DEFAULT_RARITY, description=RARITY_HELP)
    rate_limit: Annotated[RateLimit | None, NoDecode, BeforeValidator(parse_rate_limit)] = Field(
        RateLimit(5, 10.0), description="commands per user per period, e.g. 5/10s or 30/min; off for none")
    retrain_schedule: Annotated[Schedule | None, NoDecode, BeforeValidator(parse_schedule)] = Field(
        None, description="unattended retraining: daily HH:MM, every 12h, or empty")
    retrain_min_fraction: float = Field(0.9, ge=0, le=2, description="a retrained model must reach this fraction "
                                                                      "of the current one's figure")
    retrain_timeout: Annotated[float | None, BeforeValidator(parse_duration)] = Field(
        6 * 3600.0, description="how long a retrain may run, e.g. 90m or 6h, or off")
    import_max_rows: int = Field(MAX_ROWS, ge=1, description="most books one library import may hold")
    log_level: Annotated[str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if not isinstance(logging.getLevelName(value), int):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value

    def section(self, platform: str) -> PlatformSettings:
        """The section of `platform` ("discord")."""
        return getattr(self, platform)

    @property
    def platforms(self) -> list[str]:
        """Platforms that have a token configured, in start-up order."""
        return [p for p in PLATFORMS if self.section(p).token]

    def is_admin(self, platform: str, user_id: int | str) -> bool:
        """Whether `user_id` on `platform` may retrain and see /status."""
        try:
            return int(user_id) in self.section(platform).admins
        except (TypeError, ValueError):
            return False

    def secrets(self) -> list[str]:
        """Every secret value configured, for log redaction."""
        from engine.shelf import is_url
        from urllib.parse import urlsplit

        values = [self.section(p).token for p in PLATFORMS] + [self.telegram.webhook_secret]
        password = urlsplit(self.db).password if is_url(self.db) else None  # RAREREADS_DB=postgresql://user:pw@...
        return [s.get_secret_value() for s in values if s] + ([password] if password else [])


# The platforms, in start-up order: the sections of `Settings`.
PLATFORMS: tuple[str, ...] = tuple(name for name, f in Settings.model_fields.items()
                                   if isinstance(f.annotation, type) and issubclass(f.annotation, PlatformSettings))


def add_setting_flags(parser, *names: str) -> None:
    """Flags overriding the settings `names` (`--models-dir`, `--model`, `--db`, `--rarity` for the
    default rarity), declared from the settings' fields: the command-line tools share them."""
    add_flags(parser, Settings, *names, rename={"default_rarity": "--rarity"})


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env",
                  **overrides: Any) -> Settings:
    """The settings from `environ` if given, else from `env_file` overlaid by the process environment.

    `overrides` are flags given on the command line (`flag_values(args, Settings)`).

    Raises:
        SettingsError: a variable is set to something unusable (the message says which and what it takes).
    """
    return read_settings(Settings, environ, env_file, **overrides)


# --- keeping tokens out of logs ----------------------------------------------------------

_redacted: set[str] = set()
_base_factory = None


def _redact(text: str) -> str:
    for secret in _redacted:
        text = text.replace(secret, "********")
    return text


def redact_secrets_in_logs(secrets: list[str]) -> None:
    """Replace every occurrence of `secrets` in log messages with "********", whoever logs them.

    Libraries log request URLs (httpx logs `.../bot<TOKEN>/getUpdates` at INFO), so redaction
    happens where records are made, before any handler or test capture sees them.
    """
    global _base_factory
    _redacted.update(s for s in secrets if len(s) >= 8)
    if _base_factory is not None or not _redacted:
        return
    _base_factory = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = _base_factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return record
        if any(s in message for s in _redacted):
            record.msg, record.args = _redact(message), None
        if record.exc_info and not record.exc_text:  # tracebacks can quote URLs too
            record.exc_text = _redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
