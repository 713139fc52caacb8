"""One way to talk to the bot on either platform, so that one scenario suite runs on both.

A driver runs the real bot (python-telegram-bot's Application or discord.py's client, the
real runtime, service, engine and SQLite shelves) against its platform's stand-in on
127.0.0.1, and turns what a scenario does (a command with options, a button press, an
uploaded file) into that platform's updates. What the bot said comes back as a `Said`:
the text of every message that answered, and the buttons under them.
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord

from botkit import make_runtime
from discord_api import GUILD_ID, DiscordStandIn
from telegram_api import GROUP_ID, TelegramStandIn

TELEGRAM_TOKEN = "424242:telegram-test-token-ZYXWVUTSRQPONMLK"
DISCORD_TOKEN = "MTIz.discord-test-token.abcdefghijklmnopqrstuvwxyz"
ADMIN, READER, OTHER = 1001, 2002, 3003
PLATFORMS = ("telegram", "discord")


@dataclass
class Control:
    """One button (or one option of a menu) under a message."""

    label: str
    handle: Any  # what pressing sends: Telegram callback data, Discord (custom id, value or None)


@dataclass
class Said:
    """What the bot answered: every message's text (markup removed) and the controls under them."""

    text: str
    controls: list[Control] = field(default_factory=list)
    private: bool = False
    calls: list = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.controls]

    def control(self, *label_parts: str) -> Control:
        """The first control whose label holds every one of `label_parts`."""
        found = [c for c in self.controls if all(part in c.label for part in label_parts)]
        assert found, f"no control with {label_parts!r} among {self.labels}"
        return found[0]


