"""Following the gate's record: every bot process serves the folder the record says serves.

When an admin's retrain is accepted in one `rarereads serve` process, the verdict lands in
the shared shelf store; every other process notices it within `interval` seconds (it reads
the record, one small query), loads and checks the same folder off the event loop, and
hot-swaps it in. Polling the store, rather than PostgreSQL's LISTEN/NOTIFY, works the same
on both stores, needs no connection held open for it, and cannot miss a notice sent while
a connection was down; a few seconds is soon enough for a new model.

A process that cannot load the accepted folder (not mounted here yet, unreadable here)
keeps serving the model it has and says so in `/status`; it tries again after `retry`
seconds. It records no verdict: the folder may be fine where it was judged.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from engine.errors import GateRecordUnreadable

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0  # how often a serve process reads the gate's record
RETRY_SECONDS = 60.0  # how soon a folder that would not load here is tried again


class ModelWatch:
    """Keeps `holder` on the folder the gate's record names.

    Args:
        holder: The `EngineHolder` requests read their engine from.
        gate: The `bot.gate.ModelGate` over the shared store.
        interval: Seconds between two readings of the record.
        retry: Seconds before a folder that failed to load here is tried again.
        paused: True while this process's own retrain is deciding (it swaps by itself).
    """

    def __init__(self, holder, gate, *, interval: float = POLL_SECONDS, retry: float = RETRY_SECONDS,
                 paused: Callable[[], bool] = lambda: False):
        self.holder = holder
        self.gate = gate
        self.interval = interval
        self.retry = retry
        self.paused = paused
        self.problem: str | None = None  # why this process does not serve what the record says (for /status)
        self._failed: dict[str, float] = {}  # folder name -> when it last failed to load here

    def check(self) -> bool:
        """Read the record once and swap if it names another folder; returns whether it swapped (blocking)."""
        if self.paused():
            return False
        current = self.holder.current.version
        try:
            folder = self.gate.served()
        except GateRecordUnreadable as exc:
            self._note(f"{exc}; {current} keeps serving")
            return False
        if folder is None or folder.name == current:
            self.problem = None
            return False
        failed_at = self._failed.get(folder.name)
        if failed_at is not None and time.monotonic() - failed_at < self.retry:
            return False
        try:
            engine = self.gate.load_checked(folder)
        except Exception as exc:  # noqa: BLE001 - a folder that does not load here never serves here
            self._failed[folder.name] = time.monotonic()
            self._note(f"{folder.name} is accepted but cannot be loaded here ({exc}); {current} keeps serving")
            return False
        if self.paused() or self.holder.current.version != current:
            return False  # this process's own retrain swapped meanwhile
        self.holder.swap(engine)
        self._failed.pop(folder.name, None)
        self.problem = None
        log.info("now serving %s, as the gate's record says (was %s)", folder.name, current)
        return True

    def _note(self, problem: str) -> None:
        if problem != self.problem:
            log.warning("%s", problem)
        self.problem = problem

    async def run(self) -> None:
        """Check every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # noqa: BLE001 - the store may be down a moment; the bot keeps serving
                log.warning("could not read the gate's record", exc_info=True)
