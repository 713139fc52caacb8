"""Several bot processes on one shelf store (issue 16 §2), on both stores: Discord's shards split
between `serve` runs, Telegram in exactly one, one view of which model serves, one retrain at a
time. Each "process" here has a store connection, a gate and an engine of its own; the soak in
tests/standins/bench_bots.py runs them as real processes."""
from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

import pytest
import yarl

discord = pytest.importorskip("discord")
pytest.importorskip("telegram")

from discord_api import GUILD_ID, DiscordStandIn  # noqa: E402
from drivers import ADMIN, DISCORD_TOKEN, READER, TELEGRAM_TOKEN  # noqa: E402
from models import GROUP_B, make_model  # noqa: E402
from telegram_api import TelegramStandIn  # noqa: E402

from bot.gate import ModelGate  # noqa: E402
from bot.leases import token_lease  # noqa: E402
from bot.modelwatch import ModelWatch  # noqa: E402
from bot.retrain import RetrainBusy, RetrainManager  # noqa: E402
from bot.settings import SettingsError, check_shards, load_settings, parse_shard_ids  # noqa: E402
from engine.recommender import EngineHolder  # noqa: E402
from engine.shelf import open_shelves  # noqa: E402

FAKE_TRAINER = Path(__file__).parent / "standins" / "fake_trainer.py"


def trainer(sleep: float = 0.0):
    def command(extra_likes: Path, models_dir: Path, extra_negatives: Path | None = None) -> list[str]:
        return [sys.executable, str(FAKE_TRAINER), "--models-dir", str(models_dir), "--extra-likes", str(extra_likes),
                "--mode", "ok", "--flavour", "b", "--sleep", str(sleep)]
    return command


@pytest.fixture
def models(tmp_path):
    make_model(tmp_path / "models", "20250101-000000-a", "a", metric=0.30)
    return tmp_path / "models"


class Process:
    """What one `rarereads serve` process holds: its store connection, gate, engine and watch."""

    def __init__(self, models: Path, location: str):
        self.store = open_shelves(location, pool_size=2)
        self.gate = ModelGate(models, self.store)
        engine, _ = self.gate.choose_engine()
        self.holder = EngineHolder(engine)
        self.retrain = RetrainManager(self.holder, self.store, models, gate=self.gate, trainer_command=trainer(0.5),
                                      progress_interval=0)
        self.watch = ModelWatch(self.holder, self.gate, interval=0.05, paused=lambda: self.retrain.running)


