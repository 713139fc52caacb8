"""What every platform shares in one `serve` process: the contract, the state, the async flows.

A platform adapter (`bot/discord_bot.py`, `bot/telegram_bot.py`) provides two small things:

- a `Runner` (start, pause, stop, notify admins) that `bot/serve.py` drives;
- a `Channel` per command: where that command came from and how to answer it there.

The flows every command goes through (in flight tracking, the per-reader rate limit, work
off the event loop, admin refusal, retrain progress, the import limits) live once here in
`BotRuntime`, written against `Channel`; nothing here knows Discord or Telegram.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from .commands import command as table_command
from .conversation import Answer, Conversation
from .grammar import Call, parse
from .ratelimit import NoLimit, RateLimiter, slow_down_text
from .replies import Info
from .retrain import RetrainBusy, RetrainManager
from .wording import Dialect

log = logging.getLogger(__name__)

SLOW_SECONDS = 2.0  # work still running after this long gets a "working on it" sign (Discord allows 3 s)
MAX_IMPORT_BYTES = 20 * 1024 * 1024  # the Telegram Bot API's download limit; Discord's attachments are smaller


class Runner(Protocol):
    """One platform in `rarereads serve`.

    Attributes:
        name: The platform's name for people ("Discord").
        platform: Its key in settings and reader ids ("discord").
    """

    name: str
    platform: str

    async def start(self) -> None:
        """Log in and begin taking updates; raise with a one-line message if that is impossible."""

    async def pause(self) -> None:
        """Take no new updates; replies under way go on."""

    async def stop(self) -> None:
        """Close every connection (after `pause` and once replies under way have finished)."""

    async def notify_admins(self, text: str) -> None:
        """Tell this platform's admins `text` by direct message."""


class Status(Protocol):
    """A message that can be edited later (retrain progress), and the outcome at the end."""

    async def edit(self, text: str) -> None:
        """Replace the message's text."""

    async def finish(self, text: str) -> None:
        """Report the outcome where the asker sees it, however long it took."""


class Channel(Protocol):
    """Where one command came from, and how to answer it there.

    Attributes:
        platform: "discord" or "telegram".
        user_id: The platform's id of the person who sent the command.
        scope: The group (server, group chat) the command came from, as "<platform>:<id>",
            or None in a private chat: shelves shared with `/shelf share` are per scope.
        say: How this platform writes commands (`bot.wording.Dialect`), for the answers.
    """

    platform: str
    user_id: int
    scope: str | None
    say: Dialect

    async def answer(self, answer: Answer) -> None:
        """Send the command's answer."""

    async def notice(self, text: str) -> None:
        """A short note only the sender sees where the platform allows it (rate limit, refusal)."""

    async def busy(self) -> None:
        """The answer takes a while: show that (Discord must hear within 3 s)."""

    async def status(self, text: str) -> Status:
        """Post a message to edit later; it outlives the command (a retrain runs for minutes)."""


class InFlight:
    """Counts handlers under way so shutdown can let them finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def track(self):
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no handler runs (at most `timeout` s); returns whether they all finished."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


def reader_of(channel: Channel) -> str:
    """The shelf store's reader id for the person behind `channel`."""
    return f"{channel.platform}:{channel.user_id}"


