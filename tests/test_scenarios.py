"""One scenario suite, run on both platforms: the real bots against their stand-ins on 127.0.0.1.

Each scenario is written once against `drivers.Driver` (commands with options, button
presses, uploads) and runs on Telegram and on Discord; platform-only behaviour is tested
in test_telegram.py and test_discord.py.
"""
from __future__ import annotations

import asyncio
import re
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("telegram")
pytest.importorskip("discord")
sys.path.insert(0, str(Path(__file__).parent / "standins"))

from botkit import NASTY_INPUTS  # noqa: E402
from drivers import ADMIN, OTHER, PLATFORMS, READER, Driver, run_scenario  # noqa: E402
from models import BOOKS, HAMLETS, goodreads_export  # noqa: E402

pytestmark = pytest.mark.parametrize("platform", PLATFORMS)


def lists(text: str, title: str) -> bool:
    """Whether `title` is one of the numbered picks in `text` (not merely named in a reason)."""
    return re.search(rf"^\d+\. {re.escape(title)}( —|$)", text, re.M) is not None


def test_recommend_with_buttons_read_it_and_more_like_this(platform, tmp_path):
    async def scenario(bot: Driver):
        picks = await bot.command(READER, "recommend", "Solaris", count=3, rarity="any")
        assert "Dune" in picks.text
        assert sum("Read it" in label for label in picks.labels) == 3
        added = await bot.press(READER, picks, "1.", "Read it")
        assert bot.shelves.count(bot.reader(READER)) == 1, added.text
        more = await bot.press(READER, picks, "2.", "More")
        assert more.controls and "Readers who loved" in more.text
        shelf_picks = await bot.command(READER, "recommend")  # no title: the whole shelf
        assert "on your shelf" in shelf_picks.text or "Readers who loved" in shelf_picks.text

    run_scenario(platform, tmp_path, scenario)


def test_shelf_add_show_remove(platform, tmp_path):
    async def scenario(bot: Driver):
        for title in ("Solaris", "Roadside Picnic", "Pavane"):
            await bot.command(READER, "shelf add", title)
        shelf = await bot.command(READER, "shelf show")
        assert "Solaris" in shelf.text and "Roadside Picnic" in shelf.text and "Pavane" in shelf.text
        await bot.command(READER, "shelf remove", "Pavane")
        assert bot.shelves.count(bot.reader(READER)) == 2

    run_scenario(platform, tmp_path, scenario)


def test_ambiguous_title_offers_choices_that_work(platform, tmp_path):
    async def scenario(bot: Driver):
        ask = await bot.command(READER, "shelf add", "The Road")  # McCarthy's and London's
        assert any("London" in label for label in ask.labels) and len(ask.controls) >= 2
        await bot.press(READER, ask, "London")
        assert [(e.title, e.author) for e in bot.shelves.entries(bot.reader(READER))] == [("The Road", "Jack London")]

    run_scenario(platform, tmp_path, scenario)


def test_numbered_choices_are_the_most_liked_first(platform, tmp_path):
    async def scenario(bot: Driver):
        engine = bot.runtime.holder.current
        roads = sorted((m.work for m in engine.match_title("The Road") if m.work.title == "The Road"),
                       key=lambda w: -w.likes)
        assert len(roads) == 2 and roads[0].likes > roads[1].likes  # McCarthy's, listed first, is less liked
        ask = await bot.command(READER, "recommend", "The Road")
        assert [n for label in ask.labels for n, w in enumerate(roads, 1) if f"{n}. {w.label}" in label] == [1, 2]
        assert ask.text.index(f"1. {roads[0].label}") < ask.text.index(f"2. {roads[1].label}")

    run_scenario(platform, tmp_path, scenario)


def test_a_title_the_evidence_decides_is_answered_with_the_others_named_once(platform, tmp_path):
    """Issue 9: "Hamlet" is Shakespeare's (the other Hamlet is a study guide of it), and the
    answer names the other in one "also:" line, for /recommend, /book and /shelf add alike."""
    also = "also: Hamlet — Cliffs Notes (1990)"

    async def scenario(bot: Driver):
        picks = await bot.command(READER, "recommend", "Hamlet")
        assert "Readers who loved Hamlet" in picks.text and picks.text.count(also) == 1, picks.text
        book = await bot.command(READER, "book", "Hamlet")
        assert "William Shakespeare" in book.text and book.text.count(also) == 1, book.text
        added = await bot.command(READER, "shelf add", "Hamlet")
        assert "Added Hamlet" in added.text and added.text.count(also) == 1, added.text
        assert not any("Cliffs" in label for said in (picks, book, added) for label in said.labels)  # no question
        assert [(e.title, e.author) for e in bot.shelves.entries(bot.reader(READER))] == [
            ("Hamlet", "William Shakespeare")]

    run_scenario(platform, tmp_path, scenario, books=BOOKS + HAMLETS)


