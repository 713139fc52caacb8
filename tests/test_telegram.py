"""Telegram end to end: the real python-telegram-bot Application against a local Bot API stand-in.

Updates are scripted into the stand-in; the bot long-polls them over HTTP on 127.0.0.1,
runs its handlers on the real service, engine and SQLite shelves, and its replies are
asserted on as the stand-in recorded them.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

pytest.importorskip("telegram")
pytest.importorskip("bot.service")
sys.path.insert(0, str(Path(__file__).parent / "standins"))

from drivers import ADMIN, READER, TELEGRAM_TOKEN as TOKEN, TelegramDriver, run_scenario  # noqa: E402
from models import BOOKS  # noqa: E402
from telegram_api import TelegramStandIn  # noqa: E402


def run_bot(tmp_path, scenario, **options):
    run_scenario("telegram", tmp_path, scenario, **options)


def test_inline_mode_answers_with_matching_books(tmp_path):
    async def scenario(bot: TelegramDriver):
        mark = len(bot.api.calls)
        bot.api.inline_query(READER, "dune")
        call = await bot.api.wait_for("answerInlineQuery", after=mark)
        titles = [r["title"] for r in call.params["results"]]
        assert titles[0] == "Dune" and "Dune Messiah" in titles

    run_bot(tmp_path, scenario)





def test_token_never_reaches_the_logs(tmp_path, caplog):
    from bot.settings import redact_secrets_in_logs

    redact_secrets_in_logs([TOKEN])  # what `rarereads serve` does at start-up

    async def scenario(bot: TelegramDriver):
        await bot.command(READER, "help")

    with caplog.at_level(logging.DEBUG):
        run_bot(tmp_path, scenario)
    assert "getUpdates" in caplog.text or "getMe" in caplog.text  # requests were logged...
    assert TOKEN not in caplog.text  # ...without the token
    assert TOKEN not in repr(caplog.records)


def _serve_env(tmp_path, api, token=TOKEN):
    from models import make_model

    make_model(tmp_path / "models", "20250101-000000-a", "a")
    return {"RAREREADS_TELEGRAM_TOKEN": token, "RAREREADS_TELEGRAM_BASE_URL": api.root,
            "RAREREADS_MODELS_DIR": str(tmp_path / "models"), "RAREREADS_DB": str(tmp_path / "var" / "s.sqlite")}


def test_serve_runs_telegram_and_shuts_down_cleanly(tmp_path):
    from bot.serve import serve
    from bot.settings import load_settings

    async def main():
        api = await TelegramStandIn(TOKEN).start()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(load_settings(_serve_env(tmp_path, api)), stop=stop))
        await api.wait_for("setMyCommands")
        api.send_text(READER, "/shelf add Solaris")
        await api.wait_for("sendMessage", lambda c: "Solaris" in c.params["text"])
        stop.set()  # what SIGINT/SIGTERM do
        assert await asyncio.wait_for(task, 10) == 0
        await api.stop()

    asyncio.run(main())
    from engine.shelf import ShelfStore

    store = ShelfStore(tmp_path / "var" / "s.sqlite")  # the shelf was written and the file closed cleanly
    assert store.count(f"telegram:{READER}") == 1
    store.close()


def test_serve_reports_a_rejected_token_in_one_line(tmp_path, capsys):
    from bot.serve import serve
    from bot.settings import load_settings

    async def main():
        api = await TelegramStandIn(TOKEN).start()
        try:
            return await serve(load_settings(_serve_env(tmp_path, api, token="999:wrong-token-abcdefgh")))
        finally:
            await api.stop()

    assert asyncio.run(main()) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rejected RAREREADS_TELEGRAM_TOKEN" in err[0]
    assert "wrong-token" not in err[0]


def test_serve_without_any_token_says_how_to_set_one(tmp_path, capsys, monkeypatch):
    from rarereads.cli import main

    for name in ("RAREREADS_DISCORD_TOKEN", "RAREREADS_TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--env-file", str(tmp_path / "missing.env")]) == 2
    err = capsys.readouterr().err
    assert "RAREREADS_TELEGRAM_TOKEN" in err and ".env" in err and "Traceback" not in err


LONG_BOOKS = [(f"{title}: Being a Very Long Subtitle, with <Angle Brackets> & Ampersands, for {author}", author, year,
               isbn) for title, author, year, isbn in BOOKS]


def test_a_long_answer_arrives_whole_in_messages_telegram_accepts(tmp_path):
    """The HTML was clipped at 4000 characters after it was built: a cut tag, and Telegram refused it."""
    async def scenario(bot: TelegramDriver):
        engine = bot.runtime.holder.current
        expected = engine.recommend([engine.resolve(LONG_BOOKS[1][0])], k=25, rarity="any").picks
        said = await bot.say(READER, f"/recommend {LONG_BOOKS[1][0]} k=25 rarity=any")
        assert not bot.api.refused, bot.api.refused[0][1]
        assert len(said.calls) >= 2  # more than one message's worth
        assert all(len(c.params["text"]) <= 4096 for c in said.calls)
        for n, pick in enumerate(expected, 1):
            assert f"{n}. {pick.work.title}" in said.text
        assert len(expected) >= 20 and sum("Add" in label for label in said.labels) == len(expected)

    run_bot(tmp_path, scenario, books=LONG_BOOKS)