@dataclass
class BotRuntime:
    """Shared state of one `rarereads serve` process, and the flows every command takes.

    Attributes:
        service: The platform-neutral `bot.service.Service`.
        retrain: The `RetrainManager` admins drive.
        settings: The `bot.settings.Settings` in force.
        limiter: Per-reader rate limiter.
        watch: The `bot.modelwatch.ModelWatch` following the gate's record (None when a folder is pinned).
        notes: Lines /status adds about this process (its Discord shards, where Telegram runs).
    """

    service: Any
    retrain: RetrainManager
    settings: Any
    limiter: RateLimiter | NoLimit = field(default_factory=NoLimit)
    watch: Any = None
    notes: list[str] = field(default_factory=list)
    inflight: InFlight = field(default_factory=InFlight)
    started_at: float = field(default_factory=time.monotonic)
    background: set = field(default_factory=set)
    conversation: Conversation = field(init=False)
    # Imports parse and match thousands of rows: they queue on their own thread, so that the
    # shared pool stays free for everyone else's commands.
    import_pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.conversation = Conversation(self.service)
        self.import_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rarereads-import")

    @property
    def holder(self):
        return self.service.holder

    @property
    def shelves(self):
        return self.service.shelves

    def is_admin(self, platform: str, user_id: int | str) -> bool:
        return self.settings.is_admin(platform, user_id)

    # --- background work ---------------------------------------------------------------

    def spawn(self, coro) -> asyncio.Task:
        """Run `coro` in the background (a retrain); shutdown cancels what is still running."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def cancel_background(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)

    async def close(self) -> None:
        """Cancel background work and let the import thread finish what it holds."""
        await self.cancel_background()
        await asyncio.to_thread(self.import_pool.shutdown, wait=True)

    # --- the flows every command takes ---------------------------------------------------

    @property
    def admin_flows(self) -> dict[str, Callable[[Channel], Awaitable[None]]]:
        """The flow of each admin command of `bot.commands`, by name."""
        return {"retrain": self.retrain_command, "status": self.status_command}

    async def run(self, channel: Channel, call: Call) -> None:
        """A command of the table from `channel`: an admin's flow, or its use case."""
        if call.command.admin:
            await self.admin_flows[call.command.name](channel)
            return
        await self.command(channel, lambda reader: self.conversation.run(reader, call, channel.scope, channel.say))

    async def text(self, channel: Channel, line: str) -> None:
        """A typed chat line from `channel` (a command, a number answering a question, a title)."""
        parsed = parse(line)
        if isinstance(parsed, Call):
            await self.run(channel, parsed)
            return
        await self.command(channel, lambda reader: self.conversation.handle(reader, parsed, channel.scope, channel.say))

    async def press(self, channel: Channel, token: str) -> None:
        """A button pressed (or a menu option chosen) in `channel`."""
        await self.command(channel, lambda reader: self.conversation.press(reader, token, channel.say))

    async def command(self, channel: Channel, work: Callable[[str], Answer], *, limited: bool = True,
                      pool: ThreadPoolExecutor | None = None) -> None:
        """Rate-limit, run `work(reader)` off the event loop (signalling when slow), answer."""
        async with self.inflight.track():
            reader = reader_of(channel)
            if limited and await self._too_fast(channel, reader):
                return
            await channel.answer(await self._run(channel, lambda: work(reader), pool))

    async def _too_fast(self, channel: Channel, reader: str) -> bool:
        wait = self.limiter.hit(reader)
        if wait:
            await channel.notice(slow_down_text(wait))
        return bool(wait)

    async def _run(self, channel: Channel, call: Callable[[], Answer], pool: ThreadPoolExecutor | None) -> Answer:
        future = asyncio.get_running_loop().run_in_executor(pool, call)
        done, _ = await asyncio.wait({future}, timeout=SLOW_SECONDS)
        if not done:
            await channel.busy()
        return await future

    async def refuse_non_admin(self, channel: Channel, command: str) -> bool:
        """True (after telling them) when the sender may not run the admin `command`."""
        if self.is_admin(channel.platform, channel.user_id):
            return False
        log.warning("%s user %s asked for /%s but is not an admin", channel.platform, channel.user_id, command)
        await channel.notice(f"Sorry, only the bot's admins can use /{command}.")
        return True

    async def status_command(self, channel: Channel) -> None:
        """/status for admins."""
        if await self.refuse_non_admin(channel, "status"):
            return
        await self.command(channel, lambda reader: Answer(Info("\n".join(self.status_lines())), private=True),
                           limited=False)

    async def retrain_command(self, channel: Channel) -> None:
        """/retrain for admins: progress in one edited message, the outcome posted where it was asked."""
        if await self.refuse_non_admin(channel, "retrain"):
            return
        if self.retrain.running:
            await channel.notice("A retrain is already running; its message shows the progress.")
            return
        status = await channel.status("Retraining: starting…")

        async def progress(text: str) -> None:
            await status.edit(f"Retraining: {text}")

        async def retrain() -> None:
            try:
                result = await self.retrain.retrain(progress, requested_by=reader_of(channel))
            except RetrainBusy as exc:
                await status.finish(str(exc))
                return
            await status.finish(result.message)

        self.spawn(retrain())  # runs for minutes: not a handler in flight that shutdown should wait for

    async def import_command(self, channel: Channel, size: int | None, download: Callable[[], Awaitable[bytes]]) -> None:
        """A shelf import: size limit before the download, then parsing and matching on the import thread."""
        async with self.inflight.track():
            reader = reader_of(channel)
            if await self._too_fast(channel, reader):
                return
            if size is not None and size > MAX_IMPORT_BYTES:
                await channel.answer(Answer(Info(f"That file is over {MAX_IMPORT_BYTES // 2**20} MB: too big "
                                                 "to be a library export."), private=True))
                return
            await channel.busy()  # the download alone may take a moment, and the matching longer
            call = Call(table_command("shelf import"), {"file": await download()})
            answer = await asyncio.get_running_loop().run_in_executor(
                self.import_pool, lambda: self.conversation.run(reader, call, channel.scope, channel.say))
            await channel.answer(answer)

    # --- /status --------------------------------------------------------------------------

    def status_lines(self) -> list[str]:
        """The admin /status report, one fact per line (blocking: counts readers in the shelf store)."""
        engine = self.holder.current
        manifest = getattr(engine, "manifest", None)  # an `engine.manifest.Manifest`
        created = manifest.created if manifest is not None else None
        lines = [f"Model: {engine.version}" + (f" ({_duration(time.time() - created.timestamp())} old)" if created else "")]
        if self.watch is not None and self.watch.problem:
            lines.append(f"Model problem: {self.watch.problem}")
        figure = manifest.primary if manifest is not None else None
        if figure:
            baseline = manifest.figure(f"popularity_baseline.{figure.name.removeprefix('val_')}")
            extra = f" (popularity baseline {baseline:.4f})" if baseline is not None else ""
            lines.append(f"Evaluation: {figure.name} = {figure.value:.4f}{extra}")
        else:
            lines.append("Evaluation: no figures in this model's manifest")
        lines.append(f"Catalogue: {engine.n_works:,} works")
        lines.append(f"Shelves: {self.shelves.n_readers():,} readers")
        lines.append(f"Uptime: {_duration(time.monotonic() - self.started_at)}")
        lines.extend(self.notes)
        if self.retrain.running:
            lines.append("Retrain: running now")
        elif self.retrain.last is not None:
            lines.append(f"Last retrain: {self.retrain.last.message}")
        return lines


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"

