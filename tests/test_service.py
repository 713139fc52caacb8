"""The platform-neutral service on the tiny stand-in model: shelves, choices, one engine per request."""
from __future__ import annotations

import pytest

from bot.service import Service
from engine.recommender import EngineHolder
from engine.shelf import open_shelves

R = "telegram:7"



def _titles(service, reader=R):
    return [e.title for e in service.shelves.entries(reader)]


def test_remove_takes_off_only_a_book_that_is_on_the_shelf_and_named(tiny_service):
    """`/shelf remove Dune` removed Dune Messiah when only that was on the shelf."""
    service = tiny_service
    service.handle_text(R, "/shelf add Dune Messiah")
    asked = service.handle_text(R, "/shelf remove Dune")
    assert _titles(service) == ["Dune Messiah"]
    assert "Dune Messiah" in asked.text and [w.title for w in asked.choices] == ["Dune Messiah"]
    assert service.handle_text(R, "1").kind == "info" and _titles(service) == []  # the number confirms it
    service.handle_text(R, "/shelf add Dune Messiah")
    service.handle_text(R, "/shelf add Dune")
    service.handle_text(R, "/shelf remove Dune")
    assert _titles(service) == ["Dune Messiah"]
    service.handle_text(R, "/shelf remove dune messiah")
    assert _titles(service) == []


def test_remove_by_number_title_and_author_or_a_typo_that_asks(tiny_service):
    service = tiny_service
    for title in ("Solaris", "Pavane", "Stoner"):
        service.handle_text(R, f"/shelf add {title}")
    assert service.handle_text(R, "/shelf remove 2").kind == "info"
    assert _titles(service) == ["Solaris", "Stoner"]
    service.handle_text(R, "/shelf remove Solaris by Stanislaw Lem")
    assert _titles(service) == ["Stoner"]
    assert service.handle_text(R, "/shelf remove The Hobbit").kind == "error"
    service.handle_text(R, "/shelf add The Left Hand of Darkness")
    service.handle_text(R, "/shelf remove left hand of darkness")  # without its article it still names it
    assert _titles(service) == ["Stoner"]
    service.handle_text(R, "/shelf remove stonr")  # a typo the catalogue reads as the book on the shelf
    assert _titles(service) == []


def test_a_choice_prompt_ends_when_the_reader_sends_anything_else(tiny_service):
    """After '/shelf add The Road' and another command, a stray '1' still added 'The Road'."""
    service = tiny_service
    asked = service.handle_text(R, "/shelf add The Road")
    assert asked.kind == "choices"
    service.handle_text(R, "/help")
    assert service.handle_text(R, "1").kind == "info"
    assert _titles(service) == []
    service.handle_text(R, "/shelf add The Road")
    assert service.handle_text(R, "1").kind == "info" and len(_titles(service)) == 1  # right after, it works


class CountingHolder(EngineHolder):
    """Counts reads of `.current`: a request must read it once, or two models can mix in one answer."""

    reads = 0

    @property
    def current(self):
        self.reads += 1
        return self._engine


@pytest.mark.parametrize("line", ["/recommend Solaris", "/book Solaris", "/recommend", "/shelf add Pavane",
                                  "Solaris", "/recommend The Road", "/shelf remove Pavane"])
def test_one_request_reads_the_serving_engine_once(tiny_engine, tmp_path, line):
    shelves = open_shelves(tmp_path / "shelves.sqlite")
    holder = CountingHolder(tiny_engine)
    service = Service(holder, shelves)
    try:
        service.handle_text(R, "/shelf add Pavane")
        holder.reads = 0
        reply = service.handle_text(R, line)
        assert reply.kind != "error" or "find" in reply.text, reply.text
        assert holder.reads == 1, (line, holder.reads)
        if reply.kind == "choices":
            holder.reads = 0
            service.handle_text(R, "1")
            assert holder.reads == 1
    finally:
        shelves.close()


