"""What both platform adapters share in one `serve` process: the service, limits, buttons, status.

Nothing here knows Discord or Telegram; the adapters take a `BotRuntime` and stay thin.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .ratelimit import NoLimit, RateLimiter
from .retrain import RetrainManager, model_metric

log = logging.getLogger(__name__)


class ActionStore:
    """Button payloads behind short tokens (Telegram allows 64 bytes of callback data).

    Tokens are content hashes, so the same button always gets the same token. The store
    keeps the most recent `capacity` payloads; an older button is answered with a friendly
    "run the command again" instead of failing.
    """

    def __init__(self, capacity: int = 50_000):
        self.capacity = capacity
        self._payloads: OrderedDict[str, dict] = OrderedDict()

    def put(self, payload: dict) -> str:
        """Store `payload` and return its token (12 URL-safe characters)."""
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        token = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:9]).decode()
        self._payloads[token] = payload
        self._payloads.move_to_end(token)
        while len(self._payloads) > self.capacity:
            self._payloads.popitem(last=False)
        return token

    def get(self, token: str) -> dict | None:
        """The payload behind `token`, or None if unknown or forgotten."""
        return self._payloads.get(token)


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


@dataclass
class BotRuntime:
    """Shared state of one `rarereads serve` process.

    Attributes:
        service: The platform-neutral `bot.service.Service`.
        retrain: The `RetrainManager` admins drive.
        settings: The `bot.settings.Settings` in force.
        limiter: Per-reader rate limiter.
    """

    service: Any
    retrain: RetrainManager
    settings: Any
    limiter: RateLimiter | NoLimit = field(default_factory=NoLimit)
    actions: ActionStore = field(default_factory=ActionStore)
    inflight: InFlight = field(default_factory=InFlight)
    started_at: float = field(default_factory=time.monotonic)
    background: set = field(default_factory=set)

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

    @property
    def holder(self):
        return self.service.holder

    @property
    def shelves(self):
        return self.service.shelves

    def is_admin(self, platform: str, user_id: int | str) -> bool:
        return self.settings.is_admin(platform, user_id)

    def status_lines(self) -> list[str]:
        """The admin /status report, one fact per line (blocking: counts shelves in SQLite)."""
        engine = self.holder.current
        manifest = getattr(engine, "manifest", {}) or {}
        metrics = manifest.get("metrics") or {}
        lines = [f"Model: {engine.version}" + (f" ({_age(manifest.get('created_at'))} old)" if manifest.get("created_at") else "")]
        figure = model_metric(manifest)
        if figure:
            baseline = (metrics.get("popularity_baseline") or {}).get(figure[0].removeprefix("val_"))
            extra = f" (popularity baseline {baseline:.4f})" if isinstance(baseline, (int, float)) else ""
            lines.append(f"Evaluation: {figure[0]} = {figure[1]:.4f}{extra}")
        else:
            lines.append("Evaluation: no figures in this model's manifest")
        lines.append(f"Catalogue: {engine.n_works:,} works")
        lines.append(f"Shelves: {self.shelves.n_readers():,} readers")
        lines.append(f"Uptime: {_duration(time.monotonic() - self.started_at)}")
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


def _age(created_at: str) -> str:
    try:
        created = dt.datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return "unknown age"
    return _duration((dt.datetime.now(dt.timezone.utc) - created).total_seconds())


# --- platform-neutral answers: a service Reply plus the buttons under it ----------------------

@dataclass(frozen=True)
class Button:
    """One button; `token` finds its action in the `ActionStore`."""

    label: str
    token: str
    style: str = "secondary"  # primary | secondary | danger


@dataclass
class Answer:
    """What an adapter renders: the service's reply and rows of buttons."""

    reply: Any
    rows: list[list[Button]] = field(default_factory=list)
    ephemeral: bool = False

    @property
    def text(self) -> str:
        return getattr(self.reply, "text", "") or ""


@dataclass
class TextReply:
    """A reply made here (rate limits, refusals) rather than by the service."""

    text: str
    kind: str = "info"


_COMMAND_ACTIONS = (("/book", "book"), ("/shelf add", "add"))  # anything else that names a title recommends


