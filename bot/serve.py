"""`rarereads serve`: run the Discord and/or Telegram bots on one shared engine and shelf store.

Every platform with a token configured starts; they share one `EngineHolder`, one shelf
store and one retrain manager. A platform that fails to start is reported in one line and
the others keep running. SIGINT/SIGTERM stop cleanly: no new updates are taken, replies
under way finish, then the connections and the store are closed.

Several processes can serve one bot on one shelf store (PostgreSQL, for several machines):
`--shards 0-3 --shard-count 8` splits Discord's shards among them, Telegram runs in one of
them (a lease in the store refuses a second runner for the same token), and every process
follows the gate's record of which model serves (`bot.modelwatch`).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys

from .platforms import PLATFORMS

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 15.0  # how long replies under way may take to finish at shutdown
NO_TOKEN = ("rarereads serve: no bot token configured. Set RAREREADS_DISCORD_TOKEN and/or "
            "RAREREADS_TELEGRAM_TOKEN in the environment or in .env (see .env.example and docs/BOTS.md).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", default=".env", help="settings file read before the environment (default: .env)")
    parser.add_argument("--only", choices=list(PLATFORMS), help="start only this platform")
    parser.add_argument("--sync-commands", action="store_true",
                        help="sync Discord's slash commands now (by default only when they changed)")
    parser.add_argument("--shards", metavar="IDS", default=None,
                        help="run only these Discord shards in this process, e.g. 0-3 or 0,2,4 (needs --shard-count)")
    parser.add_argument("--shard-count", metavar="N", type=int, default=None,
                        help="how many Discord shards the bot has over all its processes")


def parse_shards(text: str | None, count: int | None) -> tuple[tuple[int, ...] | None, int | None]:
    """`--shards 0-3,6` and `--shard-count 8` -> ((0, 1, 2, 3, 6), 8); raises ValueError in one line."""
    if text is None:
        if count is not None and count < 1:
            raise ValueError("--shard-count must be at least 1")
        return None, count
    if count is None:
        raise ValueError("--shards needs --shard-count (how many shards over all processes)")
    ids: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ValueError(f"--shards {text!r}: write shard numbers or ranges, e.g. 0-3 or 0,2,4") from None
        if not 0 <= first <= last < count:
            raise ValueError(f"--shards {text!r}: shards are numbered 0 to {count - 1} for --shard-count {count}")
        ids.update(range(first, last + 1))
    if not ids:
        raise ValueError("--shards names no shard")
    return tuple(sorted(ids)), count


def run(args: argparse.Namespace) -> int:
    from .settings import SettingsError, load_settings, redact_secrets_in_logs

    try:
        settings = load_settings(env_file=args.env_file)
    except SettingsError as exc:
        print(f"rarereads serve: {exc}", file=sys.stderr)
        return 2
    if args.sync_commands:
        settings = dataclasses.replace(settings, discord_sync="always")
    try:
        shard_ids, shard_count = parse_shards(args.shards, args.shard_count)
    except ValueError as exc:
        print(f"rarereads serve: {exc}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, discord_shard_ids=shard_ids, discord_shard_count=shard_count)
    redact_secrets_in_logs(settings.secrets())
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Bot API request is noise
    platforms = [p for p in settings.platforms if args.only in (None, p)]
    if not platforms:
        print(NO_TOKEN if not settings.platforms else f"rarereads serve: no token for {args.only}", file=sys.stderr)
        return 2
    return asyncio.run(serve(settings, platforms))


async def serve(settings, platforms: list[str] | None = None, stop: asyncio.Event | None = None) -> int:
    """Run until `stop` is set (or SIGINT/SIGTERM); returns the exit status."""
    from engine.errors import ModelFolderError, ShelfStoreError
    from engine.recommender import EngineHolder
    from engine.shelf import open_shelves

    from .gate import ModelGate, serving_engine
    from .modelwatch import ModelWatch
    from .ratelimit import NoLimit, RateLimiter
    from .retrain import RetrainManager
    from .runtime import BotRuntime
    from .service import Service

    platforms = settings.platforms if platforms is None else platforms
    try:  # first the store: it holds the gate's record of which folder serves
        shelves = await asyncio.to_thread(open_shelves, settings.db)
    except ShelfStoreError as exc:
        print(f"rarereads serve: {exc} (RAREREADS_DB)", file=sys.stderr)
        return 2
    try:
        gate = ModelGate(settings.models_dir, shelves, min_fraction=settings.retrain_min_fraction)
        try:  # the folder the retrain gate last let serve; refused and broken folders never
            engine, notes = await asyncio.to_thread(serving_engine, gate, settings.model)
        except ModelFolderError as exc:
            print(f"rarereads serve: {exc} (or set RAREREADS_MODEL)", file=sys.stderr)
            return 2
        for note in notes:
            log.warning("%s", note)
        log.info("serving model %s (%d works)", engine.version, engine.n_works)
        holder = EngineHolder(engine)
        service = Service(holder, shelves, default_rarity=settings.default_rarity,
                          max_import_rows=settings.import_max_rows)
        limit = settings.rate_limit
        runtime = BotRuntime(
            service=service,
            retrain=RetrainManager(holder, shelves, settings.models_dir, gate=gate, timeout=settings.retrain_timeout),
            settings=settings,
            limiter=RateLimiter(limit.count, limit.seconds) if limit else NoLimit(),
        )
        if settings.model is None:  # a pinned folder stays; otherwise follow the record other processes write
            runtime.watch = ModelWatch(holder, gate, paused=lambda: runtime.retrain.running)
            runtime.spawn(runtime.watch.run())
        if settings.discord_shard_ids:
            runtime.notes.append(f"Discord shards here: {_ranges(settings.discord_shard_ids)} "
                                 f"of {settings.discord_shard_count}")
        try:
            return await _run_platforms(runtime, settings, platforms, stop or asyncio.Event())
        finally:
            await runtime.close()
    finally:
        await asyncio.to_thread(shelves.close)
        log.info("shelves closed; bye")


async def _lease_for(runtime, settings, runner):
    """The lease a single-process platform's runner needs (None when it needs none), or False
    (after saying why in one line) when another process holds it."""
    from .leases import Lease, LeaseTaken, token_lease

    if not PLATFORMS[runner.platform].single_process:
        return None
    lease = Lease(runtime.shelves, token_lease(runner.platform, settings.token(runner.platform).reveal()))
    try:
        await asyncio.to_thread(lease.take)
    except LeaseTaken as exc:
        others = ", ".join(p for p in PLATFORMS if p != runner.platform)
        print(f"rarereads serve: {runner.name}: another rarereads process ({exc.holder}) runs this bot already; "
              f"{runner.name} runs in one process only (start this one with --only {others})", file=sys.stderr)
        return False
    return lease


def _ranges(ids) -> str:
    """(0, 1, 2, 3, 6) -> "0-3, 6"."""
    ids, parts = sorted(ids), []
    start = previous = ids[0]
    for shard in ids[1:] + [None]:
        if shard is not None and shard == previous + 1:
            previous = shard
            continue
        parts.append(f"{start}-{previous}" if previous > start else str(start))
        if shard is not None:
            start = previous = shard
    return ", ".join(parts)


def _runners(runtime, settings, platforms: list[str]) -> list:
    """A `Runner` for each platform asked for whose library is installed."""
    runners = []
    for key in platforms:
        platform = PLATFORMS[key]
        try:
            runner_class = platform.runner_class()
        except ImportError as exc:
            print(f"rarereads serve: {platform.name} needs {exc.name or 'its library'}: "
                  f"pip install -e '.[{platform.extra}]'", file=sys.stderr)
            continue
        runners.append(runner_class(runtime, settings))
    return runners


async def _run_platforms(runtime, settings, platforms: list[str], stop: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    started, leases = [], []
    for runner in _runners(runtime, settings, platforms):
        lease = await _lease_for(runtime, settings, runner)
        if lease is False:
            continue
        try:
            await runner.start()
        except Exception as exc:  # one platform failing must not stop the other
            print(f"rarereads serve: {runner.name}: {exc}", file=sys.stderr)
            log.debug("%s failed to start", runner.name, exc_info=True)
            if lease is not None:
                await asyncio.to_thread(lease.release)
            continue
        started.append(runner)
        if lease is not None:
            leases.append(lease)

            async def lost(holder: str, runner=runner) -> None:
                await runner.pause()  # the other process runs it now; two would fight over updates
                runtime.notes[:] = [n for n in runtime.notes if not n.startswith(f"{runner.name}:")]
                runtime.notes.append(f"{runner.name}: stopped here, {holder} runs it now")

            runtime.spawn(lease.keep(lost))
            runtime.notes.append(f"{runner.name}: runs in this process")
    if not started:
        return 1
    log.info("rarereads is serving on %s; Ctrl-C stops", " and ".join(r.name for r in started))
    schedule = settings.retrain_schedule
    if schedule is not None:
        async def notify(result) -> None:
            for runner in started:
                await runner.notify_admins(f"Scheduled retrain: {result.message}")

        runtime.spawn(runtime.retrain.run_schedule(schedule, notify))
    try:
        await stop.wait()
    finally:
        log.info("shutting down: finishing %d replies under way", runtime.inflight.count)
        for runner in started:
            await runner.pause()  # take no new updates
        await runtime.cancel_background()  # a retrain in progress is abandoned; the current model stays
        if not await runtime.inflight.wait_idle(SHUTDOWN_GRACE_SECONDS):
            log.warning("gave up waiting for %d replies", runtime.inflight.count)
        for runner in reversed(started):
            try:
                await runner.stop()
            except Exception:
                log.exception("%s did not stop cleanly", runner.name)
        for lease in leases:
            with contextlib.suppress(Exception):  # it runs out by itself if the store is gone
                await asyncio.to_thread(lease.release)
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
    return 0