def test_a_book_the_model_could_not_use_is_named(tmp_path):
    """A work can sit on a shelf without a vector (issue 9); the answer says it was not used."""
    from models import TITLES, make_model

    from engine.recommender import Engine

    trumpet = TITLES.index("The Hearing Trumpet")
    engine = Engine.from_folder(make_model(tmp_path / "models", "20250101-000000-a", "a", untrained=(trumpet,)))
    shelves = open_shelves(tmp_path / "shelves.sqlite")
    service = Service(EngineHolder(engine), shelves)
    try:
        alone = service.handle_text(R, "/recommend The Hearing Trumpet")
        assert alone.kind == "info" and "Too few readers liked The Hearing Trumpet" in alone.text
        service.handle_text(R, "/shelf add The Hearing Trumpet")
        service.handle_text(R, "/shelf add Solaris")
        picks = service.handle_text(R, "/recommend")
        assert picks.kind == "recommendations"
        assert "Not used: The Hearing Trumpet" in picks.note and picks.note in picks.text
    finally:
        shelves.close()


def test_lang_goes_to_the_engine_and_a_wrong_one_is_answered(tiny_service, monkeypatch):
    engine = tiny_service.holder.current
    asked = []
    recommend = engine.recommend
    monkeypatch.setattr(engine, "recommend", lambda *a, **kw: asked.append(kw.get("lang")) or recommend(*a, **kw))
    assert tiny_service.handle_text(R, "/recommend Solaris lang=any").kind == "recommendations"
    tiny_service.handle_text(R, "/recommend Solaris lang=DE")
    tiny_service.handle_text(R, "/recommend Solaris")
    assert asked == ["any", "de", None]
    wrong = tiny_service.handle_text(R, "/recommend Solaris lang=klingon")
    assert wrong.kind == "error" and "any, " in wrong.text and asked == ["any", "de", None]


ALSO = "also: Hamlet — Cliffs Notes (1990)"


def _hamlet_service(tmp_path, **model):
    """A Service on the stand-in model with Shakespeare's Hamlet and a study guide of it (`models.HAMLETS`)."""
    from models import BOOKS, HAMLETS, make_model

    from engine.recommender import Engine

    engine = Engine.from_folder(make_model(tmp_path / "models", "20250101-000000-a", "a", books=BOOKS + HAMLETS, **model))
    return Service(EngineHolder(engine), open_shelves(tmp_path / "shelves.sqlite"))


def test_a_title_the_evidence_decides_is_answered_and_the_others_named_once(tmp_path):
    """Issue 9: of two equally matching works, the book (the other is a study guide of it) is the
    answer, and one "also: ..." line names the other: under the picks, the book, the shelf addition."""
    service = _hamlet_service(tmp_path)
    try:
        picks = service.handle_text(R, "/recommend hamlet")
        assert picks.kind == "recommendations" and picks.recommendations.query[0].author == "William Shakespeare"
        assert picks.note == ALSO and picks.text.endswith(ALSO) and picks.text.count("also:") == 1
        book = service.handle_text(R, "/book hamlet")
        assert book.kind == "book" and book.work.author == "William Shakespeare"
        assert book.note == ALSO and book.text.count(ALSO) == 1
        assert book.text.splitlines()[:3] == [book.work.label, book.work.url, ALSO]  # right under the book
        added = service.handle_text(R, "/shelf add hamlet")
        assert added.text.startswith("Added Hamlet — William Shakespeare") and added.text.endswith(ALSO)
        assert [e.author for e in service.shelves.entries(R)] == ["William Shakespeare"]
        named = service.handle_text(R, "/book Hamlet by William Shakespeare")  # nothing else matches as well
        assert named.work.author == "William Shakespeare" and named.note == "" and "also:" not in named.text
    finally:
        service.shelves.close()


def test_the_also_line_stays_when_the_answer_has_no_picks(tmp_path):
    from models import BOOKS

    service = _hamlet_service(tmp_path, untrained=(len(BOOKS),))  # the play, without a vector
    try:
        alone = service.handle_text(R, "/recommend hamlet")
        assert alone.kind == "info" and "Too few readers liked Hamlet" in alone.text and alone.text.endswith(ALSO)
    finally:
        service.shelves.close()


def test_numbered_choices_are_the_most_liked_first(tiny_service):
    asked = tiny_service.handle_text(R, "/recommend The Road")  # McCarthy's (listed first) and London's
    assert asked.kind == "choices" and len(asked.choices) == 2
    likes = [w.likes for w in asked.choices]
    assert likes == sorted(likes, reverse=True) and likes[0] > likes[1]
    assert asked.text.splitlines()[1] == f"1. {asked.choices[0].label}"
