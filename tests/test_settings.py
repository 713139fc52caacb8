"""Settings come only from the environment or .env, one model with a section per platform, and tokens never show."""
from __future__ import annotations

import datetime as dt
import logging

import pytest

from bot.ratelimit import RateLimiter, slow_down_text
from bot.settings import (RateLimit, SettingsError, load_settings, parse_rate_limit, parse_schedule,
                          redact_secrets_in_logs)

DISCORD_TOKEN = "MTEx.discord-secret-token.abcdefghijklmnop"
TELEGRAM_TOKEN = "123456:telegram-secret-token-ABCDEF"


def test_defaults_without_any_setting():
    settings = load_settings({})
    assert settings.platforms == []
    assert settings.telegram.mode == "polling"
    assert settings.default_rarity == "rare"
    assert settings.rate_limit == RateLimit(5, 10.0)
    assert settings.retrain_schedule is None
    assert settings.retrain_min_fraction == 0.9


def test_every_documented_variable_is_read(tmp_path):
    env = {
        "RAREREADS_DISCORD_TOKEN": DISCORD_TOKEN,
        "RAREREADS_DISCORD_TEST_GUILD_ID": "123456789012345678",
        "RAREREADS_DISCORD_ADMINS": "1, 2;3",
        "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "RAREREADS_TELEGRAM_ADMINS": "42",
        "RAREREADS_TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
        "RAREREADS_TELEGRAM_MODE": "webhook",
        "RAREREADS_TELEGRAM_WEBHOOK_URL": "https://example.org/tg",
        "RAREREADS_TELEGRAM_WEBHOOK_PORT": "8444",
        "RAREREADS_TELEGRAM_WEBHOOK_SECRET": "webhook-secret-value",
        "RAREREADS_MODELS_DIR": str(tmp_path / "models"),
        "RAREREADS_MODEL": "20250101-000000-mf",
        "RAREREADS_DB": str(tmp_path / "s.sqlite"),
        "RAREREADS_DEFAULT_RARITY": "deep",
        "RAREREADS_RATE_LIMIT": "30/min",
        "RAREREADS_RETRAIN_SCHEDULE": "daily 03:00",
        "RAREREADS_RETRAIN_MIN_FRACTION": "0.95",
        "RAREREADS_LOG_LEVEL": "debug",
        "RAREREADS_DISCORD_SYNC": "never",
        "RAREREADS_RETRAIN_TIMEOUT": "90m",
        "RAREREADS_IMPORT_MAX_ROWS": "5000",
    }
    s = load_settings(env)
    assert s.platforms == ["discord", "telegram"]
    assert s.discord.token.get_secret_value() == DISCORD_TOKEN
    assert s.discord.test_guild_id == 123456789012345678
    assert s.is_admin("discord", 2) and s.is_admin("discord", "3") and not s.is_admin("discord", 42)
    assert s.is_admin("telegram", 42) and not s.is_admin("telegram", "nope")
    assert s.telegram.urls() == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert (s.telegram.mode, s.telegram.webhook_url, s.telegram.webhook_port) == ("webhook", "https://example.org/tg", 8444)
    assert s.model == tmp_path / "models" / "20250101-000000-mf"
    assert s.db == str(tmp_path / "s.sqlite")  # one string: a file, or (issue 16) a database URL
    assert s.default_rarity == "deep"
    assert s.rate_limit == RateLimit(30, 60.0)
    assert s.retrain_schedule.at == dt.time(3, 0)
    assert s.retrain_min_fraction == 0.95
    assert s.log_level == "DEBUG"
    assert (s.discord.sync, s.retrain_timeout, s.import_max_rows) == ("never", 5400.0, 5000)


def test_dotenv_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(f"RAREREADS_TELEGRAM_TOKEN={TELEGRAM_TOKEN}\nRAREREADS_DEFAULT_RARITY=deep\n")
    monkeypatch.setenv("RAREREADS_DEFAULT_RARITY", "balanced")
    s = load_settings(env_file=env_file)
    assert s.platforms == ["telegram"]
    assert s.default_rarity == "balanced"


def test_tokens_never_appear_in_reprs():
    s = load_settings({"RAREREADS_DISCORD_TOKEN": DISCORD_TOKEN, "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
                       "RAREREADS_TELEGRAM_WEBHOOK_SECRET": "webhook-secret-value"})
    for text in (repr(s), str(s), f"{s.discord.token}", str(s.telegram.token), repr(s.__dict__), s.model_dump_json()):
        assert DISCORD_TOKEN not in text and TELEGRAM_TOKEN not in text and "webhook-secret-value" not in text


