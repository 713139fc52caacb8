"""Service replies, the terminal chat end to end (commands piped in), and `rarereads recommend`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.replies import KINDS
from bot.service import SORRY, Service
from engine.recommender import Engine, EngineHolder
from engine.shelf import open_shelves
from test_engine import make_model_folder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model_folder(tmp_path_factory.mktemp("models") / "20240101T000000Z-test")


@pytest.fixture
def service(model, tmp_path):
    shelves = open_shelves(tmp_path / "shelves.sqlite")
    yield Service(EngineHolder(Engine.from_folder(model)), shelves, default_rarity="balanced")
    shelves.close()


def test_recommend_a_title(service):
    reply = service.handle_text("local:ana", "/recommend dnue k=3")
    assert reply.kind == "recommendations"
    assert len(reply.recommendations.picks) == 3
    assert reply.recommendations.query[0].title == "Dune"
    assert "Readers who loved Dune" in reply.text and "loved by" in reply.text
    for pick in reply.recommendations.picks:  # each pick's page on the line under it
        assert f"· {pick.reason}\n   {pick.work.url}\n" in reply.text + "\n"
    bare = service.handle_text("local:ana", "Dune")  # a bare title works too
    assert bare.kind == "recommendations"


def test_choices_then_a_number(service):
    reply = service.handle_text("local:ana", "/recommend Silence rarity=any")
    assert reply.kind == "choices" and len(reply.choices) == 2
    assert "1." in reply.text and "2." in reply.text
    assert service.handle_text("local:bob", "1").kind == "info"  # bob has nothing pending
    assert service.handle_text("local:ana", "7").kind == "error"
    picked = service.handle_text("local:ana", "2")
    assert picked.kind == "recommendations"
    assert picked.recommendations.query[0] == reply.choices[1]
    assert picked.recommendations.rarity == "any"
    assert service.handle_text("local:ana", "2").kind == "info"  # used up


def test_shelf_flow(service):
    r = "telegram:42"
    assert "empty" in service.recommend(r).text
    assert service.handle_text(r, "/shelf add dune rating=5").kind == "info"
    assert service.handle_text(r, "/shelf add the hobbit").kind == "info"
    assert service.handle_text(r, "/shelf add the hobbit").text.startswith("Already")
    assert service.handle_text(r, "/shelf add dune rating=9").kind == "error"
    shelf = service.handle_text(r, "/shelf")
    assert shelf.kind == "shelf" and [e.title for e in shelf.entries] == ["Dune", "The Hobbit"]
    assert shelf.entries[0].rating == 5 and shelf.pages == 1
    recs = service.handle_text(r, "/recommend k=5")
    assert recs.kind == "recommendations"
    picked = {p.work.title for p in recs.recommendations.picks}
    assert not picked & {"Dune", "The Hobbit"}
    assert {w.title for w in recs.recommendations.query} == {"Dune", "The Hobbit"}
    # One title: books already on the shelf are left out too.
    assert "The Hobbit" not in {p.work.title for p in service.recommend(r, "Lud-in-the-Mist", count=10, rarity="any")
                                .recommendations.picks}
    assert service.handle_text(r, "/shelf remove hobbit").kind == "info"
    assert service.handle_text(r, "/shelf remove 5").kind == "error"
    assert service.shelves.count(r) == 1
    assert service.handle_text(r, "/shelf clear").kind == "confirm"
    assert service.shelves.count(r) == 1
    assert service.handle_text(r, "/shelf clear yes").kind == "info"
    assert service.shelves.count(r) == 0


def test_forget_needs_confirmation(service):
    service.shelf_add("discord:7", "Solaris")
    assert service.forget("discord:7").kind == "confirm"
    assert service.shelves.count("discord:7") == 1
    assert service.handle_text("discord:7", "/forget yes").kind == "info"
    assert service.shelves.count("discord:7") == 0


def test_book(service):
    reply = service.handle_text("local:ana", "/book solaris")
    assert reply.kind == "book" and reply.work.title == "Solaris"
    assert "Stanislaw Lem" in reply.text and reply.neighbours
    assert reply.text.splitlines()[1] == reply.work.url  # its page, under its name



@pytest.mark.parametrize("line", ["", "   ", "x" * 10_000, "🙂🙂🙂", "/nope", "/recommend zzqqxx vvkk",
                                  "**bold** <b>hi</b>", "'; DROP TABLE entries; --", "/recommend Dune k=abc",
                                  "/recommend Dune rarity=weird", "/shelf add", "/shelf remove x", "/book",
                                  "/shelf frobnicate", "<script>alert(1)</script>", "\x00\x01", "/"])
def test_bad_input_gets_a_short_friendly_answer(service, line):
    reply = service.handle_text("local:ana", line)
    assert reply.kind in KINDS
    assert reply.text and len(reply.text) < 400
    assert "Traceback" not in reply.text and reply.text != SORRY


def test_unexpected_errors_are_caught(service, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(service.holder.current, "recommend", boom)
    reply = service.handle_text("local:ana", "/recommend Dune")
    assert (reply.kind, reply.text) == ("error", SORRY)
    assert "internal detail" not in reply.text
    assert "internal detail" in caplog.text


def test_help_lists_the_commands(service):
    text = service.handle_text("local:ana", "/help").text
    for command in ("/recommend", "/book", "/shelf", "/forget", "rare", "deep"):
        assert command in text


def _cli(*args, stdin="", env_extra=None, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "rarereads", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_chat_end_to_end(model, tmp_path):
    commands = "/recommend dune k=2\n/shelf add solaris\n/shelf\n/recommend silence\n1\n🙂\n/quit\n"
    run = _cli("chat", "--model", str(model), "--db", str(tmp_path / "s.sqlite"), stdin=commands)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "rarereads" in out and "/recommend" in out  # welcome with examples
    assert "Readers who loved Dune" in out and "\n   https://openlibrary.org/" in out  # a link under each pick
    assert "Added Solaris" in out and "1. Solaris" in out
    assert "Which silence do you mean?" in out and "Readers who loved Silence" in out
    assert "Traceback" not in out + run.stderr


def test_chat_uses_the_newest_model_in_the_models_dir(model, tmp_path):
    run = _cli("chat", "--db", str(tmp_path / "s.sqlite"), stdin="/recommend hobbit k=1\n",
               env_extra={"RAREREADS_MODELS_DIR": str(model.parent)})
    assert run.returncode == 0, run.stderr
    assert "Readers who loved The Hobbit" in run.stdout


def test_chat_takes_the_models_folder_as_a_flag_as_serve_takes_it_as_a_setting(model, tmp_path):
    """`rarereads chat` had no flag for the models folder; the flag and RAREREADS_MODELS_DIR are one setting."""
    run = _cli("chat", "--models-dir", str(model.parent), "--db", str(tmp_path / "s.sqlite"),
               stdin="/recommend hobbit k=1\n", env_extra={"RAREREADS_MODELS_DIR": str(tmp_path / "nothing-here")})
    assert run.returncode == 0, run.stderr
    assert "Readers who loved The Hobbit" in run.stdout and f"(model {model.name}," in run.stdout


def test_a_bad_setting_stops_the_chat_in_one_line_without_its_value(model, tmp_path):
    run = _cli("chat", "--model", str(model), "--db", str(tmp_path / "s.sqlite"), stdin="/quit\n",
               env_extra={"RAREREADS_IMPORT_MAX_ROWS": "123456:not-a-number-but-a-token"})
    assert run.returncode == 2 and "RAREREADS_IMPORT_MAX_ROWS" in run.stderr
    assert "not-a-number" not in run.stderr and "Traceback" not in run.stderr


def test_oneshot_json(model):
    run = _cli("recommend", "Dune", "--json", "-k", "3", "--rarity", "balanced", "--model", str(model))
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["query"] == {"title": "Dune", "author": "Frank Herbert", "likes": 60, "also": [],
                             "url": "https://openlibrary.org/isbn/0441172660"}
    assert len(data["recommendations"]) == 3
    for rec in data["recommendations"]:
        assert set(rec) >= {"title", "author", "year", "likes", "score", "reason", "url"}
        assert rec["url"].startswith("https://openlibrary.org/")
        assert rec["title"] != "Dune"


def test_oneshot_unknown_title(model):
    run = _cli("recommend", "Hyprion Cantos of the Moon Zebras", "--model", str(model))
    assert run.returncode == 1
    assert "did you mean" in run.stderr.lower() and "Hyperion" in run.stderr
    assert run.stdout == ""


def test_oneshot_json_is_json_for_every_outcome(model, tmp_path):
    """Ambiguous and unknown titles, a title that is no title, no model and bad arguments: one JSON object each."""
    ambiguous = _cli("recommend", "silence", "--json", "--model", str(model))
    assert ambiguous.returncode == 1
    answer = json.loads(ambiguous.stdout)
    assert answer["error"] == "ambiguous" and answer["query"] == "silence"
    assert {c["author"] for c in answer["choices"]} == {"Shusaku Endo", "Anne Ghost"}
    assert all(c["url"].startswith("https://openlibrary.org/") for c in answer["choices"])

    unknown = _cli("recommend", "Hyprion Cantos of the Moon Zebras", "--json", "--model", str(model))
    assert unknown.returncode == 1
    answer = json.loads(unknown.stdout)
    assert answer["error"] == "not_found" and "Hyperion" in [w["title"] for w in answer["did_you_mean"]]

    blank = _cli("recommend", "!!!", "--json", "--model", str(model))
    assert blank.returncode == 1 and json.loads(blank.stdout)["error"] == "invalid"

    missing = _cli("recommend", "Dune", "--json", "--model", str(tmp_path / "nothing-here"))
    assert missing.returncode == 2 and json.loads(missing.stdout)["error"] == "no_model"

    for bad in (["-k", "0"], ["-k", "many"], ["--rarity", "loud"]):
        run = _cli("recommend", "Dune", "--json", *bad, "--model", str(model))
        assert run.returncode == 2, bad
        assert json.loads(run.stdout)["error"] == "usage", bad


def test_oneshot_text_gives_each_pick_its_link(model):
    run = _cli("recommend", "Dune", "-k", "2", "--model", str(model))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Readers who loved Dune")
    assert lines[1].startswith("1. ") and lines[2].startswith("   https://openlibrary.org/")
    assert lines[3].startswith("2. ") and lines[4].startswith("   https://openlibrary.org/")


def test_chat_reads_bytes_that_are_not_utf8_and_never_echoes_control_characters(model, tmp_path):
    stdin = (b"/shelf add solaris\n\xff\xfe\xfa not utf-8 \xe9t\xe9\n/recommend \x1b[31mdune\x1b[0m k=2\x00\n"
             b"/book \x1b]0;pwned\x07hobbit\n/quit\n")
    run = subprocess.run([sys.executable, "-m", "rarereads", "chat", "--model", str(model), "--db",
                          str(tmp_path / "s.sqlite")], input=stdin, capture_output=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8:strict"})
    out = run.stdout.decode("utf-8", errors="replace")
    assert run.returncode == 0 and b"Traceback" not in run.stderr, run.stderr.decode(errors="replace")[-800:]
    assert "Readers who loved Dune" in out and "The Hobbit" in out
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out and "pwned" not in out


def test_control_characters_are_never_stored(tmp_path):
    from engine.results import Work

    store = open_shelves(tmp_path / "s.sqlite")
    store.add("local:a", Work(0, "Solaris", "Lem\x00", 1961, 4, key="solaris|lem"), named_title="Sol\x1b[31maris\x00\x07")
    [entry] = store.entries("local:a")
    store.close()
    assert (entry.title, entry.author) == ("Solaris", "Lem")


def test_a_short_list_says_why(service):
    """When the rules leave fewer picks than asked for, the answer says so, and how to look wider."""
    reply = service.handle_text("local:ana", "/recommend Dune k=25")
    assert 0 < len(reply.recommendations.picks) < 25
    assert f"Only {len(reply.recommendations.picks)} picks for Dune" in reply.text and "rarity=balanced" in reply.text
    full = service.handle_text("local:ana", "/recommend Dune k=2")
    assert len(full.recommendations.picks) == 2 and "Only" not in full.text
