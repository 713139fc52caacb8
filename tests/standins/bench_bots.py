"""Figures for the bots, kept out of the test suite: a library import and a soak on loopback.

    python tests/standins/bench_bots.py import [--rows 10000] [--model DIR]
    python tests/standins/bench_bots.py soak [--readers 100] [--seconds 60] [--processes 2]

`import` builds a Goodreads export of real catalogue books (ISBN-13s for most rows, as
Goodreads writes them, title and author only for the rest, some to-read and some books
the catalogue lacks) and times parsing, matching and the one-transaction store, end to
end through `Service.shelf_import`, on the serving model (default: the one the gate picks
in models/).

`soak` runs the real Telegram Application and discord.py client against their stand-ins
on 127.0.0.1, with simulated readers (half on each platform) sending commands and
pressing buttons for the whole time, and hot-swaps the model in the middle (flavour a
answers only from the first half of the catalogue, flavour b only from the second, so a
mixed answer shows). It counts errors and mixed answers and gives latency percentiles.

`soak --processes 2` runs two `rarereads serve` processes on one PostgreSQL server it starts
(tests/standins/pgserver.py): Discord's shards split between them, Telegram in the first (the
second, given the same token, must be refused it), readers writing shelves through both, and
a retrain accepted in the first that the second must follow. It also counts shelf rows lost
or duplicated, against every write the bots confirmed.

Each run appends a section to BENCHMARKS.md (--output) with the machine and load average.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

GOODREADS_HEADER = ("Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,"
                    "Binding,Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,"
                    "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies")


def machine(load: tuple[float, float, float] | None = None) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    ram = ""
    with contextlib.suppress(OSError, StopIteration):
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        ram = f", {kb / 2**20:.1f} GB RAM"
    load = "/".join(f"{x:.2f}" for x in (load or os.getloadavg()))
    return f"{cpu}, {os.cpu_count()} cores{ram}; Python {platform.python_version()}; load average {load} at the start"


def append(output: Path, title: str, command: str, rows: list[tuple[str, str]], notes: list[str],
           load: tuple[float, float, float]) -> str:
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"### {title}: {when}", "", f"Machine: {machine(load)}. Command: `{command}`.", "",
             "| figure | value |", "| --- | --- |", *[f"| {a} | {b} |" for a, b in rows], "", *notes]
    text = "\n".join(lines).rstrip() + "\n"
    with open(output, "a") as handle:
        handle.write("\n" + text)
    return text


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- import ----------------------------------------------------------------------------------

def export_of(engine, rows: int, seed: int = 0) -> bytes:
    """A Goodreads export of `rows` books from the engine's catalogue (and a few it lacks)."""
    import csv
    import io

    from engine.imports import isbn_forms

    rng = random.Random(seed)
    ids = rng.sample(range(engine.n_works), min(rows, engine.n_works))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GOODREADS_HEADER.split(","))
    for n, i in enumerate(ids):
        work = engine.work(i)
        title, author = work.title, work.author
        isbn13 = ""
        forms = isbn_forms(work.isbns[0]) if work.isbns else ()
        if forms and rng.random() < 0.7:  # most Goodreads rows carry an ISBN-13
            isbn13 = forms[-1]
        if not isbn13 and n % 3 == 1:  # Goodreads' series note
            title = f"{title} ({author.split()[-1] if author else 'Some'} Saga, #{n % 7 + 1})"
        elif not isbn13 and n % 3 == 2 and len(title) > 6:  # spelled another way: the matcher's job
            cut = rng.randrange(1, len(title) - 1)
            title = (title[:cut] + title[cut + 1:]).lower()
        if n % 100 == 99:  # a book the catalogue does not have
            title, author, isbn13 = f"An Unheard-of Book Number {n}", "Nobody Known", ""
        shelf = "to-read" if n % 10 == 0 else "read"
        rating = 0 if shelf == "to-read" else rng.choice([0, 3, 4, 5, 5])
        review = "Loved it.\nWould read again, \"truly\"." if n % 50 == 0 else ""
        writer.writerow([n, title, author, "", "", '=""', f'="{isbn13}"', rating, "4.0", "", "Paperback", "", "", "",
                         "", "2024/01/01", "", "", shelf, review, "", "", 1, 0])
    return out.getvalue().encode("utf-8")


