"""Admin retraining: a fake trainer process, real model folders, the real engine and hot swap."""
from __future__ import annotations

import asyncio
import csv
import sys
import threading
from pathlib import Path

import pytest

from bot.retrain import RetrainBusy, RetrainManager, write_extra_likes
from bot.settings import Schedule
from engine.recommender import Engine, EngineHolder
from engine.shelf import open_shelves

sys.path.insert(0, str(Path(__file__).parent / "standins"))
from models import GROUP_A, GROUP_B, make_model  # noqa: E402

FAKE_TRAINER = Path(__file__).parent / "standins" / "fake_trainer.py"


def trainer(mode: str, flavour: str = "b", sleep: float = 0.0, extra: list[str] = ()):
    def command(extra_likes: Path, models_dir: Path, extra_negatives: Path | None = None) -> list[str]:
        negatives = ["--extra-negatives", str(extra_negatives)] if extra_negatives else []
        return [sys.executable, str(FAKE_TRAINER), "--models-dir", str(models_dir), "--extra-likes", str(extra_likes),
                *negatives, "--mode", mode, "--flavour", flavour, "--sleep", str(sleep), *extra]
    return command


@pytest.fixture
def models_dir(tmp_path):
    make_model(tmp_path / "models", "20250101-000000-a", "a", metric=0.30)
    return tmp_path / "models"


@pytest.fixture
def holder(models_dir):
    return EngineHolder(Engine.from_folder(models_dir / "20250101-000000-a"))


def manager(holder, models_dir, mode="ok", sleep=0.0, extra=(), **kwargs) -> RetrainManager:
    shelves = open_shelves(models_dir.parent / "shelves.sqlite")  # a real SQLite file in tmp_path
    shelves.add("telegram:1", holder.current.resolve("Solaris"), "solaris", 5)
    return RetrainManager(holder, shelves, models_dir, trainer_command=trainer(mode, sleep=sleep, extra=list(extra)),
                          progress_interval=0.0, **kwargs)


def test_better_model_is_swapped_in_while_queries_run(holder, models_dir):
    seen: dict[str, int] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def query_forever():
        while not stop.is_set():
            try:
                engine = holder.current  # read once per request, as the service does
                liked = engine.resolve("Solaris")
                answer = engine.recommend([liked], k=5, rarity="any")
                ids = {p.work.id for p in answer.picks}
                group = GROUP_A if answer.model_version.endswith("-a") else GROUP_B
                assert answer.model_version == engine.version
                assert ids <= group, f"{answer.model_version} answered with {ids}: two models mixed"
                seen[answer.model_version] = seen.get(answer.model_version, 0) + 1
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever broke
                errors.append(exc)
                return

    threads = [threading.Thread(target=query_forever) for _ in range(3)]
    for t in threads:
        t.start()
    progress: list[str] = []

    async def report(text: str) -> None:
        progress.append(text)

    try:
        result = asyncio.run(manager(holder, models_dir, sleep=0.3).retrain(report, requested_by="test"))
        deadline = threading.Event()
        deadline.wait(0.2)  # let the queries run on the new model a little
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert result.swapped, result.message
    assert holder.current.version.startswith("29990101") and holder.current.version.endswith("-b")
    assert (result.old_metric, result.new_metric) == (0.30, 0.33)
    assert "Now serving" in result.message
    assert len(seen) == 2, seen  # both models answered, each on its own
    assert any("epoch" in line for line in progress) and any("1 shelf like" in line for line in progress)


def test_failing_trainer_leaves_the_old_model_serving(holder, models_dir):
    before = holder.current
    result = asyncio.run(manager(holder, models_dir, mode="fail").retrain())
    assert not result.swapped
    assert holder.current is before
    assert "status 3" in result.message and "out of memory" in result.message
    assert "keeps serving" in result.message


def test_worse_model_is_refused(holder, models_dir):
    before = holder.current
    result = asyncio.run(manager(holder, models_dir, mode="worse").retrain())
    assert not result.swapped and holder.current is before
    assert "below 90%" in result.message and before.version in result.message


def test_trainer_that_writes_nothing_is_reported(holder, models_dir):
    result = asyncio.run(manager(holder, models_dir, mode="nothing").retrain())
    assert not result.swapped and "no new model folder" in result.message


