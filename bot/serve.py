"""`rarereads serve`: run the Discord and/or Telegram bots on one shared engine and shelf store.

Every platform with a token configured starts; they share one `EngineHolder`, one
`ShelfStore` and one retrain manager. A platform that fails to start is reported in one
line and the others keep running. SIGINT/SIGTERM stop cleanly: no new updates are taken,
replies under way finish, then the connections and the SQLite file are closed.
"""
from __future__ import annotations

import argparse
import asyncio
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


def run(args: argparse.Namespace) -> int:
    from .settings import SettingsError, load_settings, redact_secrets_in_logs

    try:
        settings = load_settings(env_file=args.env_file)
    except SettingsError as exc:
        print(f"rarereads serve: {exc}", file=sys.stderr)
        return 2
    if args.sync_commands:
        settings = settings.model_copy(update={"discord": settings.discord.model_copy(update={"sync": "always"})})
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
    from engine.shelf import ShelfStore

    from .gate import ModelGate, serving_engine
    from .ratelimit import NoLimit, RateLimiter
    from .retrain import RetrainManager
    from .runtime import BotRuntime
    from .service import Service

    platforms = settings.platforms if platforms is None else platforms
    gate = ModelGate(settings.models_dir, min_fraction=settings.retrain_min_fraction)
    try:  # the folder the retrain gate last let serve; refused and broken folders never
        engine, notes = await asyncio.to_thread(serving_engine, settings.models_dir, settings.model, gate)
    except ModelFolderError as exc:
        print(f"rarereads serve: {exc} (or set RAREREADS_MODEL)", file=sys.stderr)
        return 2
    for note in notes:
        log.warning("%s", note)
    log.info("serving model %s (%d works)", engine.version, engine.n_works)
    try:
        shelves = await asyncio.to_thread(ShelfStore, settings.db)
    except ShelfStoreError as exc:
        print(f"rarereads serve: {exc} (RAREREADS_DB)", file=sys.stderr)
        return 2
    try:
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
        try:
            return await _run_platforms(runtime, settings, platforms, stop or asyncio.Event())
        finally:
            await runtime.close()
    finally:
        await asyncio.to_thread(shelves.close)
        log.info("shelves closed; bye")


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
    started = []
    for runner in _runners(runtime, settings, platforms):
        try:
            await runner.start()
        except Exception as exc:  # one platform failing must not stop the other
            print(f"rarereads serve: {runner.name}: {exc}", file=sys.stderr)
            log.debug("%s failed to start", runner.name, exc_info=True)
            continue
        started.append(runner)
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
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
    return 0