def run_import(args) -> int:
    from bot.gate import served_engine
    from bot.service import Service
    from engine.imports import match_export, read_export
    from engine.recommender import EngineHolder
    from engine.shelf import open_shelves

    from engine.shelf import read_verdicts
    from rarereads.settings import PathSettings, read_settings

    load = os.getloadavg()
    paths = read_settings(PathSettings)
    engine = served_engine(paths.models_dir, read_verdicts(paths.db), args.model)
    data = export_of(engine, args.rows)
    timings: dict[str, list[float]] = {"parse": [], "match": [], "store": [], "total": []}
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store = open_shelves(Path(tmp) / "s.sqlite")
            t0 = time.perf_counter()
            export = read_export(data, max_rows=args.rows + 1)
            t1 = time.perf_counter()
            report = match_export(engine, export)
            t2 = time.perf_counter()
            store.add_many("local:bench", [(w, r.title, r.rating or None, s) for r, w, s, _ in report.stored])
            t3 = time.perf_counter()
            store.clear("local:bench")
            store.clear("local:bench", shelf="want")
            reply = Service(EngineHolder(engine), store, max_import_rows=args.rows + 1).shelf_import("local:bench", data)
            t4 = time.perf_counter()
            store.close()
        for name, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            timings[name].append(value)
    how = {way: sum(h == way for *_, h in report.stored) for way in ("ISBN", "title", "close title")}
    med = {k: statistics.median(v) for k, v in timings.items()}
    rows = [("rows in the export (bytes)", f"{len(export.rows):,} ({len(data) / 2**20:.1f} MB)"),
            ("stored (by ISBN / same title and author / close title) / not found / listed twice",
             f"{len(report.stored):,} ({how['ISBN']:,} / {how['title']:,} / {how['close title']:,}) / "
             f"{len(report.unmatched):,} / {report.duplicates:,}"),
            ("parse (decode, CSV, checks), median of runs", f"{med['parse']:.2f} s"),
            ("match (ISBN, else title by author)", f"{med['match']:.2f} s ({med['match'] / len(export.rows) * 1e3:.2f} ms/row)"),
            ("store (one transaction)", f"{med['store']:.2f} s"),
            ("end to end, Service.shelf_import", f"{med['total']:.2f} s (runs: {', '.join(f'{x:.1f}' for x in timings['total'])} s)")]
    text = append(args.output, f"import of a {args.rows:,}-row Goodreads export", " ".join(["python", *sys.argv]),
                  rows, [f"Model {engine.version} ({engine.n_works:,} works). {reply.text.splitlines()[0]}"], load)
    print(text)
    return 0


# --- soak ------------------------------------------------------------------------------------

TITLES = ["Solaris", "Roadside Picnic", "Pavane", "Stoner", "The Peregrine", "Dhalgren", "Riddley Walker",
          "The Summer Book", "Engine Summer", "The Leopard", "Journey by Moonlight", "The Embedding"]


class Stats:
    def __init__(self):
        self.latencies: dict[str, list[float]] = {"telegram": [], "discord": []}
        self.errors: list[str] = []
        self.mixed = 0
        self.answers = 0
        self.by_model = {"a": 0, "b": 0}  # answers whose picks all come from one model

    def check(self, platform_name: str, text: str, started: float, groups) -> None:
        self.latencies[platform_name].append(time.perf_counter() - started)
        if "went wrong" in text or "slow down" in text.lower():
            self.errors.append(f"{platform_name}: {text[:80]}")
            return
        picked = set(re.findall(r"^\d+\. (.+?)(?: —|\n|$)", text, re.M))
        if not picked:
            return
        self.answers += 1
        a, b = picked & groups["a"], picked & groups["b"]
        if a and b:
            self.mixed += 1
            self.errors.append(f"{platform_name}: mixed answer {sorted(picked)[:4]}")
        else:
            self.by_model["a" if a else "b"] += 1


BOT_PROCESS = """
import sys
import yarl
import discord.gateway
import discord.http
discord.http.Route.BASE = sys.argv[1]  # the stand-in's API; Telegram's comes from RAREREADS_TELEGRAM_BASE_URL
# where a client given its shard count connects (it does not ask the API then)
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[1].replace("http:", "ws:").replace("/api/v10", "/gateway"))
sys.path.insert(0, sys.argv[2])
import bot.retrain
from pathlib import Path
FAKE = str(Path(sys.argv[2]) / "fake_trainer.py")
bot.retrain.default_trainer_command = lambda likes, models, negatives=None: [
    sys.executable, FAKE, "--models-dir", str(models), "--extra-likes", str(likes), "--mode", "ok", "--flavour", "b"]
from rarereads.cli import main
sys.exit(main(["serve", "--env-file", "/nonexistent/.env", *sys.argv[3:]]))
"""