def test_one_retrain_at_a_time(holder, models_dir):
    retrain = manager(holder, models_dir, sleep=0.6)

    async def both():
        first = asyncio.create_task(retrain.retrain())
        await asyncio.sleep(0.05)
        assert retrain.running
        with pytest.raises(RetrainBusy):
            await retrain.retrain()
        return await first

    assert asyncio.run(both()).swapped
    assert not retrain.running


def test_schedule_retrains_unattended(holder, models_dir):
    retrain = manager(holder, models_dir)
    outcomes = []

    async def notify(result):
        outcomes.append(result)

    async def main():
        task = asyncio.create_task(retrain.run_schedule(Schedule("test", every=0.01), notify))
        while not outcomes:
            await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(asyncio.wait_for(main(), 20))
    assert outcomes[0].swapped and holder.current.version.endswith("-b")


def test_extra_likes_csv_has_the_trainers_columns(tmp_path, holder):
    engine = holder.current
    dune, solaris = engine.resolve("Dune"), engine.resolve("Solaris")
    rows = write_extra_likes([("telegram:1", dune.key, 5), ("discord:2", solaris.key, None),
                              ("discord:2", "no such|work", 4)], tmp_path / "likes.csv", engine.work_by_key)
    assert rows == 2
    with open(tmp_path / "likes.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert {"reader", "title", "author"} <= set(table[0])  # what `rarereads train --extra-likes` reads
    assert [(r["reader"], r["title"], r["author"]) for r in table] == [
        ("telegram:1", "Dune", "Frank Herbert"), ("discord:2", "Solaris", "Stanislaw Lem")]


def test_models_are_compared_on_the_figure_the_manifest_names_primary():
    """No guessing among metric names: `metrics["primary"]` names the figure, or there is none."""
    from bot.gate import ModelGate
    from engine.manifest import Figure, Manifest

    def manifest(**metrics):
        return Manifest(data_fingerprint="x", n_works=1, n_trained=1, dim=1, metrics=metrics)

    trained = manifest(final_loss=0.2, primary="val_hit@20", **{"val_hit@20": 0.12, "hit@20": 0.5},
                       popularity_baseline={"hit@20": 0.05})
    assert trained.primary == Figure("val_hit@20", 0.12)
    assert trained.figure("popularity_baseline.hit@20") == 0.05
    assert manifest(**{"recall@20": 0.3}).primary is None  # a figure nobody named primary is not taken
    assert manifest(primary="recall@20").primary is None and manifest().primary is None
    gate = ModelGate(".", store=None, min_fraction=0.9)
    assert gate.compare(trained, manifest(primary="val_hit@20", **{"val_hit@20": 0.11}), "a")[0] is True
    assert gate.compare(trained, manifest(primary="val_hit@20", **{"val_hit@20": 0.10}), "a")[0] is False
    ok, why = gate.compare(trained, manifest(primary="recall@20", **{"recall@20": 0.9}), "a")
    assert not ok and "no val_hit@20 figure" in why  # judged on the serving model's primary figure
    assert gate.compare(manifest(), trained, "a") == (True, "the serving model had no figure to compare")


# --- the gate survives a restart -----------------------------------------------------------------

def _restart(models_dir):
    """What `rarereads serve` does at start-up: the folder the gate lets it serve."""
    from bot.gate import ModelGate

    store = open_shelves(models_dir.parent / "shelves.sqlite")
    try:
        return ModelGate(models_dir, store).choose_engine()
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["worse", "fail-after-writing", "unloadable", "nan"])
def test_a_folder_the_gate_refused_is_never_served_after_a_restart(holder, models_dir, mode):
    """After a restart the newest folder won, even one the gate rejected or one that does not load."""
    before = holder.current
    result = asyncio.run(manager(holder, models_dir, mode=mode).retrain())
    assert not result.swapped and holder.current is before, result.message
    assert "keeps serving" in result.message
    newest = sorted(p.name for p in models_dir.iterdir() if p.is_dir())[-1]
    assert newest.startswith("29990101")  # the refused folder is there...
    engine, notes = _restart(models_dir)
    assert engine.version == before.version, notes  # ...and is not what serves after a restart


def test_a_retrain_checks_the_new_model_answers_before_swapping_it_in(holder, models_dir):
    result = asyncio.run(manager(holder, models_dir, mode="nan").retrain())
    assert not result.swapped and "does not work" in result.message


