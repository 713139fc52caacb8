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

from botkit import NASTY_INPUTS, make_runtime  # noqa: E402
from discord_api import AUTOCOMPLETE_RESULT, GUILD_ID, DiscordStandIn  # noqa: E402
from models import goodreads_export  # noqa: E402

from bot.discord_bot import RarereadsDiscord  # noqa: E402

TOKEN = "MTIz.discord-test-token.abcdefghijklmnopqrstuvwxyz"
ADMIN, READER = 111111111111111111, 222222222222222222


class Bot:
    def __init__(self, api: DiscordStandIn, client: RarereadsDiscord, runtime, shelves):
        self.api, self.client, self.runtime, self.shelves = api, client, runtime, shelves

    async def send(self, payload: dict):
        """Deliver an interaction and return the message that answers it."""
        self.client._connection.parse_interaction_create(payload)
        return await self.api.reply_to(payload)

    async def command(self, user: int, name: str, options: dict | None = None, **kwargs):
        return await self.send(self.api.command(user, name, options, **kwargs))

    async def press(self, user: int, reply, label_part: str):
        button = next(b for b in reply.buttons if label_part in b["label"])
        return await self.send(self.api.press(user, button["custom_id"], reply))


def run_bot(tmp_path, scenario, rate=(1000, 1.0), monkeypatch=None):
    async def main():
        env = {"RAREREADS_DISCORD_TOKEN": TOKEN, "RAREREADS_DISCORD_ADMINS": str(ADMIN),
               "RAREREADS_DISCORD_TEST_GUILD_ID": str(GUILD_ID)}
        runtime, shelves = make_runtime(tmp_path, env, rate=rate)
        api = await DiscordStandIn(TOKEN).start()
        old_base = discord.http.Route.BASE
        discord.http.Route.BASE = api.base
        client = RarereadsDiscord(runtime, test_guild_id=GUILD_ID)
        try:
            await client.login(TOKEN)  # GET /users/@me, application info, then setup_hook syncs commands
            await asyncio.wait_for(scenario(Bot(api, client, runtime, shelves)), 30)
        finally:
            await runtime.cancel_background()
            await client.close()
            discord.http.Route.BASE = old_base
            await api.stop()
            shelves.close()

    asyncio.run(main())


def test_commands_are_synced_to_the_test_guild_with_descriptions(tmp_path):
    async def scenario(bot: Bot):
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
        assert {o["name"] for o in shelf["options"]} == {"show", "add", "remove", "clear", "import"}

    run_bot(tmp_path, scenario)


def test_recommend_sends_embeds_with_covers_and_buttons(tmp_path):
    async def scenario(bot: Bot):
        reply = await bot.command(READER, "recommend", {"title": "Solaris", "count": 3, "rarity": "any"})
        embeds = reply.data["embeds"]
        assert len(embeds) == 3
        assert all(e["thumbnail"]["url"].startswith("https://covers.example.org/") for e in embeds)
        assert "Dune" in reply.text
        assert len(reply.buttons) == 6
        added = await bot.press(READER, reply, "1. Add")
        assert bot.shelves.count(f"discord:{READER}") == 1, added.text
        more = await bot.press(READER, reply, "2. More")
        assert more.data["embeds"], more.text
        shelf_picks = await bot.command(READER, "recommend")  # no title: the whole shelf
        assert shelf_picks.data["embeds"], shelf_picks.text

    run_bot(tmp_path, scenario)


def test_title_autocomplete_is_fast_and_bounded(tmp_path):
    async def scenario(bot: Bot):
        payload = bot.api.autocomplete(READER, "recommend", "title", "dun")
        reply = await bot.send(payload)
        assert reply.callback_type == AUTOCOMPLETE_RESULT
        choices = reply.json["data"]["choices"]
        assert 1 <= len(choices) <= 25
        assert choices[0]["name"].startswith("Dune")
        assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
        for text in ("", "x" * 10_000, "📚📚"):
            reply = await bot.send(bot.api.autocomplete(READER, "shelf", "title", text, sub="add"))
            assert len(reply.json["data"]["choices"]) <= 25

    run_bot(tmp_path, scenario)