def test_tokens_are_redacted_from_every_log_record(caplog):
    redact_secrets_in_logs([TELEGRAM_TOKEN])
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TELEGRAM_TOKEN)
        try:
            raise RuntimeError(f"failed https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe")
        except RuntimeError:
            logging.getLogger("x").exception("boom")
    assert "getMe" in caplog.text
    assert TELEGRAM_TOKEN not in caplog.text
    assert all(TELEGRAM_TOKEN not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name,value", [
    ("RAREREADS_DEFAULT_RARITY", "ultra"),
    ("RAREREADS_RATE_LIMIT", "fast"),
    ("RAREREADS_RETRAIN_SCHEDULE", "sometimes"),
    ("RAREREADS_RETRAIN_SCHEDULE", "daily 25:00"),
    ("RAREREADS_RETRAIN_MIN_FRACTION", "most"),
    ("RAREREADS_DISCORD_ADMINS", "alice"),
    ("RAREREADS_DISCORD_TEST_GUILD_ID", "guild"),
    ("RAREREADS_TELEGRAM_MODE", "carrier-pigeon"),
    ("RAREREADS_LOG_LEVEL", "LOUD"),
])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_webhook_mode_needs_a_url():
    with pytest.raises(SettingsError, match="WEBHOOK_URL"):
        load_settings({"RAREREADS_TELEGRAM_MODE": "webhook"})


def test_rate_limit_and_schedule_parsing():
    assert parse_rate_limit("5/10s") == RateLimit(5, 10.0)
    assert parse_rate_limit("5/s") == RateLimit(5, 1.0)
    assert parse_rate_limit("20/h") == RateLimit(20, 3600.0)
    assert parse_rate_limit("off") is None and parse_rate_limit("") is None
    daily = parse_schedule("daily 03:00")
    assert daily.next_run(dt.datetime(2025, 1, 1, 2, 0)) == dt.datetime(2025, 1, 1, 3, 0)
    assert daily.next_run(dt.datetime(2025, 1, 1, 3, 0)) == dt.datetime(2025, 1, 2, 3, 0)
    assert parse_schedule("every 12h").next_run(dt.datetime(2025, 1, 1)) == dt.datetime(2025, 1, 1, 12)
    assert parse_schedule("") is None


def test_rate_limiter_sliding_window():
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert limiter.hit("a") == pytest.approx(10.0)
    assert limiter.hit("b") == 0  # per user
    now[0] = 10.5
    assert limiter.hit("a") == 0
    assert "slow down" in slow_down_text(3.2).lower() and "4 seconds" in slow_down_text(3.2)


TOKEN_LIKE = ["123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "MTEx.discord-secret-token.abcdefghijklmnop",
              "sk_live_4eC39HqLyjWDarjtT1zdp7dc"]
ECHOING = ["RAREREADS_DEFAULT_RARITY", "RAREREADS_RATE_LIMIT", "RAREREADS_RETRAIN_SCHEDULE",
           "RAREREADS_RETRAIN_MIN_FRACTION", "RAREREADS_DISCORD_ADMINS", "RAREREADS_TELEGRAM_ADMINS",
           "RAREREADS_DISCORD_TEST_GUILD_ID", "RAREREADS_TELEGRAM_MODE", "RAREREADS_LOG_LEVEL",
           "RAREREADS_TELEGRAM_WEBHOOK_PORT", "RAREREADS_DISCORD_SYNC", "RAREREADS_RETRAIN_TIMEOUT",
           "RAREREADS_IMPORT_MAX_ROWS"]


@pytest.mark.parametrize("name", ECHOING)
@pytest.mark.parametrize("value", TOKEN_LIKE)
def test_a_settings_error_never_echoes_what_may_be_a_token(name, value):
    """A token pasted into the wrong variable used to be printed back in the error."""
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value, "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN})
    message = str(caught.value)
    assert name in message and value not in message and value[:12] not in message


def test_a_settings_error_says_what_the_setting_takes_and_never_its_value():
    """Messages used to echo short values; none do now (STYLE: name the setting, never echo its value)."""
    with pytest.raises(SettingsError) as caught:
        load_settings({"RAREREADS_DEFAULT_RARITY": "ultra"})
    message = str(caught.value)
    assert "RAREREADS_DEFAULT_RARITY" in message and all(name in message for name in ("any", "rare", "deep"))
    assert "ultra" not in message


@pytest.mark.parametrize("name", ["RAREREADS_MODELS_DIR", "RAREREADS_MODEL", "RAREREADS_DB"])
def test_a_token_pasted_into_a_path_setting_is_never_printed(name, tmp_path):
    """A path setting holding a token, beside a setting that is wrong: the error names both, shows neither."""
    token = TOKEN_LIKE[0]
    with pytest.raises(SettingsError) as caught:
        load_settings({name: token, "RAREREADS_RATE_LIMIT": token})
    assert "RAREREADS_RATE_LIMIT" in str(caught.value) and token not in str(caught.value)
    assert token[:12] not in str(caught.value)


def test_each_platform_section_reads_only_its_own_variables():
    s = load_settings({"RAREREADS_TELEGRAM_ADMINS": "7", "RAREREADS_DISCORD_ADMINS": "8",
                       "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN})
    assert (s.telegram.admins, s.discord.admins) == ({7}, {8})
    assert s.platforms == ["telegram"] and s.discord.token is None


def test_a_whole_section_set_as_one_variable_is_refused_in_one_line():
    with pytest.raises(SettingsError) as caught:
        load_settings({"RAREREADS_DISCORD": TOKEN_LIKE[0]})
    assert "RAREREADS_DISCORD_" in str(caught.value) and TOKEN_LIKE[0] not in str(caught.value)