def test_start_up_skips_an_unloadable_folder_and_gates_an_unjudged_one(models_dir, tmp_path):
    from bot.gate import ModelGate

    gate = ModelGate(models_dir, open_shelves(tmp_path / "shelves.sqlite"))
    engine, _ = gate.choose_engine()  # first start: no record yet, the newest folder that loads
    assert engine.version == "20250101-000000-a" and gate.verdict(engine.version).accepted
    broken = make_model(models_dir, "20250201-000000-b", "b", metric=0.40)
    (broken / "index.bin").write_bytes(b"\0" * 10)
    worse = make_model(models_dir, "20250301-000000-b", "b", metric=0.10)  # trained by hand, never gated
    engine, notes = ModelGate(models_dir, gate.store).choose_engine()
    assert engine.version == "20250101-000000-a", notes
    assert not gate.verdict(broken.name).accepted and not gate.verdict(worse.name).accepted
    better = make_model(models_dir, "20250401-000000-b", "b", metric=0.35)
    engine, _ = ModelGate(models_dir, gate.store).choose_engine()
    assert engine.version == better.name and gate.verdict(better.name).accepted


# --- the trainer's process ----------------------------------------------------------------------

def test_a_retrain_that_runs_out_of_time_ends_the_trainer_and_its_children(holder, models_dir, tmp_path):
    import os

    pids = tmp_path / "pids"
    retrain = manager(holder, models_dir, mode="hang", timeout=1.5, extra=["--pid-out", str(pids)])
    result = asyncio.run(retrain.retrain())
    assert not result.swapped and "ran out of time" in result.message
    for pid in map(int, pids.read_text().split()):
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            threading.Event().wait(0.05)
        else:
            raise AssertionError(f"process {pid} outlived the retrain's timeout")


def test_the_trainer_gets_only_the_environment_it_needs(holder, models_dir, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("RAREREADS_TELEGRAM_TOKEN", "123:secret-token-that-must-stay-home")
    monkeypatch.setenv("RAREREADS_DISCORD_TOKEN", "MTIz.secret.discord")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    out = tmp_path / "env.json"
    asyncio.run(manager(holder, models_dir, extra=["--env-out", str(out)]).retrain())
    env = json.loads(out.read_text())
    assert "secret" not in json.dumps(env).lower() and "nope" not in env.values()
    assert env["RAREREADS_MODELS_DIR"] == str(models_dir) and "PATH" in env


def test_not_interested_marks_go_to_the_next_retrain_as_negatives(holder, models_dir):
    retrain = manager(holder, models_dir)
    engine = holder.current
    retrain.shelves.dismiss("telegram:1", engine.resolve("Pavane"))
    retrain.shelves.dismiss("discord:9", engine.resolve("Dune"))
    lines: list[str] = []

    async def report(text: str) -> None:
        lines.append(text)

    result = asyncio.run(retrain.retrain(report))
    assert result.swapped
    assert any("2 not interested" in line for line in lines)
    assert any("read 2 extra negatives: discord:9 Dune; telegram:1 Pavane" in line for line in lines), lines


def test_the_real_trainer_gets_the_negatives_flag_it_takes(tmp_path):
    from bot.retrain import default_trainer_command
    from rarereads.cli import build_parser

    argv = default_trainer_command(tmp_path / "l.csv", tmp_path, tmp_path / "n.csv")
    assert argv[-2:] == ["--extra-negatives", str(tmp_path / "n.csv")]
    assert "--extra-negatives" not in default_trainer_command(tmp_path / "l.csv", tmp_path)
    args = build_parser("train").parse_args(argv[argv.index("train"):])  # the trainer's own parser takes them
    assert (args.extra_likes, args.extra_negatives) == (tmp_path / "l.csv", tmp_path / "n.csv")


def test_a_new_folder_is_not_refused_because_the_old_one_cannot_be_read_any_more(models_dir):
    """An upgrade that changes the model format leaves the accepted folder unreadable."""
    import json

    from bot.gate import ModelGate

    gate = ModelGate(models_dir, open_shelves(models_dir.parent / "shelves.sqlite"))
    gate.choose_engine()  # accepts 20250101-000000-a
    manifest = models_dir / "20250101-000000-a" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 1}))
    make_model(models_dir, "20250201-000000-b", "b", metric=0.33)
    engine, notes = ModelGate(models_dir, gate.store).choose_engine()
    assert engine.version == "20250201-000000-b", notes
    assert not gate.verdict("20250101-000000-a").accepted and gate.verdict("20250201-000000-b").accepted
