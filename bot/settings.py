"""Bot settings, read only from the environment or a `.env` file (see `.env.example`).

This is the one module of rarereads that reads environment variables. Everything
below it (`engine/`, the adapters, the retrain manager) takes explicit arguments.
Tokens are held in `Secret`, whose repr and str never show the value, and
`redact_secrets_in_logs` keeps them out of every log record.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from engine.rarity import DEFAULT_RARITY, RARITIES

from rarereads.paths import PROJECT_ROOT

from .platforms import PLATFORMS

TELEGRAM_MODES = ("polling", "webhook")
DISCORD_SYNC = ("auto", "always", "never")


class SettingsError(ValueError):
    """A setting is present but cannot be used; the message names the variable."""


class Secret:
    """A token: compares and hashes by value, but never shows it in repr, str or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one call that needs it (logging in to a platform)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


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


@dataclass(frozen=True)
class Settings:
    """Everything `rarereads serve` needs; build with `load_settings()`."""

    discord_token: Secret | None = None
    discord_test_guild_id: int | None = None
    discord_sync: str = "auto"  # sync slash commands: auto (when changed), always, never
    telegram_token: Secret | None = None
    admins: Mapping[str, frozenset[int]] = field(default_factory=dict)  # platform -> user ids (RAREREADS_<P>_ADMINS)
    telegram_base_url: str | None = None  # self-hosted Bot API server root, e.g. http://127.0.0.1:8081
    telegram_mode: str = "polling"
    telegram_webhook_url: str | None = None  # public HTTPS URL Telegram posts updates to
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    telegram_webhook_secret: Secret | None = None
    models_dir: Path = PROJECT_ROOT / "models"
    model: Path | None = None  # pinned model folder; None = newest in models_dir
    db: str | Path = PROJECT_ROOT / "var" / "shelves.sqlite"  # a SQLite file, or a postgresql:// URL
    discord_shard_ids: tuple[int, ...] | None = None  # `serve --shards`: the Discord shards this process runs
    discord_shard_count: int | None = None  # `serve --shard-count`: Discord shards over all processes
    default_rarity: str = DEFAULT_RARITY
    rate_limit: RateLimit | None = RateLimit(5, 10.0)
    retrain_schedule: Schedule | None = None
    retrain_min_fraction: float = 0.9
    retrain_timeout: float | None = 6 * 3600.0  # seconds before a retrain's trainer is ended; None: no limit
    import_max_rows: int = 20_000  # books one library import may hold
    log_level: str = "INFO"
    env_file: Path | None = field(default=None, compare=False)

    @property
    def platforms(self) -> list[str]:
        """Platforms that have a token configured, in start-up order."""
        return [p for p in PLATFORMS if self.token(p)]

    def token(self, platform: str) -> Secret | None:
        """The platform's bot token, if configured."""
        return getattr(self, f"{platform}_token", None)

    def is_admin(self, platform: str, user_id: int | str) -> bool:
        """Whether `user_id` on `platform` may retrain and see /status."""
        try:
            return int(user_id) in self.admins.get(platform, ())
        except (TypeError, ValueError):
            return False

    def telegram_urls(self) -> tuple[str, str] | None:
        """(base_url, base_file_url) for python-telegram-bot, or None for api.telegram.org."""
        if not self.telegram_base_url:
            return None
        root = self.telegram_base_url.rstrip("/")
        root = root[:-len("/bot")] if root.endswith("/bot") else root
        return f"{root}/bot", f"{root}/file/bot"

    def secrets(self) -> list[str]:
        """Every secret value configured, for log redaction."""
        from urllib.parse import urlsplit

        password = urlsplit(str(self.db)).password if str(self.db).startswith(("postgresql:", "postgres:")) else None
        return [s.reveal() for s in (self.discord_token, self.telegram_token, self.telegram_webhook_secret) if s] + \
            ([password] if password else [])


# --- parsing ---------------------------------------------------------------------------

_SECRET_LIKE = re.compile(r"\d{5,}:[\w-]{10,}|[\w-]{16,}|[\w-]{6,}\.[\w-]{4,}\.[\w-]{6,}")


