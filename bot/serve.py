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
import logging
import signal
import sys

from .settings import PLATFORMS

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
                        help="run only these Discord shards in this process, e.g. 0-3 or 0,2,4 (needs --shard-count; "
                             "default: RAREREADS_DISCORD_SHARDS, else all)")
    parser.add_argument("--shard-count", metavar="N", type=int, default=None,
                        help="how many Discord shards the bot has over all its processes "
                             "(default: RAREREADS_DISCORD_SHARD_COUNT, else as Discord advises)")


def run(args: argparse.Namespace) -> int:
    from .settings import SettingsError, check_shards, load_settings, parse_shard_ids, redact_secrets_in_logs

    try:
        settings = load_settings(env_file=args.env_file)
    except SettingsError as exc:
        print(f"rarereads serve: {exc}", file=sys.stderr)
        return 2
    if args.sync_commands:
        settings = settings.model_copy(update={"discord": settings.discord.model_copy(update={"sync": "always"})})
    if args.shards is not None or args.shard_count is not None:
        try:
            shards = parse_shard_ids(args.shards) if args.shards is not None else settings.discord.shards
            count = args.shard_count if args.shard_count is not None else settings.discord.shard_count
            check_shards(shards, count)
        except ValueError as exc:
            print(f"rarereads serve: --shards {args.shards or ''} --shard-count {args.shard_count or ''}: {exc}",
                  file=sys.stderr)
            return 2
        discord = settings.discord.model_copy(update={"shards": shards, "shard_count": count})
        settings = settings.model_copy(update={"discord": discord})
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
        if settings.discord.shards:
            runtime.notes.append(f"Discord shards here: {_ranges(settings.discord.shards)} of {settings.discord.shard_count}")
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

    section = settings.section(runner.platform)
    if not section.single_process:
        return None
    lease = Lease(runtime.shelves, token_lease(runner.platform, section.token.get_secret_value()))
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
        section = settings.section(key)
        try:
            runner_class = section.runner_class()
        except ImportError as exc:
            print(f"rarereads serve: {section.name} needs {exc.name or 'its library'}: "
                  f"pip install -e '.[{section.extra}]'", file=sys.stderr)
            continue
        runners.append(runner_class(runtime, section))  # each adapter gets its own section only
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
