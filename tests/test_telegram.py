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

from botkit import NASTY_INPUTS, make_runtime  # noqa: E402
from models import goodreads_export  # noqa: E402
from telegram_api import TelegramStandIn  # noqa: E402

from bot.telegram_bot import build_application  # noqa: E402

TOKEN = "424242:telegram-test-token-ZYXWVUTSRQPONMLK"
ADMIN, READER = 1001, 2002


class Bot:
    """A running Application plus its stand-in; `say` sends a message and returns the bot's reply."""

    def __init__(self, api: TelegramStandIn, app, runtime, shelves):
        self.api, self.app, self.runtime, self.shelves = api, app, runtime, shelves

    async def say(self, user: int, text: str, method: str = "sendMessage"):
        mark = len(self.api.calls)
        self.api.send_text(user, text)
        return await self.api.wait_for(method, lambda c: c.params.get("chat_id") == user, after=mark)

    async def press(self, user: int, reply, label_part: str):
        """Press the first button under `reply` whose label contains `label_part`."""
        buttons = [b for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
        button = next(b for b in buttons if label_part in b["text"])
        mark = len(self.api.calls)
        message = {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "picks"}
        self.api.press(user, button["callback_data"], message)
        await self.api.wait_for("answerCallbackQuery", after=mark)
        return mark


def run_bot(tmp_path, scenario, env=None, rate=(1000, 1.0)):
    async def main():
        settings_env = {"RAREREADS_TELEGRAM_TOKEN": TOKEN, "RAREREADS_TELEGRAM_ADMINS": str(ADMIN), **(env or {})}
        runtime, shelves = make_runtime(tmp_path, settings_env, rate=rate)
        api = await TelegramStandIn(TOKEN).start()
        app = build_application(runtime, TOKEN, base_url=api.base_url, base_file_url=api.base_file_url)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await asyncio.wait_for(scenario(Bot(api, app, runtime, shelves)), 30)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await runtime.cancel_background()
            await api.stop()
            shelves.close()

    asyncio.run(main())


def test_recommend_with_buttons_add_to_shelf_and_more_like_this(tmp_path):
    async def scenario(bot: Bot):
        reply = await bot.say(READER, "/recommend Solaris k=3 rarity=any")
        assert reply.params["parse_mode"] == "HTML"
        text = reply.params["text"]
        assert text.count("<b>") >= 3 and "Dune" in text
        rows = reply.params["reply_markup"]["inline_keyboard"]
        assert len(rows) == 3 and all(len(r) == 2 for r in rows)
        mark = await bot.press(READER, reply, "1. Add")
        added = await bot.api.wait_for("sendMessage", after=mark)
        assert bot.shelves.count(f"telegram:{READER}") == 1, added.params["text"]
        mark = await bot.press(READER, reply, "2. More")
        more = await bot.api.wait_for("sendMessage", after=mark)
        assert more.params.get("reply_markup"), more.params["text"]

    run_bot(tmp_path, scenario)


def test_shelf_add_show_and_recommend_for_whole_shelf(tmp_path):
    async def scenario(bot: Bot):
        await bot.say(READER, "/shelf add Solaris")
        await bot.say(READER, "/shelf add Roadside Picnic")
        shelf = await bot.say(READER, "/shelf")
        assert "Solaris" in shelf.params["text"] and "Roadside Picnic" in shelf.params["text"]
        picks = await bot.say(READER, "/recommend")
        assert picks.params.get("reply_markup"), picks.params["text"]
        removed = await bot.say(READER, "/shelf remove Solaris")
        assert bot.shelves.count(f"telegram:{READER}") == 1, removed.params["text"]

    run_bot(tmp_path, scenario)


def test_ambiguous_title_offers_choices_that_work(tmp_path):
    async def scenario(bot: Bot):
        reply = await bot.say(READER, "/shelf add The Road")  # McCarthy's and London's
        markup = reply.params.get("reply_markup")
        buttons = [b for row in markup["inline_keyboard"] for b in row]
        assert any("London" in b["text"] for b in buttons) and len(buttons) >= 2
        mark = await bot.press(READER, reply, "London")
        await bot.api.wait_for("sendMessage", after=mark)
        entries = bot.shelves.entries(f"telegram:{READER}")
        assert [e.work_key for e in entries] == ["the road|jack london"]
        again = await bot.say(READER, "/shelf add The Road")
        labels = [row[0]["text"] for row in again.params["reply_markup"]["inline_keyboard"]]
        number = next(n for n, label in enumerate(labels, 1) if "McCarthy" in label)
        picked = await bot.say(READER, str(number))  # a numbered reply works as well as a button
        assert bot.shelves.count(f"telegram:{READER}") == 2, picked.params["text"]

    run_bot(tmp_path, scenario)


def test_unknown_title_is_not_a_dead_end(tmp_path):
    async def scenario(bot: Bot):
        reply = await bot.say(READER, "/recommend Solarsi")  # a typo
        assert reply.params["text"].strip()
        assert reply.params.get("reply_markup") or "Solaris" in reply.params["text"]

    run_bot(tmp_path, scenario)


def test_clear_and_forget_ask_first(tmp_path):
    async def scenario(bot: Bot):
        await bot.say(READER, "/shelf add Solaris")
        ask = await bot.say(READER, "/shelf clear")
        assert bot.shelves.count(f"telegram:{READER}") == 1
        mark = await bot.press(READER, ask, "Cancel")
        await bot.api.wait_for("sendMessage", after=mark)
        assert bot.shelves.count(f"telegram:{READER}") == 1
        ask = await bot.say(READER, "/shelf clear")
        mark = await bot.press(ADMIN, ask, "Yes")  # someone else's button does nothing
        assert bot.shelves.count(f"telegram:{READER}") == 1
        mark = await bot.press(READER, ask, "Yes")
        await bot.api.wait_for("sendMessage", after=mark)
        assert bot.shelves.count(f"telegram:{READER}") == 0
        await bot.say(READER, "/shelf add Solaris")
        ask = await bot.say(READER, "/forget")
        mark = await bot.press(READER, ask, "Yes")
        await bot.api.wait_for("sendMessage", after=mark)
        assert bot.shelves.count(f"telegram:{READER}") == 0

    run_bot(tmp_path, scenario)


def test_goodreads_import_reports_matched_and_unmatched(tmp_path):
    export = goodreads_export([("Dune (Dune Chronicles, #1)", "Frank Herbert", "0441172660", 5),
                               ("Solaris", "Stanislaw Lem", "", 4),
                               ("A Book Nobody Has Heard Of", "Nobody", "", 3)])

    async def scenario(bot: Bot):
        mark = len(bot.api.calls)
        bot.api.send_document(READER, "goodreads_library_export.csv", export)
        reply = await bot.api.wait_for("sendMessage", after=mark)
        assert any(c.method == "getFile" for c in bot.api.calls[mark:])
        assert bot.shelves.count(f"telegram:{READER}") == 2, reply.params["text"]
        assert "Nobody" in reply.params["text"]  # says which did not match
        mark = len(bot.api.calls)
        bot.api.send_document(READER, "photo.csv", b"\x89PNG not a csv at all")
        bad = await bot.api.wait_for("sendMessage", after=mark)
        assert bad.params["text"].strip() and "went wrong" not in bad.params["text"]

    run_bot(tmp_path, scenario)


def test_inline_mode_answers_with_matching_books(tmp_path):
    async def scenario(bot: Bot):
        mark = len(bot.api.calls)
        bot.api.inline_query(READER, "dune")
        call = await bot.api.wait_for("answerInlineQuery", after=mark)
        titles = [r["title"] for r in call.params["results"]]
        assert titles[0] == "Dune" and "Dune Messiah" in titles

    run_bot(tmp_path, scenario)


def test_admin_commands_and_retrain_progress(tmp_path):
    async def scenario(bot: Bot):
        refused = await bot.say(READER, "/retrain")
        assert "admin" in refused.params["text"].lower()
        refused = await bot.say(READER, "/status")
        assert "admin" in refused.params["text"].lower()
        status = await bot.say(ADMIN, "/status")
        assert "20250101-000000-a" in status.params["text"] and "26 works" in status.params["text"]
        mark = len(bot.api.calls)
        bot.api.send_text(ADMIN, "/retrain")
        done = await bot.api.wait_for("editMessageText", lambda c: "Now serving" in c.params["text"], after=mark, timeout=20)
        edits = [c for c in bot.api.calls[mark:] if c.method == "editMessageText"]
        assert len({c.params["message_id"] for c in edits}) == 1  # one message, edited
        assert bot.runtime.holder.current.version.endswith("-b"), done.params["text"]

    run_bot(tmp_path, scenario)


def test_rate_limit_says_slow_down(tmp_path):
    async def scenario(bot: Bot):
        for _ in range(2):
            await bot.say(READER, "/help")
        reply = await bot.say(READER, "/help")
        assert "slow down" in reply.params["text"].lower()
        other = await bot.say(ADMIN, "/help")
        assert "slow down" not in other.params["text"].lower()

    run_bot(tmp_path, scenario, rate=(2, 60.0))


def test_nasty_input_never_breaks_a_reply(tmp_path):
    async def scenario(bot: Bot):
        for text in NASTY_INPUTS:
            for command in ("/recommend ", "/book ", "/shelf add ", "/shelf remove ", ""):
                if not (command + text).strip():
                    continue
                reply = await bot.say(READER, command + text)
                body = reply.params["text"]
                assert body.strip() and "went wrong" not in body
                assert "<script>" not in body and "<b>bold</b>" not in body  # user text is escaped
                assert len(body) <= 4096

    run_bot(tmp_path, scenario)


def test_token_never_reaches_the_logs(tmp_path, caplog):
    from bot.settings import redact_secrets_in_logs

    redact_secrets_in_logs([TOKEN])  # what `rarereads serve` does at start-up

    async def scenario(bot: Bot):
        await bot.say(READER, "/help")

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