def test_unknown_title_is_not_a_dead_end(platform, tmp_path):
    async def scenario(bot: Driver):
        said = await bot.command(READER, "recommend", "Solarsi")  # a typo
        if "Readers who loved Solaris" not in said.text:  # not read as Solaris at once: a question offering it
            said = await bot.press(READER, said, "Solaris")
        assert "Readers who loved Solaris" in said.text and said.controls

    run_scenario(platform, tmp_path, scenario)


def test_clear_and_forget_ask_first_and_only_the_asker_confirms(platform, tmp_path):
    async def scenario(bot: Driver):
        reader = bot.reader(READER)
        await bot.command(READER, "shelf add", "Solaris")
        ask = await bot.command(READER, "shelf clear")
        assert bot.shelves.count(reader) == 1
        await bot.press(READER, ask, "Cancel")
        assert bot.shelves.count(reader) == 1
        refused = await bot.press(ADMIN, ask, "Yes")  # not the asker's button
        assert "someone else" in refused.text and bot.shelves.count(reader) == 1
        await bot.press(READER, ask, "Yes")
        assert bot.shelves.count(reader) == 0
        await bot.command(READER, "shelf add", "Solaris")
        ask = await bot.command(READER, "forget")
        assert bot.shelves.count(reader) == 1
        await bot.press(READER, ask, "Yes")
        assert bot.shelves.count(reader) == 0
        await bot.command(READER, "shelf add", "Solaris")
        await bot.command(READER, "forget", yes=True)
        assert bot.shelves.count(reader) == 0

    run_scenario(platform, tmp_path, scenario)


def test_goodreads_import_reports_matched_and_unmatched(platform, tmp_path):
    export = goodreads_export([("Dune (Dune Chronicles, #1)", "Frank Herbert", "0441172660", 5),
                               ("Solaris", "Stanislaw Lem", "", 4),
                               ("A Book Nobody Has Heard Of", "Nobody", "", 3)])

    async def scenario(bot: Driver):
        said = await bot.upload(READER, "goodreads_library_export.csv", export)
        assert bot.shelves.count(bot.reader(READER)) == 2, said.text
        assert "Nobody" in said.text  # says which did not match
        bad = await bot.upload(READER, "photo.csv", b"\x89PNG not a csv at all")
        assert bad.text.strip() and "went wrong" not in bad.text
        assert bot.shelves.count(bot.reader(READER)) == 2

    run_scenario(platform, tmp_path, scenario)


def test_admin_commands_and_retrain_with_hot_swap(platform, tmp_path):
    async def scenario(bot: Driver):
        for command in ("retrain", "status"):
            refused = await bot.command(READER, command)
            assert "admins" in refused.text
        status = await bot.command(ADMIN, "status")
        assert "20250101-000000-a" in status.text and "26 works" in status.text and "Uptime" in status.text
        started = await bot.command(ADMIN, "retrain")
        assert "Retraining" in started.text
        again = await bot.command(ADMIN, "retrain")
        assert "already running" in again.text
        for _ in range(200):
            if not bot.runtime.retrain.running:
                break
            await asyncio.sleep(0.05)
        assert bot.runtime.holder.current.version.endswith("-b"), bot.runtime.retrain.last
        assert "Now serving" in bot.runtime.retrain.last.message

    run_scenario(platform, tmp_path, scenario)


def test_rate_limit_says_slow_down_to_that_reader_only(platform, tmp_path):
    async def scenario(bot: Driver):
        await bot.command(READER, "help")
        await bot.command(READER, "help")
        fast = await bot.command(READER, "help")
        assert "slow down" in fast.text.lower()
        other = await bot.command(ADMIN, "help")
        assert "slow down" not in other.text.lower()

    run_scenario(platform, tmp_path, scenario, rate=(2, 60.0))


def test_nasty_input_is_escaped_and_answered(platform, tmp_path):
    async def scenario(bot: Driver):
        for text in NASTY_INPUTS:
            if not text.strip():
                continue
            for name in ("recommend", "book", "shelf add", "shelf remove"):
                said = await bot.command(READER, name, text)
                assert said.text.strip() and "went wrong" not in said.text, (name, text[:40])
                assert said.calls, (name, text[:40])  # answered in a message, whose text is checked below
                for call in said.calls:
                    body = call.params["text"] if platform == "telegram" else (call.data.get("content") or "")
                    if platform == "telegram":
                        assert len(body) <= 4096
                        assert "<script>" not in body and "<b>bold</b>" not in body  # HTML is escaped
                    else:
                        assert len(body) <= 2000
                        assert "**bold**" not in body and "`code`" not in body  # markdown is escaped

    run_scenario(platform, tmp_path, scenario)


def test_large_imports_queue_on_their_own_and_never_hold_up_another_readers_help(platform, tmp_path):
    """Six large imports filled the shared thread pool: another reader's /help waited 40 s."""
    export = goodreads_export([("Solaris", "Stanislaw Lem", "", 4)])
    release = threading.Event()

    async def scenario(bot: Driver):
        service = bot.runtime.service
        importing = service.shelf_import

        def slow_import(reader, *args, **kwargs):
            release.wait(20)  # a big export being matched
            return importing(reader, *args, **kwargs)

        service.shelf_import = slow_import
        readers = [5000 + n for n in range(8)]
        try:
            for user in readers:
                bot.post_upload(user, "goodreads_library_export.csv", export)
            await asyncio.sleep(0.3)
            bot.post(ADMIN, "help")
            assert "I recommend" in await bot.answered(ADMIN, "I recommend", timeout=5)
        finally:
            release.set()
        for user in readers:
            assert "Imported 1 book" in await bot.answered(user, "Imported", timeout=20)

    run_scenario(platform, tmp_path, scenario, timeout=60)