async def until(condition, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("waited in vain")


def test_shard_ranges():
    assert parse_shard_ids("0-3") == (0, 1, 2, 3) and parse_shard_ids("0,2, 5-6") == (0, 2, 5, 6)
    assert parse_shard_ids("") is None and parse_shard_ids(",") is None
    with pytest.raises(ValueError, match="ranges"):
        parse_shard_ids("a-b")
    for shards, count, message in [((0, 1), None, "need the shard count"), ((4, 9), 8, "0 to 7"),
                                   (None, 0, "at least 1")]:
        with pytest.raises(ValueError, match=message):
            check_shards(shards, count)
    settings = load_settings({"RAREREADS_DISCORD_SHARDS": "4-7", "RAREREADS_DISCORD_SHARD_COUNT": "8"})
    assert (settings.discord.shards, settings.discord.shard_count) == ((4, 5, 6, 7), 8)
    with pytest.raises(SettingsError, match="RAREREADS_DISCORD_SHARDS"):
        load_settings({"RAREREADS_DISCORD_SHARDS": "4-9", "RAREREADS_DISCORD_SHARD_COUNT": "8"})


def test_serve_refuses_shards_it_cannot_run_in_one_line(models, tmp_path, capsys):
    from bot.serve import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--env-file", "/nonexistent", "--shards", "0-9", "--shard-count", "4"])
    assert run(args) == 2
    err = capsys.readouterr().err
    assert "shards are numbered 0 to 3" in err and len(err.strip().splitlines()) == 1


def test_an_accepted_retrain_reaches_every_process(models, store_location):
    one, two = Process(models, store_location), Process(models, store_location)
    # A third process that sees the models folder before the new folder is whole there (a lagging copy).
    lagging_dir = models.parent / "lagging"
    shutil.copytree(models, lagging_dir)
    three = Process(lagging_dir, store_location)
    result = asyncio.run(one.retrain.retrain(requested_by="telegram:1"))
    assert result.swapped and one.holder.current.version.endswith("-b"), result.message
    new = one.holder.current.version
    assert two.watch.check() is True and two.holder.current.version == new  # loaded, checked, swapped
    answer = two.holder.current.recommend([two.holder.current.resolve("Solaris")], k=3, rarity="any")
    assert {p.work.id for p in answer.picks} <= GROUP_B
    assert one.watch.check() is False  # the process that retrained serves it already
    shutil.copytree(models / new, lagging_dir / new)
    (lagging_dir / new / "index.bin").write_bytes(b"\0" * 64)  # half-copied: unreadable here
    assert three.watch.check() is False and three.holder.current.version == "20250101-000000-a"
    assert f"{new} is accepted but cannot be loaded here" in three.watch.problem
    assert "20250101-000000-a keeps serving" in three.watch.problem
    shutil.rmtree(lagging_dir / new)
    shutil.copytree(models / new, lagging_dir / new)  # the copy completes
    three.watch.retry = 0
    assert three.watch.check() is True and three.holder.current.version == new and three.watch.problem is None
    for process in (one, two, three):
        process.store.close()


def test_one_retrain_at_a_time_across_processes(models, store_location):
    one, two = Process(models, store_location), Process(models, store_location)

    async def both():
        first = asyncio.create_task(one.retrain.retrain())
        await asyncio.sleep(0.3)  # the first holds the store's retrain lease now
        with pytest.raises(RetrainBusy, match="another rarereads process"):
            await two.retrain.retrain()
        return await first

    assert asyncio.run(both()).swapped
    assert one.store.lease_holder("retrain") is None  # released when it ended
    assert asyncio.run(two.retrain.retrain()).swapped  # and then the next one may run
    for process in (one, two):
        process.store.close()


def test_two_serve_runs_split_the_discord_shards_and_one_runs_telegram(models, store_location, capsys):
    from bot.serve import serve

    async def main():
        discord_api = await DiscordStandIn(DISCORD_TOKEN).start()
        telegram_api = await TelegramStandIn(TELEGRAM_TOKEN).start()
        old_base, discord.http.Route.BASE = discord.http.Route.BASE, discord_api.base
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(discord_api.gateway)
        env = {"RAREREADS_DISCORD_TOKEN": DISCORD_TOKEN, "RAREREADS_DISCORD_TEST_GUILD_ID": str(GUILD_ID),
               "RAREREADS_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "RAREREADS_TELEGRAM_BASE_URL": telegram_api.root,
               "RAREREADS_TELEGRAM_ADMINS": str(ADMIN), "RAREREADS_MODELS_DIR": str(models),
               "RAREREADS_DB": store_location, "RAREREADS_RATE_LIMIT": "off"}
        stops = [asyncio.Event(), asyncio.Event()]
        runs = []
        try:
            for shard, stop in enumerate(stops):
                settings = load_settings({**env, "RAREREADS_DISCORD_SHARDS": str(shard),
                                          "RAREREADS_DISCORD_SHARD_COUNT": "2"})
                runs.append(asyncio.create_task(serve(settings, stop=stop)))
                await until(lambda: len(discord_api.shards) > shard or runs[-1].done())  # one after the other
                assert not runs[-1].done(), f"serve {shard} ended: {runs[-1].result()}"
            assert sorted(discord_api.shards) == [[0, 2], [1, 2]]
            answers = []
            for shard in (0, 1):  # each shard's server is answered, by the process that runs that shard
                payload = discord_api.command(READER, "recommend", {"title": "Solaris"},
                                              guild_id=discord_api.guild_on_shard(shard, 2))
                await discord_api.dispatch(payload)
                answers.append((await discord_api.reply_to(payload, timeout=20)).text)
            telegram_api.send_text(READER, "/status")
            telegram_api.send_text(ADMIN, "/status")
            status = await telegram_api.wait_for("sendMessage", lambda c: "Uptime" in c.params.get("text", ""), timeout=20)
            for stop in stops:
                stop.set()
            codes = await asyncio.wait_for(asyncio.gather(*runs), 20)
            return answers, status.params["text"], codes, [c.method for c in telegram_api.calls]
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
            await telegram_api.stop()
            await discord_api.stop()

    answers, status, codes, telegram_calls = asyncio.run(main())
    assert codes == [0, 0]
    assert all("Readers who loved Solaris" in text for text in answers)
    assert telegram_calls.count("deleteWebhook") <= 1 and telegram_calls.count("setMyCommands") == 1  # one runner
    err = capsys.readouterr().err
    assert "Telegram: another rarereads process" in err and "runs in one process only" in err
    assert "--only discord" in err and TELEGRAM_TOKEN not in err
    assert "Discord shards here: 0 of 2" in status and "Telegram: runs in this process" in status
    store = open_shelves(store_location)
    assert store.lease_holder(token_lease("telegram", TELEGRAM_TOKEN)) is None  # given back at shutdown
    store.close()
