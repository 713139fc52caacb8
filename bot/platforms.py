"""The chat platforms rarereads runs on: one entry each, the one list settings and `serve` read.

An entry names the `Runner` class (see `bot.runtime.Runner`) by string, so that naming a
platform never imports its library; `serve` imports a runner only when its token is set.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    """One chat platform.

    Attributes:
        key: Its name in settings (`RAREREADS_<KEY>_TOKEN`) and in reader ids ("discord:42").
        name: Its name for people.
        runner: "module:Class" of its `Runner`.
        extra: The pip extra that installs its library.
        single_process: Only one process may run it per bot token (Telegram: two would fight
            over getUpdates); `serve` holds a lease in the shelf store for it.
    """

    key: str
    name: str
    runner: str
    extra: str
    single_process: bool = False

    def runner_class(self):
        """The `Runner` class (imports the platform's library; raises ImportError without it)."""
        module, _, attribute = self.runner.partition(":")
        return getattr(importlib.import_module(module), attribute)


PLATFORMS: dict[str, Platform] = {p.key: p for p in (
    Platform("discord", "Discord", "bot.discord_bot:DiscordRunner", "discord"),
    Platform("telegram", "Telegram", "bot.telegram_bot:TelegramRunner", "telegram", single_process=True),
)}