def embed_text(call) -> str:
    """A Discord answer as text: one "title —" line per embed (a pick), else its content."""
    titles = [e.get("title", "") for e in call.data.get("embeds") or []]
    return "\n".join(f"{t} —" for t in titles) or (call.data.get("content") or "")


async def retrain_at(telegram_api, delay: float, admin: int, timeout: float = 60) -> tuple[float, float]:
    """After `delay` s the admin sends /retrain on Telegram; returns (when asked, when 'Now serving' came)."""
    await asyncio.sleep(delay)
    started = time.perf_counter()
    mark = len(telegram_api.calls)
    telegram_api.send_text(admin, "/retrain")
    await telegram_api.wait_for("editMessageText", lambda c: "Now serving" in c.params.get("text", ""),
                                after=mark, timeout=timeout)
    return started, time.perf_counter()


def answer_rows(stats: Stats) -> list[tuple[str, str]]:
    """The report's rows on answers, errors, mixed answers and latency."""
    every = stats.latencies["telegram"] + stats.latencies["discord"]
    rows = [("answers (with picks: all from model a / all from model b)",
             f"{len(every):,} ({stats.answers:,}: {stats.by_model['a']:,} / {stats.by_model['b']:,})"),
            ("errors", f"{len(stats.errors)}"),
            ("mixed answers (picks of both models in one answer)", f"{stats.mixed}"),
            ("latency p50 / p95 / p99, all", f"{_pct(every, .5) * 1e3:.0f} / {_pct(every, .95) * 1e3:.0f} / "
             f"{_pct(every, .99) * 1e3:.0f} ms")]
    for name, values in stats.latencies.items():
        rows.append((f"latency p50 / p99, {name} ({len(values):,} answers)",
                     f"{_pct(values, .5) * 1e3:.0f} / {_pct(values, .99) * 1e3:.0f} ms"))
    return rows


async def ask_telegram(api, stats: Stats, user: int, send) -> tuple[str | None, object, float]:
    """`send()` (a message or a press by `user`) and wait for the bot's message to them:
    (its text without markup, or None after counting the error; the call; when sent)."""
    mark = len(api.calls)
    started = time.perf_counter()
    send()
    try:
        call = await api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user, after=mark, timeout=30)
    except AssertionError:
        stats.errors.append(f"telegram: no answer to {user}")
        return None, None, started
    return re.sub(r"<[^>]+>", "", call.params["text"]), call, started


async def ask_discord(api, stats: Stats, user: int, payload: dict) -> tuple[object, float]:
    """Deliver `payload` on the gateway and wait for its answer: (the answer, or None after
    counting the error; when sent)."""
    started = time.perf_counter()
    await api.dispatch(payload)
    try:
        return await api.reply_to(payload, timeout=30), started
    except AssertionError:
        stats.errors.append(f"discord: no answer to {user}")
        return None, started


def report(args, title: str, rows: list[tuple[str, str]], note: str, result: dict) -> int:
    """Append the run to BENCHMARKS.md (--output) and print it; the exit status says whether it erred."""
    stats = result["stats"]
    notes = [f"Load average at the end: {'/'.join(f'{x:.2f}' for x in result['load'][1])}. {note}"]
    if stats.errors:
        notes.append("First errors: " + "; ".join(stats.errors[:5]))
    print(append(args.output, title, " ".join(["python", *sys.argv]), rows, notes, result["load"][0]))
    return 0 if not stats.errors else 1


def log_problems(stats: Stats, name: str, log: str) -> None:
    """Every ERROR or traceback line of a bot's log is an error of the run."""
    stats.errors += [f"{name} log: {line[:100]}" for line in log.splitlines() if "ERROR" in line or "Traceback" in line]


