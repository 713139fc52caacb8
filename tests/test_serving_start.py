"""A serving start that nothing can crash (issue 16 §3), end to end through the command line, and
the commands that only look writing nothing. Files are damaged as a hostile operator would."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import BOOKS, make_model

from bot.gate import ModelGate
from bot.modelwatch import ModelWatch
from engine.errors import GateRecordUnreadable
from engine.recommender import Engine, EngineHolder
from engine.shelf import is_url, open_shelves

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # shaped like a Telegram bot token (not a real one)


def rarereads(*args, stdin="/quit\n", env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rarereads", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def rehash(folder: Path) -> None:
    """Recompute the manifest's sizes and hashes, as someone covering their tracks would."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for name in manifest["files"]:
        data = (folder / name).read_bytes()
        manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    path.write_text(json.dumps(manifest))


def damage_entry_point(folder: Path) -> None:
    """Make the HNSW index's entry point an element without upper levels: hnswlib reads its
    (missing) level-1 links at the first search."""
    from test_ann import _graph

    data = bytearray((folder / "index.bin").read_bytes())
    _, levels, _ = _graph(bytes(data))
    assert levels.max() > 0  # the catalogue is big enough to have upper levels
    data[52:56] = int((levels == 0).argmax()).to_bytes(4, "little")  # enterpoint_node, after maxlevel
    (folder / "index.bin").write_bytes(bytes(data))
    rehash(folder)


@pytest.fixture
def models(tmp_path):
    make_model(tmp_path / "models", "20250101-000000-a", "a", metric=0.30)
    return tmp_path / "models"


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text[-1500:]
    return lines[0]


# --- a damaged HNSW index -------------------------------------------------------------------------

def test_a_damaged_index_is_a_refusal_and_the_accepted_folder_serves(models, tmp_path):
    """The index's header damaged in place, hashes recomputed: `chat` segfaulted at every start and
    never fell back to the accepted folder."""
    db = str(tmp_path / "shelves.sqlite")
    first = rarereads("chat", "--db", db, env={"RAREREADS_MODELS_DIR": str(models)})  # accepts a
    assert first.returncode == 0, first.stderr
    many = BOOKS + [(f"Book number {i}", f"Author {i}", 1990, "") for i in range(600)]
    damaged = make_model(models, "20250201-000000-b", "b", metric=0.40, books=many)  # better on paper
    damage_entry_point(damaged)
    run = rarereads("chat", "--db", db, stdin="/recommend Solaris k=2 rarity=any\n/quit\n",
                    env={"RAREREADS_MODELS_DIR": str(models)})
    assert run.returncode == 0, (run.returncode, run.stderr[-1500:])
    assert "(model 20250101-000000-a" in run.stdout and "Readers who loved Solaris" in run.stdout
    assert "20250201-000000-b refused" in run.stderr and "entry point" in run.stderr
    pinned = rarereads("chat", "--db", db, "--model", str(damaged))  # pinned: one line, no traceback
    assert pinned.returncode == 1 and "entry point" in one_line(pinned.stderr)
    store = open_shelves(db)
    assert not store.verdicts()["20250201-000000-b"].accepted  # judged once, for every process
    store.close()


# --- the gate's record --------------------------------------------------------------------------

def _accept_a_reject_b(models: Path, store) -> Path:
    gate = ModelGate(models, store)
    gate.choose_engine()  # accepts a
    worse = make_model(models, "20250201-000000-b", "b", metric=0.05)
    assert gate.choose_engine()[0].version == "20250101-000000-a"  # b refused: worse
    assert not gate.verdict(worse.name).accepted
    return worse


def test_a_damaged_gate_json_is_not_anything_goes(models, tmp_path):
    """An unreadable gate.json forgot every verdict, and the newest folder, even a rejected one, served."""
    (models / "gate.json").write_text(json.dumps({"folders": {
        "20250101-000000-a": {"accepted": True, "why": "the first model here"},
        "20250201-000000-b": {"accepted": False, "why": "worse"}}})[:40])  # cut short: unreadable
    make_model(models, "20250201-000000-b", "b", metric=0.05)
    env = {"RAREREADS_MODELS_DIR": str(models), "RAREREADS_DB": str(tmp_path / "shelves.sqlite")}
    chat = rarereads("chat", env=env)
    assert chat.returncode == 1 and "nothing new is accepted" in one_line(chat.stderr) and "gate.json" in chat.stderr
    recommend = rarereads("recommend", "Solaris", env=env)
    assert recommend.returncode == 2 and "nothing new is accepted" in one_line(recommend.stderr)


def test_a_readable_gate_json_moves_into_the_store_once(models, tmp_path):
    (models / "gate.json").write_text(json.dumps({"folders": {
        "20250101-000000-a": {"accepted": True, "why": "the first model here"},
        "20250201-000000-b": {"accepted": False, "why": "worse"}}}))
    make_model(models, "20250201-000000-b", "b", metric=0.50)  # better on paper, but refused back then
    env = {"RAREREADS_MODELS_DIR": str(models), "RAREREADS_DB": str(tmp_path / "shelves.sqlite")}
    assert json.loads(rarereads("recommend", "Solaris", "--json", env=env).stdout)["model"] == "20250101-000000-a"
    chat = rarereads("chat", env=env)
    assert "(model 20250101-000000-a" in chat.stdout, chat.stderr
    assert not (models / "gate.json").exists() and (models / "gate.json.moved").exists()
    (models / "gate.json").write_text("{garbage")  # the store holds the record now: a stray file changes nothing
    assert "(model 20250101-000000-a" in rarereads("chat", env=env).stdout


