"""Figures for the bots, kept out of the test suite: a library import and a soak on loopback.

    python tests/standins/bench_bots.py import [--rows 10000] [--model DIR]
    python tests/standins/bench_bots.py soak [--readers 100] [--seconds 60]

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
    from bot.service import Service, match_export
    from engine.imports import read_export
    from engine.recommender import EngineHolder
    from engine.shelf import open_shelves

    load = os.getloadavg()
    from engine.shelf import read_verdicts
    from rarereads.paths import DEFAULT_DB, DEFAULT_MODELS_DIR

    engine = served_engine(DEFAULT_MODELS_DIR, read_verdicts(DEFAULT_DB), args.model)
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
import discord.http
discord.http.Route.BASE = sys.argv[1]  # the stand-in's API; Telegram's comes from RAREREADS_TELEGRAM_BASE_URL
sys.path.insert(0, sys.argv[2])
import bot.retrain
from pathlib import Path
FAKE = str(Path(sys.argv[2]) / "fake_trainer.py")
bot.retrain.default_trainer_command = lambda likes, models, negatives=None: [
    sys.executable, FAKE, "--models-dir", str(models), "--extra-likes", str(likes), "--mode", "ok", "--flavour", "b"]
from rarereads.cli import main
sys.exit(main(["serve", "--env-file", "/nonexistent/.env"]))
"""


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
            mark = len(telegram_api.calls)
            started = time.perf_counter()
            telegram_api.send_text(user, f"/recommend {title} k=5 rarity=any")
            try:
                call = await telegram_api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user,
                                                   after=mark, timeout=30)
            except AssertionError:
                stats.errors.append(f"telegram: no answer to {user}")
                continue
            stats.check("telegram", re.sub(r"<[^>]+>", "", call.params["text"]), started, groups)
            buttons = [b for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            more = [b for b in buttons if "More like this" in b["text"]]
            if more and rng.random() < 0.3:  # now and then a button instead of a command
                mark = len(telegram_api.calls)
                started = time.perf_counter()
                telegram_api.press(user, rng.choice(more)["callback_data"],
                                   {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "x"})
                try:
                    call = await telegram_api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user,
                                                       after=mark, timeout=30)
                    stats.check("telegram", re.sub(r"<[^>]+>", "", call.params["text"]), started, groups)
                except AssertionError:
                    stats.errors.append(f"telegram: no answer to a press by {user}")
            await asyncio.sleep(rng.uniform(*args.think))  # reading the answer

    async def discord_reader(user: int) -> None:
        while time.perf_counter() < deadline:
            payload = discord_api.command(user, "recommend", {"title": rng.choice(TITLES), "count": 5, "rarity": "any"})
            started = time.perf_counter()
            await discord_api.dispatch(payload)
            try:
                call = await discord_api.reply_to(payload, timeout=30)
            except AssertionError:
                stats.errors.append(f"discord: no answer to {user}")
                continue
            titles = [e.get("title", "") for e in call.data.get("embeds") or []]
            stats.check("discord", "\n".join(f"{t} —" for t in titles) or (call.data.get("content") or ""),
                        started, groups)
            await asyncio.sleep(rng.uniform(*args.think))

    async def retrain_in_the_middle() -> float:
        await asyncio.sleep(args.seconds / 2)
        started = time.perf_counter()
        mark = len(telegram_api.calls)
        telegram_api.send_text(ADMIN, "/retrain")
        await telegram_api.wait_for("editMessageText", lambda c: "Now serving" in c.params.get("text", ""),
                                    after=mark, timeout=60)
        return time.perf_counter() - started

    load_before = os.getloadavg()
    readers = [asyncio.create_task(telegram_reader(10_000 + n)) for n in range(args.readers // 2)]
    readers += [asyncio.create_task(discord_reader(20_000 + n)) for n in range(args.readers - args.readers // 2)]
    swap = asyncio.create_task(retrain_in_the_middle())
    await asyncio.gather(*readers)
    swap_seconds = await swap
    load_after = os.getloadavg()
    bot.send_signal(2)  # SIGINT: what Ctrl-C does
    code = await asyncio.wait_for(bot.wait(), 30)
    await telegram_api.stop()
    await discord_api.stop()
    log = (tmp / "bot.log").read_text(errors="replace")
    problems = [line for line in log.splitlines() if "ERROR" in line or "Traceback" in line]
    stats.errors += [f"bot log: {line[:100]}" for line in problems]
    if code != 0:
        stats.errors.append(f"rarereads serve exited with {code}")
    return {"stats": stats, "swap_seconds": swap_seconds, "load": (load_before, load_after),
            "version": "29990101-*-b (fake trainer)"}


def run_soak(args) -> int:
    result = asyncio.run(soak(args))
    stats = result["stats"]
    every = stats.latencies["telegram"] + stats.latencies["discord"]
    rows = [("simulated readers (Telegram / Discord), duration", f"{args.readers} ({args.readers // 2} / "
             f"{args.readers - args.readers // 2}), {args.seconds} s, hot swap a -> b at {args.seconds / 2:.0f} s"),
            ("answers (with picks: all from model a / all from model b)",
             f"{len(every):,} ({stats.answers:,}: {stats.by_model['a']:,} / {stats.by_model['b']:,})"),
            ("errors", f"{len(stats.errors)}"),
            ("mixed answers (picks of both models in one answer)", f"{stats.mixed}"),
            ("latency p50 / p95 / p99, all", f"{_pct(every, .5) * 1e3:.0f} / {_pct(every, .95) * 1e3:.0f} / "
             f"{_pct(every, .99) * 1e3:.0f} ms")]
    for name, values in stats.latencies.items():
        rows.append((f"latency p50 / p99, {name} ({len(values):,} answers)",
                     f"{_pct(values, .5) * 1e3:.0f} / {_pct(values, .99) * 1e3:.0f} ms"))
    rows.append(("hot swap: /retrain at half time to 'Now serving' (fake trainer, gate, load, check, swap)",
                 f"{result['swap_seconds']:.1f} s"))
    load = "/".join(f"{x:.2f}" for x in result["load"][1])
    notes = [f"Load average at the end: {load}. The bot is `rarereads serve` in its own process (Telegram by long "
             "polling, Discord over the stand-in's gateway); the stand-ins and the readers share this one. Latency "
             "is from the update being queued at the stand-in (Telegram) or sent on the gateway (Discord) to the "
             f"bot's answer reaching the stand-in. Readers wait {args.think[0]:g}-{args.think[1]:g} s between "
             "commands; about 30% of Telegram answers are followed by a press of 'More like this'. Telegram's own "
             "flood limit (30 messages/s for a bot, kept by AIORateLimiter) caps that side's throughput. A mixed "
             "answer is one whose picks come from both halves of the catalogue (model a answers only from one, "
             "model b only from the other)."]
    if stats.errors:
        notes.append("First errors: " + "; ".join(stats.errors[:5]))
    print(append(args.output, f"soak: {args.readers} readers for {args.seconds:g} s on both stand-ins",
                 " ".join(["python", *sys.argv]), rows, notes, result["load"][0]))
    return 0 if not stats.errors else 1


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
    args = parser.parse_args()
    return run_import(args) if args.what == "import" else run_soak(args)


if __name__ == "__main__":
    sys.exit(main())
