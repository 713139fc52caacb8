"""Discord: the real discord.py client, command tree and components, against a local HTTP stand-in.

The client logs in and syncs its slash commands against the stand-in on 127.0.0.1 (via
`discord.http.Route.BASE`); interactions are real INTERACTION_CREATE payloads fed to the
client's own `ConnectionState`, so the real `app_commands.CommandTree` parses options, runs
autocomplete and dispatches button presses. Replies are asserted on as the stand-in got them.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

discord = pytest.importorskip("discord")
pytest.importorskip("bot.service")
sys.path.insert(0, str(Path(__file__).parent / "standins"))

from discord_api import (AUTOCOMPLETE_RESULT, CHANNEL_ID, DEFERRED_CHANNEL_MESSAGE, DM_CHANNEL_BASE, GUILD_ID,  # noqa: E402
                         DiscordStandIn)
from models import BOOKS, ISBNS, NO_ISBN, SILENCES, goodreads_export  # noqa: E402
from drivers import ADMIN, DISCORD_TOKEN as TOKEN, READER, DiscordDriver, run_scenario  # noqa: E402


def run_bot(tmp_path, scenario, **options):
    run_scenario("discord", tmp_path, scenario, **options)


def test_commands_are_synced_to_the_test_guild_with_descriptions(tmp_path):
    async def scenario(bot: DiscordDriver):
        synced = bot.api.commands[str(GUILD_ID)]
        names = {c["name"] for c in synced}
        assert names == {"recommend", "book", "shelf", "forget", "help", "retrain", "status"}
        assert "global" not in bot.api.commands
        for command in synced:
            assert command["description"]
            for option in command.get("options", []):
                assert option["description"], (command["name"], option["name"])
                for sub_option in option.get("options", []):
                    assert sub_option["description"], (command["name"], option["name"], sub_option["name"])
        shelf = next(c for c in synced if c["name"] == "shelf")
        assert {o["name"] for o in shelf["options"]} == {"show", "want", "add", "remove", "clear", "import", "share"}

    run_bot(tmp_path, scenario)


def test_the_synced_commands_are_the_command_table(tmp_path):
    """Names, descriptions, options, ranges, choices and the admin default all come from bot.commands."""
    from bot.commands import COMMANDS, GROUPS
    from bot.discord_bot import LIMITS

    async def scenario(bot: DiscordDriver):
        synced = {c["name"]: c for c in bot.api.commands[str(GUILD_ID)]}
        for command in COMMANDS:
            if command.group:
                assert synced[command.group]["description"] == GROUPS[command.group]
                entry = next(o for o in synced[command.group]["options"] if o["name"] == command.name.split()[1])
            else:
                entry = synced[command.name]
            assert entry["description"] == command.help
            options = {o["name"]: o for o in entry.get("options", [])}
            assert list(options) == [o.name for o in sorted(command.options, key=lambda o: not o.required)]
            for option in command.options:
                given = options[option.name]
                assert (given["description"], given.get("required", False)) == (option.help, option.required)
                if option.type is int:
                    highs = [h for h in (option.high, LIMITS.get(option.name)) if h is not None]
                    assert (given.get("min_value"), given.get("max_value")) == (option.low, min(highs, default=None))
                assert [c["value"] for c in given.get("choices", [])] == list(option.choices)
                assert given.get("autocomplete", False) == option.titles
            if command.group is None:
                admin = str(discord.Permissions(manage_guild=True).value)
                assert (str(entry["default_member_permissions"]) == admin) == command.admin

    run_bot(tmp_path, scenario)



def test_title_autocomplete_is_fast_and_bounded(tmp_path):
    async def scenario(bot: DiscordDriver):
        payload = bot.api.autocomplete(READER, "recommend", "title", "dun")
        bot.client._connection.parse_interaction_create(payload)
        reply = await bot.api.reply_to(payload)
        assert reply.callback_type == AUTOCOMPLETE_RESULT
        choices = reply.json["data"]["choices"]
        assert 1 <= len(choices) <= 25
        assert choices[0]["name"].startswith("Dune")
        assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
        for text in ("", "x" * 10_000, "📚📚"):
            payload = bot.api.autocomplete(READER, "shelf", "title", text, sub="add")
            bot.client._connection.parse_interaction_create(payload)
            reply = await bot.api.reply_to(payload)
            assert len(reply.json["data"]["choices"]) <= 25

    run_bot(tmp_path, scenario)








def test_rejected_discord_token_does_not_stop_telegram(tmp_path, capsys):
    from models import make_model
    from telegram_api import TelegramStandIn

    from bot.serve import serve
    from bot.settings import load_settings

    telegram_token = "555:telegram-token-for-both-platforms"
    make_model(tmp_path / "models", "20250101-000000-a", "a")

    async def main():
        discord_api = await DiscordStandIn(TOKEN).start()
        telegram_api = await TelegramStandIn(telegram_token).start()
        old_base, discord.http.Route.BASE = discord.http.Route.BASE, discord_api.base
        settings = load_settings({
            "RAREREADS_DISCORD_TOKEN": "MTIz.a-token-discord-rejects.zzzzzzzz", "RAREREADS_TELEGRAM_TOKEN": telegram_token,
            "RAREREADS_TELEGRAM_BASE_URL": telegram_api.root, "RAREREADS_MODELS_DIR": str(tmp_path / "models"),
            "RAREREADS_DB": str(tmp_path / "s.sqlite")})
        stop = asyncio.Event()
        try:
            task = asyncio.create_task(serve(settings, stop=stop))
            await telegram_api.wait_for("setMyCommands")
            telegram_api.send_text(READER, "/help")
            await telegram_api.wait_for("sendMessage")
            stop.set()
            return await asyncio.wait_for(task, 10)
        finally:
            discord.http.Route.BASE = old_base
            await discord_api.stop()
            await telegram_api.stop()

    assert asyncio.run(main()) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Discord rejected RAREREADS_DISCORD_TOKEN" in err[0]


def _slow(method, seconds: float):
    def slow(*args, **kwargs):
        import time

        time.sleep(seconds)
        return method(*args, **kwargs)
    return slow


def test_a_slow_import_is_deferred_once_and_answered(tmp_path, monkeypatch):
    """An import past the quick-answer time used to be deferred twice and answer "something went wrong"."""
    monkeypatch.setattr("bot.runtime.SLOW_SECONDS", 0.05)
    export = goodreads_export([("Solaris", "Stanislaw Lem", "", 4), ("Pavane", "Keith Roberts", "", 5)])

    async def scenario(bot: DiscordDriver):
        monkeypatch.setattr(bot.runtime.service, "shelf_import", _slow(bot.runtime.service.shelf_import, 0.3))
        said = await bot.upload(READER, "goodreads_library_export.csv", export)
        assert "Imported 2 books" in said.text and "went wrong" not in said.text
        defers = [c for c in bot.api.calls if c.path.endswith("/callback") and c.callback_type == DEFERRED_CHANNEL_MESSAGE]
        assert len(defers) == 1
        assert bot.shelves.count(bot.reader(READER)) == 2

    run_bot(tmp_path, scenario)


def test_a_rate_limited_import_says_slow_down(tmp_path):
    export = goodreads_export([("Solaris", "Stanislaw Lem", "", 4)])

    async def scenario(bot: DiscordDriver):
        await bot.command(READER, "help")
        said = await bot.upload(READER, "goodreads_library_export.csv", export)
        assert "slow down" in said.text.lower() and "went wrong" not in said.text
        assert bot.shelves.count(bot.reader(READER)) == 0

    run_bot(tmp_path, scenario, rate=(1, 60.0))


def test_every_one_of_ten_picks_has_its_actions(tmp_path):
    """Rows were set after add_item: ten picks rendered five rows of mixed buttons, picks 6-10 none."""
    async def scenario(bot: DiscordDriver):
        picks = await bot.command(READER, "recommend", "Solaris", count=10, rarity="any")
        assert not bot.api.refused, bot.api.refused
        titles = [e["title"].split(". ", 1)[1] for e in picks.calls[-1].data["embeds"]]
        assert len(titles) == 10
        for n in range(1, 11):
            for action in ("Read it", "Not interested", "More like this"):
                picks.control(f"{n}.", action)
        await bot.press(READER, picks, "7.", "Read it")
        assert [e.title for e in bot.shelves.entries(bot.reader(READER))] == [titles[6]]

    run_bot(tmp_path, scenario)


def test_a_title_with_seven_candidates_can_be_chosen(tmp_path):
    """Discord has no "type a number": every candidate must be choosable from the message."""
    async def scenario(bot: DiscordDriver):
        ask = await bot.command(READER, "shelf add", "Silence")
        assert not bot.api.refused, bot.api.refused
        for book in SILENCES:
            ask.control(book[1])
        await bot.press(READER, ask, "John Cage")
        assert [(e.title, e.author) for e in bot.shelves.entries(bot.reader(READER))] == [("Silence", "John Cage")]

    run_bot(tmp_path, scenario, books=BOOKS + SILENCES)


TELEGRAM_ONLY = ("just type a title", "rating=", "k=", "Answer with a number", "Send /shelf clear yes",
                 "Send /forget yes", "/shelf 2", "(or just type")


def test_help_and_prompts_say_what_works_on_discord(tmp_path):
    async def scenario(bot: DiscordDriver):
        said = [await bot.command(READER, "help")]
        assert "/shelf show" in said[0].text and "title:" in said[0].text
        said.append(await bot.command(READER, "shelf add", "The Road"))  # a choice
        for title in ("Solaris", "Pavane"):
            await bot.command(READER, "shelf add", title)
        said.append(await bot.command(READER, "shelf clear"))  # a question
        said.append(await bot.command(READER, "forget"))
        said.append(await bot.command(READER, "recommend", "Dune", rarity="deep"))  # nothing deep enough
        for reply in said:
            for phrase in TELEGRAM_ONLY:
                assert phrase not in reply.text, (phrase, reply.text)

    run_bot(tmp_path, scenario)


def test_a_retrain_outlasting_the_interaction_token_still_reports_its_outcome(tmp_path):
    """Interaction tokens expire after 15 minutes; the outcome of a longer retrain was lost."""
    async def scenario(bot: DiscordDriver):
        started = await bot.command(ADMIN, "retrain")
        assert "Retraining" in started.text
        outcome = await bot.api.wait_for(lambda c: c.method in ("POST", "PATCH") and "Now serving" in c.text
                                         and c.path.startswith("/channels/"), timeout=20)
        assert bot.runtime.holder.current.version.endswith("-b"), outcome.text

    run_bot(tmp_path, scenario, trainer_sleep=1.0, stand_in={"token_lifetime": 0.3})


def test_a_retrain_outcome_goes_by_dm_where_the_bot_may_not_post(tmp_path):
    async def scenario(bot: DiscordDriver):
        await bot.command(ADMIN, "retrain")
        outcome = await bot.api.wait_for(lambda c: "Now serving" in c.text and c.path.startswith("/channels/")
                                         and not c.path.startswith(f"/channels/{CHANNEL_ID}/"), timeout=20)
        assert outcome.path == f"/channels/{DM_CHANNEL_BASE + ADMIN}/messages"  # the admin's DM channel
        assert any(c.path == "/users/@me/channels" for c in bot.api.calls)

    run_bot(tmp_path, scenario, stand_in={"forbidden_channels": (CHANNEL_ID,)})


def test_shelf_forget_and_import_replies_are_private_in_servers(tmp_path):
    export = goodreads_export([("Solaris", "Stanislaw Lem", "", 4)])

    async def scenario(bot: DiscordDriver):
        private = [await bot.command(READER, "shelf add", "Pavane"), await bot.command(READER, "shelf show"),
                   await bot.command(READER, "shelf remove", "Pavane"),
                   await bot.upload(READER, "goodreads_library_export.csv", export),
                   await bot.command(READER, "shelf clear"), await bot.command(READER, "forget")]
        assert all(said.private for said in private), [s.text[:40] for s in private if not s.private]
        cleared = await bot.press(READER, private[-2], "Yes")  # the answer to a private question stays private
        assert cleared.private and bot.shelves.count(bot.reader(READER)) == 0
        public = await bot.command(READER, "recommend", "Solaris")
        assert not public.private
        in_dm = await bot._send(bot.api.command(READER, "shelf", sub="show", guild=False))
        assert not in_dm.private  # nobody else is in a DM

    run_bot(tmp_path, scenario)


def test_admin_commands_are_hidden_from_members_by_default(tmp_path):
    async def scenario(bot: DiscordDriver):
        synced = {c["name"]: c for c in bot.api.commands[str(GUILD_ID)]}
        manage_guild = str(discord.Permissions(manage_guild=True).value)
        assert str(synced["retrain"]["default_member_permissions"]) == manage_guild
        assert str(synced["status"]["default_member_permissions"]) == manage_guild
        assert all(synced[name]["default_member_permissions"] is None for name in ("recommend", "book", "shelf", "help"))

    run_bot(tmp_path, scenario)


def test_commands_are_synced_when_they_change_not_at_every_start(tmp_path):
    async def start_twice():
        from bot.discord_bot import RarereadsDiscord
        from botkit import make_runtime

        runtime, shelves = make_runtime(tmp_path, {"RAREREADS_DISCORD_TOKEN": TOKEN})
        api = await DiscordStandIn(TOKEN).start()
        old_base, discord.http.Route.BASE = discord.http.Route.BASE, api.base
        puts = []
        try:
            for sync in ("auto", "auto", "always"):
                client = RarereadsDiscord(runtime, test_guild_id=GUILD_ID, sync=sync)
                await client.login(TOKEN)
                await client.close()
                puts.append(sum(c.method == "PUT" for c in api.calls))
        finally:
            discord.http.Route.BASE = old_base
            await runtime.close()
            await api.stop()
            shelves.close()
        return puts

    assert asyncio.run(start_twice()) == [1, 1, 2]  # first start, restart (nothing changed), asked for


def test_one_process_can_serve_past_2500_servers():
    from bot.discord_bot import RarereadsDiscord

    assert issubclass(RarereadsDiscord, discord.AutoShardedClient)


def test_serve_connects_to_the_gateway_and_answers_what_it_delivers(tmp_path):
    """The whole Discord path of `rarereads serve`: login, the gateway (HELLO, IDENTIFY, READY), a dispatch."""
    from models import make_model

    from bot.serve import serve
    from bot.settings import load_settings

    make_model(tmp_path / "models", "20250101-000000-a", "a")

    async def main():
        api = await DiscordStandIn(TOKEN).start()
        old_base, discord.http.Route.BASE = discord.http.Route.BASE, api.base
        stop = asyncio.Event()
        try:
            task = asyncio.create_task(serve(load_settings({
                "RAREREADS_DISCORD_TOKEN": TOKEN, "RAREREADS_DISCORD_TEST_GUILD_ID": str(GUILD_ID),
                "RAREREADS_MODELS_DIR": str(tmp_path / "models"), "RAREREADS_DB": str(tmp_path / "s.sqlite")}),
                stop=stop))
            await asyncio.wait_for(api.identified.wait(), 10)
            payload = api.command(READER, "recommend", {"title": "Solaris"})
            await api.dispatch(payload)
            reply = await api.reply_to(payload)
            stop.set()
            assert await asyncio.wait_for(task, 10) == 0
            return reply
        finally:
            discord.http.Route.BASE = old_base
            await api.stop()

    assert "Readers who loved Solaris" in asyncio.run(main()).text


def test_each_pick_and_a_book_answer_link_their_title_to_the_book_page(tmp_path):
    async def scenario(bot: DiscordDriver):
        engine = bot.runtime.holder.current
        picks = await bot.command(READER, "recommend", "Solaris", count=3, rarity="any")
        expected = [p.work.title for p in engine.recommend([engine.resolve("Solaris")], k=3, rarity="any").picks]
        embeds = picks.calls[-1].data["embeds"]
        assert [e["title"] for e in embeds] == [f"{n}. {title}" for n, title in enumerate(expected, 1)]
        assert [e["url"] for e in embeds] == [f"https://openlibrary.org/isbn/{ISBNS[t]}" for t in expected]
        book = await bot.command(READER, "book", "Solaris")
        [embed] = book.calls[-1].data["embeds"]
        assert (embed["title"], embed["url"]) == ("Solaris", "https://openlibrary.org/isbn/0156027607")
        assert "Stanislaw Lem" in embed["description"] and "Liked by" in embed["description"]
        neighbours = [p.work.title for p in bot.runtime.service.book(bot.reader(READER), "Solaris").neighbours]
        assert neighbours
        for title in neighbours:  # its neighbours are links too
            assert f"[{title}](https://openlibrary.org/isbn/{ISBNS[title]})" in embed["description"]
        no_isbn = await bot.command(READER, "book", "Lud-in-the-Mist")
        [embed] = no_isbn.calls[-1].data["embeds"]
        assert embed["url"] == "https://openlibrary.org/search?title=Lud-in-the-Mist&author=Hope+Mirrlees"
        assert not bot.api.refused, bot.api.refused

    run_bot(tmp_path, scenario, books=BOOKS + [NO_ISBN])


def test_a_linked_title_escapes_brackets_and_markdown_in_its_text():
    from bot.discord_bot import _link
    from engine.results import Work

    work = Work(1, "The [Annotated] *Alice*", "Lewis Carroll", 1960, 3, isbns=("0393048470",))
    assert _link(work) == r"[The \[Annotated\] \*Alice\*](https://openlibrary.org/isbn/0393048470) — Lewis Carroll (1960)"
