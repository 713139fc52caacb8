"""Leases in the shelf store: what only one bot process may do at a time, across machines.

A lease is a row naming its holder and when it runs out, by the database's clock (so the
machines' clocks need not agree). Its holder renews it every third of its length while it
works; a process that dies stops renewing and its lease runs out, so nothing waits on a
crashed process for longer than `LEASE_SECONDS`. Two uses: one Telegram runner per bot
token (`bot/serve.py`; two would fight over getUpdates) and one retrain at a time
(`bot/retrain.py`).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import uuid
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0  # how long a lease outlives its holder's last renewal
RETRAIN = "retrain"  # the lease a retrain holds


def this_process() -> str:
    """How other processes see this one in messages: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def token_lease(platform: str, token: str) -> str:
    """The lease name of a platform's runner for one bot token (a digest: the token is a secret)."""
    return f"{platform}:{hashlib.sha256(token.encode()).hexdigest()[:16]}"


class LeaseTaken(RuntimeError):
    """Another process holds the lease; `holder` says which ("host:pid")."""

    def __init__(self, name: str, holder: str):
        super().__init__(f"{name} is held by {holder}")
        self.holder = holder


class Lease:
    """One named lease in `store` (`engine.shelf.ShelfStore`), held by this process.

    Args:
        store: The shared shelf store.
        name: What the lease is for.
        seconds: Its length; it is renewed every third of that.
    """

    def __init__(self, store, name: str, seconds: float = LEASE_SECONDS):
        self.store = store
        self.name = name
        self.seconds = seconds
        self.holder = f"{this_process()}:{uuid.uuid4().hex[:6]}"  # two leases in one process are two holders

    def take(self) -> None:
        """Take (or renew) it; raises LeaseTaken while another holder's has not run out (blocking)."""
        if not self.store.take_lease(self.name, self.holder, self.seconds):
            other = self.store.lease_holder(self.name) or "another process"
            raise LeaseTaken(self.name, other.rsplit(":", 1)[0] if other.count(":") >= 2 else other)

    def release(self) -> None:
        """Give it up now (blocking); nothing happens if another process has it by now."""
        self.store.release_lease(self.name, self.holder)

    async def keep(self, lost: Callable[[str], Awaitable[None]] | None = None) -> None:
        """Renew it until cancelled; if another process has taken it meanwhile (this one stalled
        past its length), call `lost(holder)` and stop."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                await asyncio.to_thread(self.take)
            except LeaseTaken as exc:
                log.error("lost the lease %s to %s", self.name, exc.holder)
                if lost is not None:
                    await lost(exc.holder)
                return
            except Exception:  # noqa: BLE001 - the store may be down a moment: try again next round
                log.warning("could not renew the lease %s", self.name, exc_info=True)
