"""The generated query set: titles typed as people type them, each naming its work, and how
an answer is judged (a twin that nothing in the query tells apart counts)."""
from __future__ import annotations

import random

QUERY_KINDS = ("exact", "typo", "missing word", "wrong case", "accents", "title by author", "typo by author")
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "wrong"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustrnl") + word[i + 1:]


def _with_typo(title: str, rng: random.Random) -> str:
    words = title.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return title
    i = rng.choice(long)
    words[i] = _typo(words[i], rng)
    return " ".join(words)


class _OneWordShort:
    """Which catalogue titles a query could be with one word left out (folded, distinct titles).

    Titles are kept sorted forwards and, reversed, backwards, so the titles that begin with
    the words before the gap or end with the words after it are two bisections away.
    """

    def __init__(self, titles: list[str]):
        from engine.matcher import fold_many

        self.titles = sorted(set(fold_many(titles)))
        self.exact = set(self.titles)
        self.backwards = sorted(t[::-1] for t in self.titles)

    @staticmethod
    def _starting(keys: list[str], prefix: str) -> list[str]:
        import bisect

        lo = bisect.bisect_left(keys, prefix)
        return keys[lo:bisect.bisect_left(keys, prefix + "\uffff", lo=lo)]

    def sources(self, words: list[str]) -> set[str]:
        """Titles that are `words` (folded) with one more word somewhere."""
        out = set()
        for gap in range(len(words) + 1):
            head, tail = " ".join(words[:gap]), " ".join(words[gap:])
            heads = self._starting(self.titles, head + " ") if head else None
            tails = self._starting(self.backwards, (" " + tail)[::-1]) if tail else None
            if heads is None or (tails is not None and len(tails) < len(heads)):
                found = [t[::-1] for t in tails]
            else:
                found = heads
            for title in found:
                middle = title[len(head) + 1 if head else 0:len(title) - (len(tail) + 1 if tail else 0)]
                if (middle and " " not in middle and (not head or title.startswith(head + " "))
                        and (not tail or title.endswith(" " + tail))):
                    out.add(title)
        return out


def _missing_word(title: str, rng: random.Random, short: _OneWordShort | None = None) -> str | None:
    """`title` less one word (never the first); None when every such query is ambiguous.

    A query that is another work's whole title, or that several titles give when a word is
    left out ("The Atlas of Jericho" from "The Ragged Atlas of Jericho" and "The Red Atlas of
    Jericho"), has no single right answer, so another word is tried instead.
    """
    words = title.split()
    if len(words) < 3:
        return title
    gaps = list(range(1, len(words)))
    rng.shuffle(gaps)
    if short is None:
        return " ".join(words[:gaps[0]] + words[gaps[0] + 1:])
    from engine.normalize import fold

    for gap in gaps:
        text = " ".join(words[:gap] + words[gap + 1:])
        folded = fold(text)
        if folded and folded not in short.exact and short.sources(folded.split()) == {fold(title)}:
            return text
    return None


def _accents(title: str, rng: random.Random) -> str:
    return "".join(ACCENTS[c] if c in ACCENTS and rng.random() < 0.3 else c for c in title)


def make_queries(titles: list[str], authors: list[str], n: int, seed: int = 0,
                 dropped: dict | None = None) -> list[dict]:
    """`n` queries, as people type them, for works drawn uniformly; each names its work.

    A "missing word" query with no single right answer is left out (see `_missing_word`);
    `dropped`, when given, counts the queries left out per kind.
    """
    rng = random.Random(seed)
    queries = []
    short = None
    ids = rng.sample(range(len(titles)), k=min(n, len(titles)))
    for i, work in enumerate(ids):
        kind = QUERY_KINDS[i % len(QUERY_KINDS)]
        title, author = titles[work], authors[work]
        if kind == "typo":
            text = _with_typo(title, rng)
        elif kind == "missing word":
            short = short or _OneWordShort(titles)
            text = _missing_word(title, rng, short)
            if text is None:
                if dropped is not None:
                    dropped[kind] = dropped.get(kind, 0) + 1
                continue
        elif kind == "wrong case":
            text = rng.choice((title.lower(), title.upper(), title.swapcase()))
        elif kind == "accents":
            text = _accents(title, rng)
        elif kind == "title by author":
            text = f"{title} by {author}" if author else title
        elif kind == "typo by author":
            text = f"{_with_typo(title, rng).lower()} {(author.split() or [''])[-1]}"
        else:
            text = title
        queries.append({"text": text, "work": work, "kind": kind, "with_author": "author" in kind})
    return queries


def judge(top: int | None, q: dict, titles, authors) -> tuple[bool, bool]:
    """(same work, same work or an indistinguishable twin) for a query's top hit.

    A twin has the same folded title, and the same folded author when the query names one:
    nothing in the query can tell them apart.
    """
    from engine.normalize import fold

    if top is None:
        return False, False
    strict = top == q["work"]
    same = fold(titles[top]) == fold(titles[q["work"]]) and (
        not q["with_author"] or fold(authors[top]) == fold(authors[q["work"]]))
    return strict, strict or same