async def soak(args) -> dict:
    """The bot is `rarereads serve` in a process of its own (as deployed); this process plays both
    platforms (the stand-ins) and the readers, and asks for the hot swap with /retrain."""
    from discord_api import GUILD_ID, DiscordStandIn
    from drivers import ADMIN, DISCORD_TOKEN, TELEGRAM_TOKEN
    from models import BOOKS, GROUP_A, GROUP_B, make_model
    from telegram_api import TelegramStandIn

    groups = {"a": {BOOKS[i][0] for i in GROUP_A}, "b": {BOOKS[i][0] for i in GROUP_B}}
    tmp = Path(tempfile.mkdtemp(prefix="rarereads-soak-"))
    make_model(tmp / "models", "20250101-000000-a", "a", metric=0.30)
    telegram_api = await TelegramStandIn(TELEGRAM_TOKEN).start()
    discord_api = await DiscordStandIn(DISCORD_TOKEN).start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
           "RAREREADS_TELEGRAM_BASE_URL": telegram_api.root, "RAREREADS_TELEGRAM_ADMINS": str(ADMIN),
           "RAREREADS_DISCORD_TOKEN": DISCORD_TOKEN, "RAREREADS_DISCORD_TEST_GUILD_ID": str(GUILD_ID),
           "RAREREADS_MODELS_DIR": str(tmp / "models"), "RAREREADS_DB": str(tmp / "shelves.sqlite"),
           "RAREREADS_RATE_LIMIT": "off", "RAREREADS_LOG_LEVEL": "WARNING"}
    bot = await asyncio.create_subprocess_exec(sys.executable, "-c", BOT_PROCESS, discord_api.base, str(HERE), env=env,
                                               cwd=ROOT, stderr=open(tmp / "bot.log", "wb"))
    await telegram_api.wait_for("setMyCommands", timeout=60)
    await asyncio.wait_for(discord_api.identified.wait(), 60)
    stats = Stats()
    deadline = time.perf_counter() + args.seconds
    rng = random.Random(0)

    async def telegram_reader(user: int) -> None:
        while time.perf_counter() < deadline:
            title = rng.choice(TITLES)
            text, call, started = await ask_telegram(
                telegram_api, stats, user, lambda: telegram_api.send_text(user, f"/recommend {title} k=5 rarity=any"))
            if text is None:
                continue
            stats.check("telegram", text, started, groups)
            buttons = [b for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            more = [b for b in buttons if "More like this" in b["text"]]
            if more and rng.random() < 0.3:  # now and then a button instead of a command
                text, _, started = await ask_telegram(telegram_api, stats, user, lambda: telegram_api.press(
                    user, rng.choice(more)["callback_data"],
                    {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "x"}))
                if text is not None:
                    stats.check("telegram", text, started, groups)
            await asyncio.sleep(rng.uniform(*args.think))  # reading the answer

    async def discord_reader(user: int) -> None:
        while time.perf_counter() < deadline:
            payload = discord_api.command(user, "recommend", {"title": rng.choice(TITLES), "count": 5, "rarity": "any"})
            call, started = await ask_discord(discord_api, stats, user, payload)
            if call is None:
                continue
            stats.check("discord", embed_text(call), started, groups)
            await asyncio.sleep(rng.uniform(*args.think))

    load_before = os.getloadavg()
    readers = [asyncio.create_task(telegram_reader(10_000 + n)) for n in range(args.readers // 2)]
    readers += [asyncio.create_task(discord_reader(20_000 + n)) for n in range(args.readers - args.readers // 2)]
    swap = asyncio.create_task(retrain_at(telegram_api, args.seconds / 2, ADMIN))
    await asyncio.gather(*readers)
    asked, swapped = await swap
    swap_seconds = swapped - asked
    load_after = os.getloadavg()
    bot.send_signal(2)  # SIGINT: what Ctrl-C does
    code = await asyncio.wait_for(bot.wait(), 30)
    await telegram_api.stop()
    await discord_api.stop()
    log_problems(stats, "bot", (tmp / "bot.log").read_text(errors="replace"))
    if code != 0:
        stats.errors.append(f"rarereads serve exited with {code}")
    return {"stats": stats, "swap_seconds": swap_seconds, "load": (load_before, load_after),
            "version": "29990101-*-b (fake trainer)"}


def run_soak(args) -> int:
    result = asyncio.run(soak(args))
    stats = result["stats"]
    rows = [("simulated readers (Telegram / Discord), duration", f"{args.readers} ({args.readers // 2} / "
             f"{args.readers - args.readers // 2}), {args.seconds} s, hot swap a -> b at {args.seconds / 2:.0f} s"),
            *answer_rows(stats)]
    rows.append(("hot swap: /retrain at half time to 'Now serving' (fake trainer, gate, load, check, swap)",
                 f"{result['swap_seconds']:.1f} s"))
    return report(args, f"soak: {args.readers} readers for {args.seconds:g} s on both stand-ins", rows,
                  "The bot is `rarereads serve` in its own process (Telegram by long "
                  "polling, Discord over the stand-in's gateway); the stand-ins and the readers share this one. Latency "
                  "is from the update being queued at the stand-in (Telegram) or sent on the gateway (Discord) to the "
                  f"bot's answer reaching the stand-in. Readers wait {args.think[0]:g}-{args.think[1]:g} s between "
                  "commands; about 30% of Telegram answers are followed by a press of 'More like this'. Telegram's own "
                  "flood limit (30 messages/s for a bot, kept by AIORateLimiter) caps that side's throughput. A mixed "
                  "answer is one whose picks come from both halves of the catalogue (model a answers only from one, "
                  "model b only from the other).", result)


# --- soak: two processes on one PostgreSQL ------------------------------------------------------

SHARDS = 4  # Discord shards, split 0-1 / 2-3 between the two processes


async def soak_processes(args) -> dict:
    """Two `rarereads serve` processes on one PostgreSQL (started here, tests/standins/pgserver.py):
    Discord's shards split between them, Telegram in the first (the second is refused it), readers
    writing shelves through both, and a retrain accepted in the first that the second follows."""
    from discord_api import DiscordStandIn
    from drivers import ADMIN, DISCORD_TOKEN, TELEGRAM_TOKEN
    from models import BOOKS, GROUP_A, GROUP_B, make_model
    from pgserver import PgServer
    from telegram_api import TelegramStandIn

    from engine.recommender import Engine
    from engine.shelf import open_shelves

    groups = {"a": {BOOKS[i][0] for i in GROUP_A}, "b": {BOOKS[i][0] for i in GROUP_B}}
    tmp = Path(tempfile.mkdtemp(prefix="rarereads-soak2-"))
    first = make_model(tmp / "models", "20250101-000000-a", "a", metric=0.30)
    keys = {title: Engine.from_folder(first).resolve(title).key for title in TITLES}
    server = PgServer().start()
    url = server.url(database="postgres")
    telegram_api = await TelegramStandIn(TELEGRAM_TOKEN).start()
    discord_api = await DiscordStandIn(DISCORD_TOKEN).start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
           "RAREREADS_TELEGRAM_BASE_URL": telegram_api.root, "RAREREADS_TELEGRAM_ADMINS": str(ADMIN),
           "RAREREADS_DISCORD_TOKEN": DISCORD_TOKEN, "RAREREADS_DISCORD_ADMINS": str(ADMIN),
           "RAREREADS_MODELS_DIR": str(tmp / "models"), "RAREREADS_DB": url,
           "RAREREADS_RATE_LIMIT": "off", "RAREREADS_LOG_LEVEL": "WARNING"}
    bots = []
    for n, shards in enumerate(("0-1", "2-3")):
        bots.append(await asyncio.create_subprocess_exec(
            sys.executable, "-c", BOT_PROCESS, discord_api.base, str(HERE), "--shards", shards,
            "--shard-count", str(SHARDS), env=env, cwd=ROOT, stderr=open(tmp / f"bot{n + 1}.log", "wb")))
        if n == 0:  # the first takes Telegram; the second, started with the same token, is refused it
            await telegram_api.wait_for("setMyCommands", timeout=90)
        while len(discord_api.shards) < 2 * (n + 1):
            await asyncio.sleep(0.1)
    stats = Stats()
    written: set[tuple[str, str]] = set()  # (reader, work key) the bots said they shelved
    answered_by: list[tuple[float, int, str]] = []  # (time, process, model) of each Discord answer with picks
    deadline = time.perf_counter() + args.seconds
    swap_at: list[float] = []
    rng = random.Random(0)

    def model_of(text: str) -> str | None:
        picked = set(re.findall(r"^\d+\. (.+?)(?: —|\n|$)", text, re.M))
        a, b = picked & groups["a"], picked & groups["b"]
        return None if not picked or (a and b) else ("a" if a else "b")

    async def telegram_reader(user: int) -> None:
        while time.perf_counter() < deadline:
            title = rng.choice(TITLES)
            write = rng.random() < 0.3
            line = f"/shelf add {title}" if write else f"/recommend {title} k=5 rarity=any"
            text, _, started = await ask_telegram(telegram_api, stats, user, lambda: telegram_api.send_text(user, line))
            if text is None:
                continue
            stats.check("telegram", text, started, groups)
            if write:
                if "Added" in text or "Already on your shelf" in text:
                    written.add((f"telegram:{user}", keys[title]))
                else:
                    stats.errors.append(f"telegram: shelf add answered {text[:60]!r}")
            await asyncio.sleep(rng.uniform(*args.think))

    async def discord_reader(user: int) -> None:
        while time.perf_counter() < deadline:
            shard = rng.randrange(SHARDS)  # the reader's servers sit on every shard: both processes write
            guild = discord_api.guild_on_shard(shard, SHARDS, n=user % 7)
            title = rng.choice(TITLES)
            write = rng.random() < 0.3
            payload = (discord_api.command(user, "shelf", {"title": title}, sub="add", guild_id=guild) if write else
                       discord_api.command(user, "recommend", {"title": title, "count": 5, "rarity": "any"},
                                           guild_id=guild))
            call, started = await ask_discord(discord_api, stats, user, payload)
            if call is None:
                continue
            if write:
                stats.latencies["discord"].append(time.perf_counter() - started)
                if "Added" in call.text or "Already on your shelf" in call.text:
                    written.add((f"discord:{user}", keys[title]))
                else:
                    stats.errors.append(f"discord: shelf add answered {call.text[:60]!r}")
            else:
                text = embed_text(call)
                stats.check("discord", text, started, groups)
                model = model_of(text)
                if model:
                    answered_by.append((time.perf_counter(), 1 if shard < SHARDS // 2 else 2, model))
            await asyncio.sleep(rng.uniform(*args.think))

    async def serving(shard: int) -> str:
        """The model answering on `shard`'s server now, and the admin's /status there."""
        guild = discord_api.guild_on_shard(shard, SHARDS)
        payload = discord_api.command(ADMIN, "recommend", {"title": "Solaris", "count": 5, "rarity": "any"}, guild_id=guild)
        await discord_api.dispatch(payload)
        call = await discord_api.reply_to(payload, timeout=30)
        model = model_of(embed_text(call))
        payload = discord_api.command(ADMIN, "status", guild_id=guild)
        await discord_api.dispatch(payload)
        status = (await discord_api.reply_to(payload, timeout=30)).text
        version = re.search(r"Model: (\S+)", status)
        return f"{model} ({version.group(1) if version else status[:60]})"

    load_before = os.getloadavg()
    try:
        readers = [asyncio.create_task(telegram_reader(10_000 + n)) for n in range(args.readers // 2)]
        readers += [asyncio.create_task(discord_reader(20_000 + n)) for n in range(args.readers - args.readers // 2)]
        swap = asyncio.create_task(retrain_at(telegram_api, args.seconds / 2, ADMIN, timeout=90))
        await asyncio.gather(*readers)
        asked, swapped = await swap
        swap_at.append(swapped)
        swap_seconds = swapped - asked
        load_after = os.getloadavg()
        followed = [t for t, process, model in answered_by if process == 2 and model == "b" and t >= swap_at[0]]
        serving_after = [await serving(0), await serving(SHARDS - 1)]
        late = [t for t, process, model in answered_by if model == "a" and swap_at and t > swap_at[0] + 15]
        if late:
            stats.errors.append(f"{len(late)} answers from the old model more than 15 s after the swap")
        if not all(s.startswith("b (29990101-") for s in serving_after):
            stats.errors.append(f"not every process serves the new model: {serving_after}")
        for bot in bots:
            bot.send_signal(2)  # SIGINT: what Ctrl-C does
        codes = [await asyncio.wait_for(bot.wait(), 30) for bot in bots]
        store = open_shelves(url)
        rows = [(reader, key) for reader, key, *_ in store.dump()["entries"]]
        store.close()
    finally:
        for bot in bots:
            if bot.returncode is None:
                bot.kill()
        await telegram_api.stop()
        await discord_api.stop()
        server.stop()
    lost, extra = written - set(rows), set(rows) - written
    duplicated = len(rows) - len(set(rows))
    if lost or extra or duplicated:
        stats.errors.append(f"shelf rows: {len(lost)} lost, {len(extra)} unexpected, {duplicated} duplicated")
    logs = [(tmp / f"bot{n}.log").read_text(errors="replace") for n in (1, 2)]
    for n, log in enumerate(logs, 1):
        log_problems(stats, f"bot {n}", log)
    refused = "Telegram: another rarereads process" in logs[1] and "runs in one process only" in logs[1]
    if not refused:
        stats.errors.append("the second process was not refused Telegram")
    stats.errors += [f"rarereads serve {n} exited with {code}" for n, code in enumerate(codes, 1) if code != 0]
    return {"stats": stats, "swap_seconds": swap_seconds, "load": (load_before, load_after), "rows": len(rows),
            "writes": len(written), "follow": (followed[0] - swap_at[0]) if followed else None,
            "serving_after": serving_after, "refused": refused}


def run_soak_processes(args) -> int:
    result = asyncio.run(soak_processes(args))
    stats = result["stats"]
    follow = f"{result['follow']:.1f} s" if result["follow"] is not None else "never"
    rows = [("processes, store", f"2 `rarereads serve` (Discord shards 0-1 / 2-3 of {SHARDS}; Telegram in the "
             f"first, refused to the second: {'yes' if result['refused'] else 'NO'}), one PostgreSQL 15"),
            ("simulated readers (Telegram / Discord), duration", f"{args.readers} ({args.readers // 2} / "
             f"{args.readers - args.readers // 2}), {args.seconds:g} s, retrain accepted at {args.seconds / 2:.0f} s"),
            *answer_rows(stats),
            ("shelf writes answered / rows in PostgreSQL (lost, duplicated)",
             f"{result['writes']:,} distinct (reader, book) / {result['rows']:,} rows (0 lost, 0 duplicated)"
             if not any("shelf rows" in e for e in stats.errors) else next(e for e in stats.errors if "shelf rows" in e))]
    rows += [("retrain: /retrain to 'Now serving' in the first process", f"{result['swap_seconds']:.1f} s"),
             ("the second process's first answer from the new model, after that", follow),
             ("model after the run (shard 0's process / shard 3's process)", " / ".join(result["serving_after"]))]
    return report(args, f"soak: two serve processes on one PostgreSQL, {args.readers} readers for {args.seconds:g} s",
                  rows, "Both bots are `rarereads serve` processes of their own on one PostgreSQL 15 server (started "
                  "for the run, fsync off); the stand-ins, the readers and PostgreSQL share the same two cores. Discord "
                  "readers send each command from a server on a random shard, so every reader's shelf is written by "
                  "both processes; about 30% of commands are `/shelf add`. Latency is from the command reaching the "
                  "stand-in to the bot's answer reaching it. The second process follows the gate's record by polling "
                  "it every 5 s (bot/modelwatch.py). A mixed answer is one whose picks come from both models.", result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", help="file the run is appended to")
    sub = parser.add_subparsers(dest="what", required=True)
    imp = sub.add_parser("import", help="time a Goodreads import")
    imp.add_argument("--rows", type=int, default=10_000, help="books in the export")
    imp.add_argument("--repeat", type=int, default=3, help="runs (the median is reported)")
    imp.add_argument("--model", type=Path, default=None, help="model folder (default: the gate's choice in models/)")
    soak_parser = sub.add_parser("soak", help="simulated readers on both stand-ins with a hot swap")
    soak_parser.add_argument("--readers", type=int, default=100, help="concurrent readers, half on each platform")
    soak_parser.add_argument("--seconds", type=float, default=60.0, help="how long")
    soak_parser.add_argument("--think", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"),
                             help="seconds a reader waits between commands (uniform; default 2 to 4)")
    soak_parser.add_argument("--processes", type=int, choices=(1, 2), default=1,
                             help="2: two serve processes on one PostgreSQL (shards split, Telegram in one, shelf "
                                  "writes through both, a retrain the other follows); default 1 on SQLite")
    args = parser.parse_args()
    if args.what == "import":
        return run_import(args)
    return run_soak_processes(args) if args.processes == 2 else run_soak(args)


if __name__ == "__main__":
    sys.exit(main())
