"""Telegram end to end: the real python-telegram-bot Application against a local Bot API stand-in.

Updates are scripted into the stand-in; the bot long-polls them over HTTP on 127.0.0.1,
runs its handlers on the real service, engine and SQLite shelves, and its replies are
asserted on as the stand-in recorded them.
"""
from __future__ import annotations

import asyncio
import html.parser
import logging
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("telegram")
pytest.importorskip("bot.service")
sys.path.insert(0, str(Path(__file__).parent / "standins"))

from drivers import ADMIN, READER, TELEGRAM_TOKEN as TOKEN, TelegramDriver, run_scenario  # noqa: E402
from models import BOOKS, HAMLETS, ISBNS, NO_ISBN, make_model  # noqa: E402
from telegram_api import BOT_ID, BOT_USERNAME, GROUP_ID, TelegramStandIn  # noqa: E402


def run_bot(tmp_path, scenario, **options):
    run_scenario("telegram", tmp_path, scenario, **options)


class _Links(html.parser.HTMLParser):
    """The links in a message's HTML: (text, href), in order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href", ""), ""

    def handle_data(self, data):
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._text, self._href))
            self._href = None


def _links(text: str) -> dict[str, str]:
    return dict(_Links(text).links)


def test_inline_mode_answers_with_matching_books(tmp_path):
    async def scenario(bot: TelegramDriver):
        mark = len(bot.api.calls)
        bot.api.inline_query(READER, "dune")
        call = await bot.api.wait_for("answerInlineQuery", after=mark)
        titles = [r["title"] for r in call.params["results"]]
        assert titles[0] == "Dune" and "Dune Messiah" in titles

    run_bot(tmp_path, scenario)


def test_inline_results_show_covers_given_over_http_as_https_thumbnails(tmp_path):
    """Telegram shows only https thumbnails: a catalogue's http covers showed none."""
    make_model(tmp_path / "models", "20250101-000000-a", "a", covers="http://covers.example.org/{isbn}.jpg")

    async def scenario(bot: TelegramDriver):
        mark = len(bot.api.calls)
        bot.api.inline_query(READER, "dune")
        call = await bot.api.wait_for("answerInlineQuery", after=mark)
        dune = call.params["results"][0]
        assert dune["title"] == "Dune"
        assert dune["thumbnail_url"] == "https://covers.example.org/0441172660.jpg"
        shared = dune["input_message_content"]["message_text"]  # what the chat it is shared in sees
        assert _links(shared) == {"Dune": "https://openlibrary.org/isbn/0441172660"}

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


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def test_serve_runs_telegram_and_shuts_down_cleanly(tmp_path):
    """Also when the newest model folder does not load: the bot used to refuse to start.

    Its command menu is the command table's (`bot.commands.menu`).
    """
    from bot.commands import menu
    from bot.serve import serve
    from bot.settings import load_settings

    async def main():
        from models import make_model

        api = await TelegramStandIn(TOKEN).start()
        env = _serve_env(tmp_path, api)
        broken = make_model(tmp_path / "models", "20260101-000000-b", "b")  # newest, but it does not load
        (broken / "index.bin").write_bytes(b"\0" * 16)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(load_settings(env), stop=stop))
        menu_call = await api.wait_for("setMyCommands")
        assert [(c["command"], c["description"]) for c in _json(menu_call.params["commands"])] == menu()  # the table's
        api.send_text(READER, "/shelf add Solaris")
        await api.wait_for("sendMessage", lambda c: "Solaris" in c.params["text"])
        stop.set()  # what SIGINT/SIGTERM do
        assert await asyncio.wait_for(task, 10) == 0
        await api.stop()

    asyncio.run(main())
    from engine.shelf import open_shelves

    store = open_shelves(tmp_path / "var" / "s.sqlite")  # the shelf was written and the file closed cleanly
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
        assert len(expected) >= 20 and sum("Read it" in label for label in said.labels) == len(expected)

    run_bot(tmp_path, scenario, books=LONG_BOOKS)


BOT = f"@{BOT_USERNAME}"