def test_read_it_not_interested_and_more(platform, tmp_path):
    async def scenario(bot: Driver):
        reader = bot.reader(READER)
        picks = await bot.command(READER, "recommend", "Solaris", count=3, rarity="any")
        read = await bot.press(READER, picks, "1.", "Read it")
        assert "Added" in read.text and bot.shelves.count(reader) == 1
        noted = await bot.press(READER, picks, "2.", "Not interested")
        assert "won't recommend" in noted.text
        dismissed = bot.shelves.all_dismissed()[0][2]
        more = await bot.press(READER, picks, "More ▶")
        assert "page 2" in more.text and "4." in more.text and "1." not in more.text.split("page 2")[1][:5]
        again = await bot.command(READER, "recommend", "Solaris", count=10, rarity="any")
        assert lists(picks.text, dismissed) and not lists(again.text, dismissed)  # never recommended again...
        read_title = bot.shelves.entries(reader)[0].title
        assert lists(picks.text, read_title) and not lists(again.text, read_title)  # ...nor what was read

    run_scenario(platform, tmp_path, scenario)


def test_buttons_and_pending_questions_survive_a_restart(platform, tmp_path):
    said = {}

    async def before(bot: Driver):
        said["picks"] = await bot.command(READER, "recommend", "Solaris", count=3, rarity="any")
        said["ask"] = await bot.command(READER, "shelf add", "The Road")

    async def after(bot: Driver):  # a new process: new runtime, same SQLite file
        await bot.press(READER, said["picks"], "2.", "Read it")
        await bot.press(READER, said["ask"], "London")
        titles = [e.author for e in bot.shelves.entries(bot.reader(READER))]
        assert len(titles) == 2 and "Jack London" in titles

    run_scenario(platform, tmp_path, before)
    run_scenario(platform, tmp_path, after)


def test_book_club_recommends_for_the_shelves_members_shared(platform, tmp_path):
    async def scenario(bot: Driver):
        await bot.command(READER, "shelf add", "Solaris")
        await bot.command(ADMIN, "shelf add", "Pavane")
        alone = await bot.command(READER, "recommend", group=True)
        assert "your shelf" in alone.text and "/shelf share" in alone.text  # nobody shares yet
        joined = await bot.command(READER, "shelf share", group=True)
        assert "shared with this group" in joined.text
        await bot.command(ADMIN, "shelf share", group=True)
        club = await bot.command(OTHER, "recommend", group=True)  # anyone in the group may ask
        assert "the 2 books 2 members shared here" in club.text
        assert not lists(club.text, "Solaris") and not lists(club.text, "Pavane")
        await bot.command(ADMIN, "shelf share", stop=True, group=True)
        club = await bot.command(OTHER, "recommend", group=True)
        assert "the 1 book 1 member shared here" in club.text
        private = await bot.command(READER, "shelf share", group=False)
        assert "from a group" in private.text

    run_scenario(platform, tmp_path, scenario)


def test_a_group_chat_asks_answers_refuses_and_keeps_each_members_buttons_theirs(platform, tmp_path):
    """The whole conversation in a group (Telegram group chat, Discord server) rather than in private."""
    async def scenario(bot: Driver):
        reader, other = bot.reader(READER), bot.reader(OTHER)
        helped = await bot.command(READER, "help", group=True)
        assert "I recommend" in helped.text and "/shelf" in helped.text
        ask = await bot.command(READER, "recommend", "The Road", group=True)  # a question, in the group
        picks = await bot.press(OTHER, ask, "London")  # anyone there may answer it
        assert "Readers who loved The Road" in picks.text
        await bot.press(OTHER, picks, "1.", "Read it")  # a pick's button acts for whoever presses it
        assert (bot.shelves.count(reader), bot.shelves.count(other)) == (0, 1)
        refused = await bot.command(READER, "recommend", "Solaris", count=0, group=True)
        assert "from 1 to" in refused.text and "Readers who loved" not in refused.text
        await bot.command(READER, "shelf add", "Solaris", group=True)
        question = await bot.command(READER, "shelf clear", group=True)
        assert "someone else" in (await bot.press(OTHER, question, "Yes")).text and bot.shelves.count(reader) == 1
        await bot.press(READER, question, "Yes")
        assert bot.shelves.count(reader) == 0 and bot.shelves.count(other) == 1
        assert "admins" in (await bot.command(OTHER, "status", group=True)).text
        assert "Uptime" in (await bot.command(ADMIN, "status", group=True)).text

    run_scenario(platform, tmp_path, scenario)