def _shown(value: str) -> str:
    """A wrong setting's value as an error may show it: only when it cannot be a pasted secret.

    Tokens end up in the wrong variable often enough (and error lines in logs and terminals
    that others read): a value that is long or shaped like a token is not shown.
    """
    value = str(value).strip()
    if len(value) > 24 or _SECRET_LIKE.search(value):
        return "(a value that looks like a token; not shown)"
    return repr(value)


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours)?\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_DAILY = re.compile(r"^\s*daily\s+(\d{1,2}):(\d{2})\s*$", re.I)
_EVERY = re.compile(r"^\s*every\s+(\d+(?:\.\d+)?)\s*(m|min|minutes?|h|hours?|d|days?)\s*$", re.I)


def parse_rate_limit(text: str) -> RateLimit | None:
    """"5/10s" -> 5 per 10 seconds; "5/min", "20/h" likewise; "", "0" or "off" -> no limit."""
    if not text.strip() or text.strip().lower() in ("0", "off", "none"):
        return None
    match = _RATE.match(text)
    if not match:
        raise SettingsError(f"RAREREADS_RATE_LIMIT={_shown(text)}: write it as COUNT/PERIOD, e.g. 5/10s or 30/min")
    count, amount, unit = match.groups()
    seconds = float(amount or 1) * _UNIT_SECONDS[(unit or "s")[0].lower()]
    if int(count) < 1 or seconds <= 0:
        raise SettingsError(f"RAREREADS_RATE_LIMIT={_shown(text)}: count and period must be positive")
    return RateLimit(int(count), seconds)


def parse_schedule(text: str) -> Schedule | None:
    """"daily 03:00" or "every 12h" (also m, d); empty or "off" -> no schedule."""
    if not text.strip() or text.strip().lower() in ("off", "none", "never"):
        return None
    if match := _DAILY.match(text):
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise SettingsError(f"RAREREADS_RETRAIN_SCHEDULE={_shown(text)}: no such time of day")
        return Schedule(text.strip(), at=dt.time(hour, minute))
    if match := _EVERY.match(text):
        seconds = float(match[1]) * {"m": 60, "h": 3600, "d": 86400}[match[2][0].lower()]
        if seconds < 600:
            raise SettingsError(f"RAREREADS_RETRAIN_SCHEDULE={_shown(text)}: retrain at most every 10 minutes")
        return Schedule(text.strip(), every=seconds)
    raise SettingsError(f"RAREREADS_RETRAIN_SCHEDULE={_shown(text)}: write \"daily HH:MM\", \"every 12h\" or leave it empty")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$", re.I)


def parse_duration(name: str, text: str) -> float | None:
    """"90m", "6h", "3600" (seconds) -> seconds; "off" or "none" -> None (no limit)."""
    if text.strip().lower() in ("off", "none", "never"):
        return None
    match = _DURATION.match(text)
    if not match or float(match[1]) <= 0:
        raise SettingsError(f"{name}={_shown(text)}: write a duration such as 90m or 6h, or off")
    return float(match[1]) * _UNIT_SECONDS[(match[2] or "s")[0].lower()]


def _ids(name: str, text: str) -> frozenset[int]:
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    try:
        return frozenset(int(p) for p in parts)
    except ValueError:
        raise SettingsError(f"{name}: write numeric user ids separated by commas (got {_shown(text)})") from None


def _int(name: str, text: str, default: int | None) -> int | None:
    if not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name}={_shown(text)} is not a whole number") from None


def _db_location(text: str) -> str | Path:
    """RAREREADS_DB: a postgresql:// URL as given (a Path would fold its "//"), else a file path."""
    if text.lower().startswith(("postgresql://", "postgres://")):
        return text
    return Path(text or PROJECT_ROOT / "var" / "shelves.sqlite").expanduser()


def _secret(text: str) -> Secret | None:
    text = text.strip()
    return Secret(text) if text else None