async def _quiet(bot: TelegramDriver, user: int, mark: int) -> list:
    """Messages the bot sent to the group since `mark`, once a later /help from `user` is answered."""
    await bot.say(user, f"/help{BOT}", group=True)
    await asyncio.sleep(0.2)
    await bot.runtime.inflight.wait_idle(5)
    return [c for c in bot.api.calls[mark:] if c.method == "sendMessage" and "I recommend" not in c.params["text"]]


def test_commands_addressed_to_this_bot_work_in_groups_and_others_are_ignored(tmp_path):
    """`@name` was stripped in one place and not another: group buttons did the wrong thing or raised."""
    async def scenario(bot: TelegramDriver):
        reader = bot.reader(READER)
        ask = await bot.say(READER, f"/shelf{BOT} add The Road", group=True)
        await bot.press(READER, ask, "London")
        assert [e.author for e in bot.shelves.entries(reader)] == ["Jack London"]
        ask = await bot.say(READER, f"/shelf{BOT} clear", group=True)
        done = await bot.press(READER, ask, "Yes")
        assert bot.shelves.count(reader) == 0, done.text
        assert not [c for c in bot.api.calls if c.method == "sendMessage" and "went wrong" in c.params["text"]]
        mark = len(bot.api.calls)
        bot.api.send_text(READER, "/recommend@some_other_bot Dune", group=True)
        assert await _quiet(bot, READER, mark) == []  # not for us

    run_bot(tmp_path, scenario)


def test_in_groups_only_commands_mentions_and_replies_to_the_bot_are_answered(tmp_path):
    async def scenario(bot: TelegramDriver):
        mark = len(bot.api.calls)
        bot.api.send_text(READER, "anyone up for the pub tonight?", group=True)
        bot.api.send_text(READER, "2", group=True)
        assert await _quiet(bot, READER, mark) == []
        mentioned = await bot.say(READER, f"{BOT} Solaris", group=True)
        assert "Readers who loved Solaris" in mentioned.text
        ask = await bot.say(READER, f"/recommend{BOT} The Road", group=True)
        reply_to = {"message_id": 99, "date": 0, "chat": {"id": GROUP_ID, "type": "supergroup"}, "text": ask.text,
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "rarereads", "username": BOT_USERNAME}}
        picked = await bot.say(READER, "1", group=True, reply_to=reply_to)  # a reply to the bot's question
        assert "Readers who loved The Road" in picked.text

    run_bot(tmp_path, scenario)


def test_in_a_group_the_also_line_comes_in_the_answer_itself(tmp_path):
    """The "also:" line of an answer the evidence decided is part of that answer's message, not one more."""
    async def scenario(bot: TelegramDriver):
        for line in (f"/recommend{BOT} Hamlet", f"/book{BOT} Hamlet", f"/shelf{BOT} add Hamlet"):
            said = await bot.say(READER, line, group=True)
            assert len(said.calls) == 1, (line, [c.params["text"] for c in said.calls])
            assert said.calls[0].params["text"].count("also: Hamlet — Cliffs Notes (1990)") == 1, line
        assert not bot.api.refused

    run_bot(tmp_path, scenario, books=BOOKS + HAMLETS)


def test_answers_go_to_the_forum_topic_the_command_came_from(tmp_path):
    async def scenario(bot: TelegramDriver):
        picks = await bot.say(READER, f"/recommend{BOT} Solaris k=2", group=True, topic=42)
        assert all(c.params.get("message_thread_id") == 42 for c in picks.calls)
        more = await bot.press(READER, picks, "1.", "More")
        assert more.calls and all(c.params.get("message_thread_id") == 42 for c in more.calls)

    run_bot(tmp_path, scenario)


def test_an_edited_message_is_not_a_command(tmp_path):
    """Editing /forget into /forget yes deleted a reader's data."""
    async def scenario(bot: TelegramDriver):
        await bot.command(READER, "shelf add", "Solaris")
        await bot.command(READER, "forget")
        mark = len(bot.api.calls)
        bot.api.send_text(READER, "/forget yes", edited=True)
        bot.api.send_text(READER, "/shelf clear yes", edited=True)
        await bot.command(READER, "help")
        await asyncio.sleep(0.2)
        await bot.runtime.inflight.wait_idle(5)
        assert bot.shelves.count(bot.reader(READER)) == 1
        assert [c.params["text"][:20] for c in bot.api.calls[mark:] if c.method == "sendMessage"] == ["I recommend rare boo"]

    run_bot(tmp_path, scenario)


