"""Chat input the bot used to take without a word (issue 14): weak title matches, counts and pages out of range.

Each was answered as if it were fine: `/shelf add ' OR 1=1 --` shelved *Either/Or*, `/shelf add a`
a title the catalogue holds garbled, `k=-1` and `k=0` gave one pick, `page=999` the last page
while `page=0` was refused, `/shelf 0` and `/shelf 99` showed some page. Ranges come from the
command table (`bot.commands`).
"""
from __future__ import annotations

import pytest

from bot.commands import COUNT, MAX_PAGES, command
from bot.service import Service
from engine.recommender import Engine, EngineHolder
from engine.shelf import open_shelves

R = "telegram:7"
EXTRA = [("Either/Or 1: Kierkegaard's Writings, Vol. 3", "Soren Kierkegaard", 1988, "0691020418"),
         ("\ufffda", "Stephen King", 2000, "2226034536"),  # "Ça", read in the wrong encoding once
         ("Q", "Luther Blissett", 1999, "0099276143")]


@pytest.fixture
def service(tmp_path):
    from models import BOOKS, make_model

    engine = Engine.from_folder(make_model(tmp_path / "models", "20250101-000000-a", "a", books=BOOKS + EXTRA))
    shelves = open_shelves(tmp_path / "shelves.sqlite")
    yield Service(EngineHolder(engine), shelves)
    shelves.close()


@pytest.mark.parametrize("line", ["/shelf add ' OR 1=1 --", "/shelf add a"])
def test_a_weak_title_match_asks_before_anything_goes_on_the_shelf(service, line):
    asked = service.handle_text(R, line)
    assert asked.choices and "Did you mean" in asked.text and "\n1. " in asked.text, asked.text
    assert service.shelves.count(R) == 0
    picked = service.handle_text(R, "1")  # the reader's answer does add the book
    assert picked.text.startswith("Added") and service.shelves.count(R) == 1


@pytest.mark.parametrize("line", ["/recommend ' OR 1=1 --", "' OR 1=1 --", "/book a", "/recommend a"])
def test_a_weak_title_match_asks_for_recommend_and_book_alike(service, line):
    asked = service.handle_text(R, line)
    assert asked.choices and "Did you mean" in asked.text, asked.text
    assert asked.kind != "recommendations" and "Readers who loved" not in asked.text


@pytest.mark.parametrize("line,title", [("/shelf add dnue", "Dune"), ("/shelf add q", "Q"),
                                        ("/shelf add left hand of darkness", "The Left Hand of Darkness"),
                                        ("/shelf add Dune by Herbert", "Dune")])
def test_a_typo_or_a_whole_short_title_still_goes_on_at_once(service, line, title):
    added = service.handle_text(R, line)
    assert added.text.startswith(f"Added {title} — "), added.text
    assert [e.title for e in service.shelves.entries(R)] == [title]


@pytest.mark.parametrize("k", ["-1", "0", str(COUNT.high + 1), "abc", "2.5"])
def test_a_count_out_of_range_is_refused_with_the_range(service, k):
    reply = service.handle_text(R, f"/recommend Solaris k={k}")
    assert reply.kind == "error" and f"from 1 to {COUNT.high}" in reply.text, reply.text


@pytest.mark.parametrize("k", ["1", "3"])
def test_a_count_in_range_gives_that_many_picks(service, k):
    reply = service.handle_text(R, f"/recommend Solaris k={k} rarity=any")
    assert reply.kind == "recommendations" and len(reply.recommendations.picks) == int(k)


@pytest.mark.parametrize("page", ["0", str(MAX_PAGES + 1), "999", "x"])
def test_a_page_of_picks_out_of_range_is_refused_alike(service, page):
    reply = service.handle_text(R, f"/recommend Solaris page={page}")
    assert reply.kind == "error" and f"from 1 to {MAX_PAGES}" in reply.text, reply.text
    assert service.handle_text(R, "/recommend Solaris page=2 k=2 rarity=any").kind == "recommendations"


@pytest.mark.parametrize("line", ["/shelf 0", "/shelf 2", "/shelf 99", "/shelf want 5"])
def test_a_shelf_page_out_of_range_is_refused_with_the_pages_there(service, line):
    service.handle_text(R, "/shelf add Solaris")
    service.shelf_import(R, _want_export())
    reply = service.handle_text(R, line)
    assert reply.kind == "error" and ("has 1 page" in reply.text or "from 1." in reply.text), reply.text
    assert service.handle_text(R, "/shelf 1").kind == "shelf"
    for n in range(11):  # eleven books more: two pages
        service.shelves.add(R, service.holder.current.work(n), named_title="x")
    assert "from 1 to 2" in service.handle_text(R, "/shelf 3").text


def test_an_option_of_another_command_is_said_not_read_as_a_title(service):
    reply = service.handle_text(R, "/shelf add Solaris k=5")
    assert reply.kind == "error" and "k=" in reply.text and service.shelves.count(R) == 0


def test_each_range_refused_is_the_table_s(service):
    """The refusals quote the table, so a range changed there changes what the bot says."""
    assert command("recommend").option("count") is COUNT
    rating = command("shelf add").option("rating")
    reply = service.handle_text(R, f"/shelf add Solaris rating={rating.high + 1}")
    assert reply.text == f"A rating is a whole number from {rating.low} to {rating.high}."


def _want_export() -> bytes:
    from models import goodreads_export

    export = goodreads_export([("Pavane", "Keith Roberts", "", 0)])
    return export.replace(b",read,,,,1,0", b",to-read,,,,1,0")