def _read_environment(environ: Mapping[str, str] | None, env_file: Path | None) -> dict[str, str]:
    if environ is not None:
        return dict(environ)
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)  # the real environment wins over .env
    return values


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Read settings from `environ` if given, else from `.env` overlaid by the process environment.

    Raises:
        SettingsError: a variable is set to something unusable (the message says which and how to fix it).
    """
    env_path = Path(env_file) if env_file else None
    env = _read_environment(environ, env_path)

    def get(name: str, default: str = "") -> str:
        return (env.get(f"RAREREADS_{name}") or default).strip()

    rarity = get("DEFAULT_RARITY", DEFAULT_RARITY).lower()
    if rarity not in RARITIES:
        raise SettingsError(f"RAREREADS_DEFAULT_RARITY={_shown(rarity)}: choose one of {', '.join(RARITIES)}")
    mode = get("TELEGRAM_MODE", "polling").lower()
    if mode not in TELEGRAM_MODES:
        raise SettingsError(f"RAREREADS_TELEGRAM_MODE={_shown(mode)}: choose polling or webhook")
    sync = get("DISCORD_SYNC", "auto").lower()
    if sync not in DISCORD_SYNC:
        raise SettingsError(f"RAREREADS_DISCORD_SYNC={_shown(sync)}: choose auto, always or never")
    webhook_url = get("TELEGRAM_WEBHOOK_URL") or None
    if mode == "webhook" and not webhook_url:
        raise SettingsError("RAREREADS_TELEGRAM_MODE=webhook needs RAREREADS_TELEGRAM_WEBHOOK_URL (the public https URL)")
    try:
        fraction = float(get("RETRAIN_MIN_FRACTION", "0.9"))
    except ValueError:
        raise SettingsError(f"RAREREADS_RETRAIN_MIN_FRACTION={_shown(get('RETRAIN_MIN_FRACTION'))} is not a number") from None
    if not 0 <= fraction <= 2:
        raise SettingsError(f"RAREREADS_RETRAIN_MIN_FRACTION={fraction}: use a fraction such as 0.9")
    level = get("LOG_LEVEL", "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise SettingsError(f"RAREREADS_LOG_LEVEL={_shown(level)}: use DEBUG, INFO, WARNING or ERROR")

    models_dir = Path(get("MODELS_DIR") or PROJECT_ROOT / "models").expanduser()
    model = get("MODEL")
    model_path = None
    if model:
        model_path = Path(model).expanduser()
        if not model_path.is_absolute() and not model_path.exists():
            model_path = models_dir / model_path  # a bare folder name means one under models_dir
    port = _int("RAREREADS_TELEGRAM_WEBHOOK_PORT", get("TELEGRAM_WEBHOOK_PORT"), 8443)
    import_rows = _int("RAREREADS_IMPORT_MAX_ROWS", get("IMPORT_MAX_ROWS"), 20_000)
    if import_rows < 1:
        raise SettingsError("RAREREADS_IMPORT_MAX_ROWS must be at least 1")
    return Settings(
        discord_token=_secret(get("DISCORD_TOKEN")),
        discord_test_guild_id=_int("RAREREADS_DISCORD_TEST_GUILD_ID", get("DISCORD_TEST_GUILD_ID"), None),
        discord_sync=sync,
        telegram_token=_secret(get("TELEGRAM_TOKEN")),
        admins={p: _ids(f"RAREREADS_{p.upper()}_ADMINS", get(f"{p.upper()}_ADMINS")) for p in PLATFORMS},
        telegram_base_url=get("TELEGRAM_BASE_URL") or None,
        telegram_mode=mode,
        telegram_webhook_url=webhook_url,
        telegram_webhook_listen=get("TELEGRAM_WEBHOOK_LISTEN", "0.0.0.0"),
        telegram_webhook_port=port,
        telegram_webhook_secret=_secret(get("TELEGRAM_WEBHOOK_SECRET")),
        models_dir=models_dir,
        model=model_path,
        db=_db_location(get("DB")),
        default_rarity=rarity,
        rate_limit=parse_rate_limit(get("RATE_LIMIT", "5/10s")),
        retrain_schedule=parse_schedule(get("RETRAIN_SCHEDULE")),
        retrain_min_fraction=fraction,
        retrain_timeout=parse_duration("RAREREADS_RETRAIN_TIMEOUT", get("RETRAIN_TIMEOUT", "6h")),
        import_max_rows=import_rows,
        log_level=level,
        env_file=env_path,
    )


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