def test_flood_control_waits_and_retries_without_sending_more(tmp_path):
    """A 429 "retry after" was answered with yet another message (the apology)."""
    async def scenario(bot: TelegramDriver):
        bot.api.flood(1)
        said = await bot.command(READER, "help")  # refused once, then sent after the wait
        assert "I recommend" in said.text
        mark = len(bot.api.calls)
        bot.api.flood(1, 1)  # more refusals than the bot retries
        bot.api.send_text(READER, "/help")
        await bot.api.wait_for("sendMessage", after=mark)
        await asyncio.sleep(2.5)
        await bot.runtime.inflight.wait_idle(5)
        sent = [c.params["text"] for c in bot.api.calls[mark:] if c.method == "sendMessage"]
        assert len(sent) == 2 and not any("went wrong" in text for text in sent), sent  # the try and one retry

    run_bot(tmp_path, scenario)


def test_one_readers_messages_are_answered_in_the_order_sent(tmp_path, monkeypatch):
    async def scenario(bot: TelegramDriver):
        service = bot.runtime.service
        book = service.book

        def slow_for_solaris(reader, title, **kwargs):
            if "Solaris" in title:
                import time

                time.sleep(0.4)
            return book(reader, title, **kwargs)

        monkeypatch.setattr(service, "book", slow_for_solaris)
        mark = len(bot.api.calls)
        for title in ("Solaris", "Pavane", "Stoner"):
            bot.api.send_text(READER, f"/book {title}")
        other = await bot.say(ADMIN, "/book Dune")  # another reader is not held up
        assert "Dune" in other.text
        for _ in range(100):
            answers = [c.params["text"] for c in bot.api.calls[mark:]
                       if c.method == "sendMessage" and c.params["chat_id"] == READER]
            if len(answers) == 3:
                break
            await asyncio.sleep(0.05)
        firsts = [re.sub(r"<[^>]+>", "", a).split("\n")[0].split(" — ")[0] for a in answers]
        assert firsts == ["Solaris", "Pavane", "Stoner"]

    run_bot(tmp_path, scenario)


def test_serve_reports_an_unusable_shelf_database_in_one_line(tmp_path, capsys):
    from bot.serve import serve
    from bot.settings import load_settings

    async def main():
        api = await TelegramStandIn(TOKEN).start()
        env = _serve_env(tmp_path, api)
        Path(env["RAREREADS_DB"]).parent.mkdir(parents=True)
        Path(env["RAREREADS_DB"]).write_bytes(b"not a database" * 500)
        try:
            return await serve(load_settings(env))
        finally:
            await api.stop()

    assert asyncio.run(main()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "s.sqlite" in err[0] and "Traceback" not in err[0], err


def test_each_pick_and_a_book_answer_link_their_title_to_the_book_page(tmp_path):
    async def scenario(bot: TelegramDriver):
        engine = bot.runtime.holder.current
        picks = await bot.say(READER, "/recommend Solaris k=3 rarity=any")
        assert not bot.api.refused, bot.api.refused
        links = _links(picks.calls[0].params["text"])
        expected = engine.recommend([engine.resolve("Solaris")], k=3, rarity="any").picks
        assert len(expected) == 3 and len(links) == 3
        for pick in expected:
            assert links[pick.work.title] == f"https://openlibrary.org/isbn/{ISBNS[pick.work.title]}"
        book = await bot.say(READER, "/book Solaris")
        [(title, href), *neighbours] = _Links(book.calls[0].params["text"]).links
        assert (title, href) == ("Solaris", "https://openlibrary.org/isbn/0156027607")
        assert neighbours and all(h == f"https://openlibrary.org/isbn/{ISBNS[t]}" for t, h in neighbours)
        no_isbn = await bot.say(READER, "/book Lud-in-the-Mist")
        html_text = no_isbn.calls[0].params["text"]
        assert html_text.startswith(  # the attribute is escaped: & is &amp;
            '<a href="https://openlibrary.org/search?title=Lud-in-the-Mist&amp;author=Hope+Mirrlees"><b>Lud-in-the-Mist')
        assert not bot.api.refused, bot.api.refused

    run_bot(tmp_path, scenario, books=BOOKS + [NO_ISBN])
