"""What a typed title names: one work, the works it could also have named, or a question.

`Titles` reads the catalogue's matcher (`engine.matcher.TitleMatcher`: text likeness with a
small popularity prior) and decides, with what readers did, between works that match about
equally well: the most liked when it stands out, a book over its study aids, one book over
its editions listed apart, a famous book over a thin one titled with its common name; else a
question. The engine (`Engine.lookup`) and so every bot read it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .editions import one_book
from .errors import AmbiguousTitle, BookNotFound, InvalidInput
from .kinds import AID, BOOK
from .matcher import TitleMatcher
from .normalize import digits, drop_article, fold, holds_words, normalize_author, split_alternate
from .results import TitleLookup, TitleMatch, Work

MAX_QUERY_CHARS = 300
NOT_FOUND_BELOW = 68.0  # best match score under which we ask "did you mean"
AMBIGUOUS_WITHIN = 2.5  # other works this close to the best make the title ambiguous
DOMINANT_SHARE = 0.75  # of those works' likes, the share one needs to be the answer anyway
MIN_DOMINANT_LIKES = 3  # and at least this many
# A book whose title holds the typed words ("To Kill a Mockingbird" for "mockingbird") is in the
# running against a work of exactly that title when it has FAMOUS_RATIO times its likes, against
# a lesser match when it has as many, and on its own, with nothing matching well, at FAMOUS_LIKES
# (about the 99th percentile of Book-Crossing works).
FAMOUS_RATIO = 10
THIN_LIKES = 5  # a work of the typed title with more likes than this is the one meant (the 90th percentile is 4)
FAMOUS_LIKES = 30


class Titles:
    """Typed titles to works over one catalogue.

    Args:
        matcher: the catalogue's title matcher.
        work: the `Work` of a work id.
        kind, language: each work's `engine.kinds` kind and language code.
    """

    def __init__(self, matcher: TitleMatcher, work: Callable[[int], Work], kind: np.ndarray, language: np.ndarray):
        self.matcher, self.work, self.kind, self.language = matcher, work, kind, language

    def match(self, query: str, limit: int = 10) -> list[TitleMatch]:
        """Works for a typed title, best first (score 0..100)."""
        return [TitleMatch(self.work(i), score) for i, score in self.matcher.match(query, limit)]

    def lookup(self, query: str) -> TitleLookup:
        """The one work `query` names, and the equally matching works the evidence set aside.

        When several different works match about equally well, the evidence decides: if
        one holds at least `DOMINANT_SHARE` of their likes (*Of Mice and Men* by Steinbeck,
        not a reader's edition with one like; Maguire's *Wicked: The Life and Times of the
        Wicked Witch of the West* for "Wicked", not two romances titled *Wicked*), or it is a
        book and the others are all study aids (`engine.kinds`: study guides, workbooks,
        reference), or they are all editions of one book that the catalogue keeps apart (one
        author, one title before the subtitle, or one spelled a letter apart: "Siddartha", a
        misspelt edition, is in the running for "siddartha" however far below it *Siddhartha*
        matches), the most liked is the answer and the others
        are its `also`; otherwise the title is ambiguous. A book whose main title holds the
        typed words is in the running too where `_famous_bar` lets it ("mockingbird" is *To
        Kill a Mockingbird*, Tevis's *Mockingbird* its `also`; "harry potter" asks among the
        novels); a question keeps the best match among its choices.

        Raises:
            InvalidInput: empty, longer than 300 characters, or without letters or digits.
            BookNotFound: nothing matches well; `candidates` are "did you mean" options.
            AmbiguousTitle: several different works match about equally well and none
                stands out (two books with one title by different authors); `candidates`
                lists them, the most liked first.
        """
        text = " ".join((query or "").split())
        if not text:
            raise InvalidInput("Type a book title, e.g. Dune.")
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(f"That is too long for a title (at most {MAX_QUERY_CHARS} characters).")
        if not any(c.isalnum() for c in text):  # digits count: "1984" is a title
            raise InvalidInput("A title needs letters or digits.")
        matches = self.match(text, limit=10)
        found = bool(matches) and matches[0].score >= NOT_FOUND_BELOW
        if found and self._names_exactly(text, matches[0].work):
            return TitleLookup(matches[0].work)
        # A far better-known book whose title holds the words ("mockingbird", "gatsby"): in the running.
        bar = self._famous_bar(text, matches) if found else FAMOUS_LIKES
        famous = self._holding(text, bar)
        if not found and not famous:
            raise BookNotFound(text, [m for m in matches[:5] if m.score >= 40])
        close, keys = [], set()  # one per work key: a catalogue that lists a work twice names it once
        if found:
            best = matches[0]
            for m in matches:  # the best match's book spelled a letter apart is in the running at any score
                if (m.score >= best.score - AMBIGUOUS_WITHIN or self._one_book(best.work, m.work)) and m.work.key not in keys:
                    keys.add(m.work.key)
                    close.append(m.work)
        for w in famous:
            if w.key not in keys:
                keys.add(w.key)
                close.append(w)
        if len(close) == 1:
            return TitleLookup(close[0])
        close.sort(key=lambda w: -w.likes)  # stable: equally liked ones keep their match order
        leader, others = close[0], close[1:]
        if leader.likes >= max(MIN_DOMINANT_LIKES, DOMINANT_SHARE * sum(w.likes for w in close)) or (
                self.kind[leader.id] == BOOK and all(self.kind[w.id] == AID for w in others)) or all(
                self._one_book(leader, w) for w in others):
            return TitleLookup(leader, tuple(others))
        shown = close[:9]
        if found and matches[0].work not in shown:  # the best match stays a choice among famous holders ("time")
            shown = close[:8] + [matches[0].work]
        raise AmbiguousTitle(text, shown)

    def _holding(self, text: str, likes: float) -> list[Work]:
        """Works with at least `likes` likes whose main title holds the words of `text`, the most liked first."""
        if likes == float("inf"):
            return []
        return [w for w in map(self.work, self.matcher.containing(fold(text)).tolist())
                if w.likes >= likes and holds_words(split_alternate(w.title)[0], fold(text))]

    @staticmethod
    def _famous_bar(text: str, matches: list[TitleMatch]) -> float:
        """Likes a book whose main title holds `text` needs to be in the running against the
        matches: none when `text` is the title or main title of a known work (Garwood's *The
        Secret* stays *The Secret*); FAMOUS_RATIO times theirs when it names only thin works
        (*Mockingbird*, two likes, against *To Kill a Mockingbird*); otherwise the best match's."""
        said = drop_article(digits(fold(text)))
        named = [m.work.likes for m in matches
                 if said in {drop_article(digits(fold(t))) for t in (m.work.title, split_alternate(m.work.title)[0])}]
        if not named:
            return max(MIN_DOMINANT_LIKES, matches[0].work.likes)
        return FAMOUS_RATIO * max(max(named), 1) if max(named) <= THIN_LIKES else float("inf")

    def _one_book(self, a: Work, b: Work) -> bool:
        """`editions.one_book`, in one language: *Der Klient* is Grisham's *The Client* spelled a letter apart,
        and a German reader asked for it."""
        languages = {int(self.language[a.id]), int(self.language[b.id])} - {0}
        return len(languages) <= 1 and one_book(a.title, a.author, b.title, b.author)

    @staticmethod
    def _names_exactly(text: str, work: Work) -> bool:
        """Whether `text` is the work's title and author ("dune by frank herbert", "Dune - Herbert")."""
        folded, title = fold(text), fold(work.title)
        author = fold(work.author)
        if not author or not folded.startswith(title + " "):
            return False
        rest = folded[len(title):].split()
        if rest and rest[0] == "by":
            rest = rest[1:]
        said = " ".join(rest)
        return bool(said) and (said == author or normalize_author(said) == normalize_author(work.author)
                               or (len(rest) == 1 and rest[0] == author.split()[-1]))