class Conversation:
    """Turns each platform's commands and button presses into `Service` calls and `Answer`s.

    Every method blocks (matching, index queries, SQLite): adapters call them through
    `asyncio.to_thread`. Choices, "add to shelf", "more like this", paging and confirmations
    become buttons whose payloads wait in the `ActionStore`.
    """

    def __init__(self, runtime: BotRuntime):
        self.rt = runtime

    @property
    def service(self):
        return self.rt.service

    def _button(self, label: str, payload: dict, style: str = "secondary") -> Button:
        return Button(label[:80], self.rt.actions.put(payload), style)

    def _answer(self, reader: str, reply, action: dict | None = None) -> Answer:
        """`reply` with the buttons its kind calls for."""
        kind = getattr(reply, "kind", "info")
        rows: list[list[Button]] = []
        if getattr(reply, "choices", None):  # ambiguous or unknown title: one button per candidate
            action = action or {"do": "recommend"}
            rows = [[self._button(f"{n}. {work.label}", {**action, "key": work.key})]
                    for n, work in enumerate(reply.choices[:9], 1)]
        elif kind == "recommendations":
            rows = [[self._button(f"➕ {n}. Add to shelf", {"do": "add", "key": p.work.key}, "primary"),
                     self._button(f"🔎 {n}. More like this", {"do": "recommend", "key": p.work.key})]
                    for n, p in enumerate(reply.recommendations.picks, 1)]
        elif kind == "book" and reply.work is not None:
            rows = [[self._button("➕ Add to shelf", {"do": "add", "key": reply.work.key}, "primary"),
                     self._button("🔎 More like this", {"do": "recommend", "key": reply.work.key})]]
        elif kind == "shelf" and getattr(reply, "pages", 0) > 1:
            nav = []
            if reply.page > 0:
                nav.append(self._button("◀ Previous", {"do": "page", "page": reply.page - 1}))
            if reply.page + 1 < reply.pages:
                nav.append(self._button("Next ▶", {"do": "page", "page": reply.page + 1}))
            rows = [nav]
        elif kind == "confirm" and action is not None:
            rows = [[self._button("Yes, go ahead", {**action, "reader": reader}, "danger"),
                     self._button("Cancel", {"do": "cancel", "reader": reader})]]
        return Answer(reply, rows)

    # --- typed commands (Discord) ------------------------------------------------------------

    def recommend(self, reader: str, title: str = "", count: int | None = None, rarity: str | None = None) -> Answer:
        reply = self.service.recommend(reader, title or None, k=count or 10, rarity=rarity)
        return self._answer(reader, reply, {"do": "recommend", "k": count or 10, "rarity": rarity})

    def book(self, reader: str, title: str) -> Answer:
        return self._answer(reader, self.service.book(reader, title), {"do": "book"})

    def shelf(self, reader: str, page: int = 0) -> Answer:
        return self._answer(reader, self.service.shelf(reader, page=page))

    def shelf_add(self, reader: str, title: str) -> Answer:
        return self._answer(reader, self.service.shelf_add(reader, title), {"do": "add"})

    def shelf_remove(self, reader: str, title: str) -> Answer:
        return self._answer(reader, self.service.shelf_remove(reader, title))

    def shelf_clear(self, reader: str, confirm: bool = False) -> Answer:
        return self._answer(reader, self.service.shelf_clear(reader, confirm=confirm), {"do": "clear"})

    def forget(self, reader: str, confirm: bool = False) -> Answer:
        return self._answer(reader, self.service.forget(reader, confirm=confirm), {"do": "forget"})

    def import_goodreads(self, reader: str, data: bytes) -> Answer:
        return Answer(self.service.shelf_import(reader, data))

    def help(self) -> Answer:
        return Answer(self.service.help())

    # --- chat lines (Telegram) ---------------------------------------------------------------

    def text(self, reader: str, line: str) -> Answer:
        """A chat line as the service parses it (commands, numbers picking a choice, bare titles)."""
        reply = self.service.handle_text(reader, line)
        lowered = " ".join(line.lower().split())
        action = next(({"do": do} for prefix, do in _COMMAND_ACTIONS if lowered.startswith(prefix)), {"do": "recommend"})
        if lowered.startswith("/shelf clear"):
            action = {"do": "clear"}
        elif lowered.startswith("/forget"):
            action = {"do": "forget"}
        return self._answer(reader, reply, action)

    # --- buttons -----------------------------------------------------------------------------

    def press(self, reader: str, token: str) -> Answer:
        """Run the action behind a pressed button for `reader`."""
        payload = self.rt.actions.get(token)
        if payload is None:
            return Answer(TextReply("That button has expired; please run the command again."), ephemeral=True)
        owner = payload.get("reader")
        if owner is not None and owner != reader:
            return Answer(TextReply("That button is for someone else."), ephemeral=True)
        do = payload["do"]
        if do == "cancel":
            return Answer(TextReply("Cancelled; nothing changed."))
        if do == "clear":
            return self.shelf_clear(reader, confirm=True)
        if do == "forget":
            return self.forget(reader, confirm=True)
        if do == "page":
            return self.shelf(reader, payload["page"])
        engine = self.rt.holder.current  # one engine for the whole action
        work = engine.work_by_key(payload["key"])
        if work is None:
            return Answer(TextReply("That book is no longer in my catalogue; please ask again."), ephemeral=True)
        return self._answer(reader, self._work_reply(engine, reader, do, work, payload), {"do": do})

    def _work_reply(self, engine, reader: str, do: str, work, payload: dict):
        """The service's answer for an already identified work (a pressed pick or choice)."""
        service = self.service
        if do == "add":
            return service.shelf_add_work(reader, work)
        if do == "book":
            return service.book_work(work)
        return service.recommend_work(reader, work, payload.get("k") or 10, payload.get("rarity"), engine=engine)