def test_a_damaged_record_in_the_store_keeps_the_model_serving(models, store_location, request):
    store = open_shelves(store_location)
    _accept_a_reject_b(models, store)
    holder = EngineHolder(Engine.from_folder(models / "20250101-000000-a"))
    watch = ModelWatch(holder, ModelGate(models, store), interval=0)
    if is_url(store_location):
        request.getfixturevalue("pg_server").sql(store_location, "DROP TABLE verdicts")
    else:
        with __import__("sqlite3").connect(store_location) as conn:
            conn.execute("DROP TABLE verdicts")
    with pytest.raises(GateRecordUnreadable, match="nothing new is accepted"):
        ModelGate(models, store).choose_engine()  # a start: one clear line, not the newest folder
    assert watch.check() is False and holder.current.version == "20250101-000000-a"  # a running bot: keeps its model
    assert "unreadable" in watch.problem and "20250101-000000-a keeps serving" in watch.problem
    store.close()


def test_recommend_writes_no_verdict_and_no_store(models, tmp_path):
    db = tmp_path / "var" / "shelves.sqlite"
    env = {"RAREREADS_MODELS_DIR": str(models), "RAREREADS_DB": str(db)}
    run = rarereads("recommend", "Solaris", "--json", "-k", "2", "--rarity", "any", env=env)
    assert run.returncode == 0 and json.loads(run.stdout)["model"] == "20250101-000000-a", run.stderr
    assert not db.parent.exists() and not (models / "gate.json").exists()  # no store made, no record written
    store = open_shelves(db)
    _accept_a_reject_b(models, store)
    before = store.verdicts()
    store.close()
    better = make_model(models, "20250301-000000-b", "b", metric=0.50)  # trained by hand, not yet judged
    run = rarereads("recommend", "Solaris", "--json", env=env)
    assert json.loads(run.stdout)["model"] == "20250101-000000-a"  # served is what the record says, no judging
    store = open_shelves(db)
    assert store.verdicts() == before and better.name not in store.verdicts()
    store.close()


# --- secrets in paths -----------------------------------------------------------------------------

def test_a_token_pasted_into_a_path_setting_is_never_printed(models, tmp_path):
    """The "no model folder in ..." error printed RAREREADS_MODELS_DIR in full, token and all."""
    secret_dir = tmp_path / TOKEN
    make_model(secret_dir, "20250101-000000-a", "a", metric=None)
    (secret_dir / "20250101-000000-a" / "index.bin").write_bytes(b"\0" * 10)  # nothing there can serve
    runs = [rarereads("chat", "--db", str(tmp_path / "s.sqlite"), env={"RAREREADS_MODELS_DIR": str(secret_dir)}),
            rarereads("recommend", "Dune", env={"RAREREADS_MODELS_DIR": str(secret_dir),
                                                "RAREREADS_DB": str(tmp_path / "s.sqlite")}),
            rarereads("serve", "--env-file", "/nonexistent", env={
                "RAREREADS_TELEGRAM_TOKEN": "123456:stand-in", "RAREREADS_MODELS_DIR": str(models),
                "RAREREADS_MODEL": TOKEN, "RAREREADS_DB": str(tmp_path / "s.sqlite")}),
            rarereads("serve", "--env-file", "/nonexistent", env={
                "RAREREADS_TELEGRAM_TOKEN": "123456:stand-in", "RAREREADS_MODELS_DIR": str(secret_dir),
                "RAREREADS_DB": str(tmp_path / "s2.sqlite")})]
    for run in runs:
        assert run.returncode in (1, 2) and "Traceback" not in run.stderr, run.stderr[-1500:]
        assert TOKEN not in run.stdout + run.stderr and TOKEN.split(":")[1] not in run.stdout + run.stderr
        assert "not shown" in run.stderr


# --- rarereads import -------------------------------------------------------------------------------

def test_an_import_for_nobody_is_a_usage_error(models, tmp_path):
    from models import goodreads_export

    export = tmp_path / "goodreads_library_export.csv"
    export.write_bytes(goodreads_export([("Dune", "Frank Herbert", "0441172660", 5)]))
    db = tmp_path / "var" / "shelves.sqlite"
    run = rarereads("import", str(export), "--reader", "telegram:", "--db", str(db),
                    env={"RAREREADS_MODELS_DIR": str(models)})
    assert run.returncode == 2 and "--reader" in one_line(run.stderr)
    assert not db.parent.exists()


def test_a_refused_import_creates_no_database(models, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    db = tmp_path / "var" / "shelves.sqlite"
    run = rarereads("import", str(photo), "--db", str(db), env={"RAREREADS_MODELS_DIR": str(models)})
    assert run.returncode == 1 and "Nothing was changed" in one_line(run.stderr)
    assert not db.exists() and not db.parent.exists()