class Driver:
    """Shared part: the runtime and the reader ids of the scenario's users."""

    platform = ""

    def __init__(self, runtime, shelves):
        self.runtime, self.shelves = runtime, shelves

    def reader(self, user: int) -> str:
        return f"{self.platform}:{user}"


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class TelegramDriver(Driver):
    platform = "telegram"
    # neutral option names -> what a Telegram user types
    OPTIONS = {"count": "k", "rarity": "rarity", "page": "page", "lang": "lang", "rating": "rating"}

    def __init__(self, runtime, shelves, api: TelegramStandIn, app):
        super().__init__(runtime, shelves)
        self.api, self.app = api, app

    def line(self, name: str, title: str | None = None, **options) -> str:
        """The chat line for a command: /recommend Dune k=3; /shelf for `shelf show`."""
        words = ["/shelf" if name == "shelf show" else f"/{name}"]
        if title:
            words.append(title)
        for key, value in options.items():
            if key == "yes":
                words.append("yes" if value else "")
            elif key == "stop":
                words.append("off" if value else "")
            elif key == "page" and name == "shelf show":
                words.append(str(value))
            else:
                words.append(f"{self.OPTIONS[key]}={value}")
        return " ".join(w for w in words if w)

    async def _collect(self, chat: int, mark: int, first: str = "sendMessage") -> Said:
        await self.api.wait_for(first, lambda c: first == "answerCallbackQuery" or c.params.get("chat_id") == chat,
                                after=mark)
        await self.runtime.inflight.wait_idle(10)
        refused = {id(call) for call, _ in self.api.refused}
        calls = self.api.calls[mark:]
        messages = [c for c in calls if c.method == "sendMessage" and c.params.get("chat_id") == chat
                    and id(c) not in refused]
        controls = [Control(b["text"], b["callback_data"]) for c in messages
                    for row in (c.params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        if messages:
            return Said("\n".join(_plain(c.params["text"]) for c in messages), controls, calls=messages)
        toast = next((c for c in calls if c.method == "answerCallbackQuery" and c.params.get("text")), None)
        return Said(toast.params["text"] if toast else "", private=True, calls=calls)

    async def command(self, user: int, name: str, title: str | None = None, group: bool | None = None,
                      **options) -> Said:
        """`name` with options as a chat line; `group=True` sends it in the group (default: private)."""
        return await self.say(user, self.line(name, title, **options), group=bool(group))

    async def say(self, user: int, text: str, **where) -> Said:
        """`text` from `user` (`where`: group=True, topic=, reply_to= as `TelegramStandIn.send_text` takes)."""
        mark = len(self.api.calls)
        self.api.send_text(user, text, **where)
        return await self._collect(GROUP_ID if where.get("group") else user, mark)

    async def press(self, user: int, said: Said, *label_parts: str) -> Said:
        """Press a control under the last message of `said` (in the chat and topic it went to)."""
        mark = len(self.api.calls)
        sent = said.calls[-1].params if said.calls else {}
        chat = int(sent.get("chat_id", user))
        message = {"message_id": 1, "date": 0, "text": "picks",
                   "chat": {"id": chat, "type": "supergroup" if chat < 0 else "private"}}
        if sent.get("message_thread_id"):
            message.update(message_thread_id=sent["message_thread_id"], is_topic_message=True)
        self.api.press(user, said.control(*label_parts).handle, message)
        return await self._collect(chat, mark, first="answerCallbackQuery")

    async def upload(self, user: int, filename: str, content: bytes) -> Said:
        mark = len(self.api.calls)
        self.api.send_document(user, filename, content)
        return await self._collect(user, mark)


    def post(self, user: int, name: str, title: str | None = None, **options) -> None:
        """Send a command without waiting for its answer (see `answered`)."""
        self.api.send_text(user, self.line(name, title, **options))

    def post_upload(self, user: int, filename: str, content: bytes) -> None:
        self.api.send_document(user, filename, content)

    async def answered(self, user: int, text: str, timeout: float = 10.0) -> str:
        """The first message to `user` holding `text` (waiting up to `timeout`)."""
        call = await self.api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user
                                       and text in _plain(c.params.get("text", "")), timeout=timeout)
        return _plain(call.params["text"])


class DiscordDriver(Driver):
    platform = "discord"

    def __init__(self, runtime, shelves, api: DiscordStandIn, client):
        super().__init__(runtime, shelves)
        self.api, self.client = api, client
        self._posted: list[dict] = []

    async def _send(self, payload: dict) -> Said:
        self.client._connection.parse_interaction_create(payload)
        call = await self.api.reply_to(payload)
        controls = []
        for row in call.data.get("components") or []:
            for item in row.get("components", []):
                if item.get("type") == 2:
                    controls.append(Control(item["label"], (item["custom_id"], None)))
                elif item.get("type") == 3:
                    controls += [Control(f"{item.get('placeholder', '')} {o['label']}", (item["custom_id"], o["value"]))
                                 for o in item.get("options", [])]
        return Said(call.text, controls, private=bool((call.data.get("flags") or 0) & 64), calls=[call])

    async def command(self, user: int, name: str, title: str | None = None, group: bool | None = None,
                      **options) -> Said:
        """The slash command `name` ("shelf add"); in the server unless `group=False` (a DM)."""
        command, _, sub = name.partition(" ")
        values = {"title": title} if title else {}
        values.update(options)
        return await self._send(self.api.command(user, command, values, sub=sub or None, guild=group is not False))

    async def say(self, user: int, text: str) -> Said:
        raise NotImplementedError("Discord has no free text: slash commands only")

    async def press(self, user: int, said: Said, *label_parts: str) -> Said:
        custom_id, value = said.control(*label_parts).handle
        payload = self.api.press(user, custom_id, said.calls[-1])
        if value is not None:
            payload["data"].update({"component_type": 3, "values": [value]})
        return await self._send(payload)

    async def upload(self, user: int, filename: str, content: bytes) -> Said:
        return await self._send(self.api.command(user, "shelf", sub="import", attachment=(filename, content)))

    def _post(self, payload: dict) -> None:
        self._posted.append(payload)
        self.client._connection.parse_interaction_create(payload)

    def post(self, user: int, name: str, title: str | None = None, **options) -> None:
        """Send a command without waiting for its answer (see `answered`)."""
        command, _, sub = name.partition(" ")
        self._post(self.api.command(user, command, {"title": title, **options} if title else options, sub=sub or None))

    def post_upload(self, user: int, filename: str, content: bytes) -> None:
        self._post(self.api.command(user, "shelf", sub="import", attachment=(filename, content)))

    async def answered(self, user: int, text: str, timeout: float = 10.0) -> str:
        """The first answer to one of `user`'s posted commands holding `text` (waiting up to `timeout`)."""
        tokens = {p["token"] for p in self._posted if (p.get("member") or p)["user"]["id"] == str(user)}
        call = await self.api.wait_for(lambda c: any(tok in c.path for tok in tokens) and text in c.text,
                                       timeout=timeout)
        return call.text


@contextlib.asynccontextmanager
async def open_driver(platform: str, tmp_path: Path, *, rate=(1000, 1.0), env: dict | None = None,
                      stand_in: dict | None = None, **runtime_options):
    """A running bot on `platform` against its stand-in (made with `stand_in` options); ADMIN is its admin."""
    if platform == "telegram":
        from bot.telegram_bot import build_application

        settings_env = {"RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "RAREREADS_TELEGRAM_ADMINS": str(ADMIN), **(env or {})}
        runtime, shelves = make_runtime(tmp_path, settings_env, rate=rate, **runtime_options)
        api = await TelegramStandIn(TELEGRAM_TOKEN, **(stand_in or {})).start()
        app = build_application(runtime, TELEGRAM_TOKEN, base_url=api.base_url, base_file_url=api.base_file_url)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield TelegramDriver(runtime, shelves, api, app)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await runtime.close()
            await api.stop()
            shelves.close()
        return
    from bot.discord_bot import RarereadsDiscord

    settings_env = {"RAREREADS_DISCORD_TOKEN": DISCORD_TOKEN, "RAREREADS_DISCORD_ADMINS": str(ADMIN),
                    "RAREREADS_DISCORD_TEST_GUILD_ID": str(GUILD_ID), **(env or {})}
    runtime, shelves = make_runtime(tmp_path, settings_env, rate=rate, **runtime_options)
    api = await DiscordStandIn(DISCORD_TOKEN, **(stand_in or {})).start()
    old_base = discord.http.Route.BASE
    discord.http.Route.BASE = api.base
    client = RarereadsDiscord(runtime, test_guild_id=GUILD_ID)
    try:
        await client.login(DISCORD_TOKEN)
        yield DiscordDriver(runtime, shelves, api, client)
    finally:
        await runtime.close()
        await client.close()
        discord.http.Route.BASE = old_base
        await api.stop()
        shelves.close()


def run_scenario(platform: str, tmp_path: Path, scenario, timeout: float = 30, **options) -> None:
    """Run `scenario(driver)` on a fresh bot for `platform`."""
    async def main():
        async with open_driver(platform, tmp_path, **options) as driver:
            await asyncio.wait_for(scenario(driver), timeout)

    asyncio.run(main())