def test_ambiguous_title_gives_buttons_that_work(tmp_path):
    async def scenario(bot: Bot):
        reply = await bot.command(READER, "shelf", {"title": "The Road"}, sub="add")
        assert any("London" in b["label"] for b in reply.buttons) and len(reply.buttons) >= 2
        await bot.press(READER, reply, "London")
        assert [e.work_key for e in bot.shelves.entries(f"discord:{READER}")] == ["the road|jack london"]

    run_bot(tmp_path, scenario)


def test_shelf_show_remove_clear_and_forget(tmp_path):
    async def scenario(bot: Bot):
        reader = f"discord:{READER}"
        for title in ("Solaris", "Roadside Picnic", "Pavane"):
            await bot.command(READER, "shelf", {"title": title}, sub="add")
        shelf = await bot.command(READER, "shelf", sub="show")
        assert "Solaris" in shelf.text and "Pavane" in shelf.text
        await bot.command(READER, "shelf", {"title": "Pavane"}, sub="remove")
        assert bot.shelves.count(reader) == 2
        ask = await bot.command(READER, "shelf", sub="clear")
        assert bot.shelves.count(reader) == 2 and ask.buttons
        refused = await bot.press(ADMIN, ask, "Yes")  # not the asker's button
        assert "someone else" in refused.text and bot.shelves.count(reader) == 2
        await bot.press(READER, ask, "Yes")
        assert bot.shelves.count(reader) == 0
        await bot.command(READER, "shelf", {"title": "Solaris"}, sub="add")
        ask = await bot.command(READER, "forget")
        await bot.press(READER, ask, "Cancel")
        assert bot.shelves.count(reader) == 1
        await bot.command(READER, "forget", {"yes": True})
        assert bot.shelves.count(reader) == 0

    run_bot(tmp_path, scenario)


def test_goodreads_import_from_an_attachment(tmp_path):
    export = goodreads_export([("Dune (Dune Chronicles, #1)", "Frank Herbert", "0441172660", 5),
                               ("Solaris", "Stanislaw Lem", "", 4),
                               ("A Book Nobody Has Heard Of", "Nobody", "", 3)])

    async def scenario(bot: Bot):
        reply = await bot.command(READER, "shelf", sub="import",
                                  attachment=("goodreads_library_export.csv", export))
        assert bot.shelves.count(f"discord:{READER}") == 2, reply.text
        assert "Nobody" in reply.text

    run_bot(tmp_path, scenario)


def test_admin_only_commands_and_retrain_with_hot_swap(tmp_path):
    async def scenario(bot: Bot):
        refused = await bot.command(READER, "retrain")
        assert "admins" in refused.text
        refused = await bot.command(READER, "status")
        assert "admins" in refused.text
        status = await bot.command(ADMIN, "status")
        assert "20250101-000000-a" in status.text and "Uptime" in status.text
        payload = bot.api.command(ADMIN, "retrain")
        started = await bot.send(payload)
        assert "Retraining" in started.text
        again = await bot.command(ADMIN, "retrain")
        assert "already running" in again.text
        done = await bot.api.wait_for(lambda c: payload["token"] in c.path and c.method == "PATCH"
                                      and "Now serving" in c.text, timeout=20)
        assert bot.runtime.holder.current.version.endswith("-b"), done.text
        picks = await bot.command(READER, "recommend", {"title": "Solaris"})
        assert picks.data["embeds"][-1]["footer"]["text"].endswith("-b")

    run_bot(tmp_path, scenario)


def test_rate_limit_says_slow_down(tmp_path):
    async def scenario(bot: Bot):
        await bot.command(READER, "help")
        await bot.command(READER, "help")
        reply = await bot.command(READER, "help")
        assert "slow down" in reply.text.lower()
        assert reply.data.get("flags") == 64  # ephemeral: only the fast reader sees it

    run_bot(tmp_path, scenario, rate=(2, 60.0))


def test_nasty_input_is_escaped_and_answered(tmp_path):
    async def scenario(bot: Bot):
        for text in NASTY_INPUTS:
            if not text.strip():
                continue
            for name, sub in (("recommend", None), ("book", None), ("shelf", "add"), ("shelf", "remove")):
                reply = await bot.command(READER, name, {"title": text}, sub=sub)
                content = reply.data.get("content") or ""
                assert reply.text.strip() and "went wrong" not in reply.text
                assert len(content) <= 2000
                assert "**bold**" not in content and "`code`" not in content  # markdown is escaped

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
