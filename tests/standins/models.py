"""Tiny model folders written with numpy and the real `write_model_folder` (no torch).

Two "flavours" share one catalogue but point every reader at a different half of it:
flavour "a" recommends only works of `GROUP_A`, flavour "b" only works of `GROUP_B`.
So an answer that mixed two models would be visible at once.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dataset import Works
from engine.modelfolder import write_model_folder

BOOKS = [  # (title, author, year, isbn10[, likes]); without likes, make_model gives each 3 to 6 (Dune 40)
    ("Dune", "Frank Herbert", 1965, "0441172660"),
    ("Solaris", "Stanislaw Lem", 1961, "0156027607"),
    ("The Left Hand of Darkness", "Ursula K. Le Guin", 1969, "0441478123"),
    ("Roadside Picnic", "Arkady Strugatsky", 1972, "1613743416"),
    ("The Dispossessed", "Ursula K. Le Guin", 1974, "0061054887"),
    ("Riddley Walker", "Russell Hoban", 1980, "0253212596"),
    ("The Book of the New Sun", "Gene Wolfe", 1980, "0312890176"),
    ("Engine Summer", "John Crowley", 1979, "0553255339"),
    ("Stand on Zanzibar", "John Brunner", 1968, "0345347870"),
    ("Dhalgren", "Samuel R. Delany", 1975, "0375706682"),
    ("The Embedding", "Ian Watson", 1973, "0575042044"),
    ("Pavane", "Keith Roberts", 1968, "0575070706"),
    ("Dune Messiah", "Frank Herbert", 1969, "0441172695"),
    ("The Peregrine", "J. A. Baker", 1967, "1590170261"),
    ("Stoner", "John Williams", 1965, "1590171993"),
    ("The Summer Book", "Tove Jansson", 1972, "1590172680"),
    ("Memoirs of Hadrian", "Marguerite Yourcenar", 1951, "0374529264"),
    ("The Rings of Saturn", "W. G. Sebald", 1995, "0811214133"),
    ("A Month in the Country", "J. L. Carr", 1980, "0940322927"),
    ("The Tartar Steppe", "Dino Buzzati", 1940, "1567921450"),
    ("Journey by Moonlight", "Antal Szerb", 1937, "1901285561"),
    ("The Leopard", "Giuseppe Tomasi di Lampedusa", 1958, "0375714790"),
    ("Pedro Paramo", "Juan Rulfo", 1955, "0802133908"),
    ("The Hearing Trumpet", "Leonora Carrington", 1974, "1878972111"),
    ("The Road", "Cormac McCarthy", 2006, "0307387895"),  # two works, one title: an ambiguous query
    ("The Road", "Jack London", 1907, "0813512263"),
]
ISBNS = {title: isbn for title, _, _, isbn in BOOKS}
NO_ISBN = ("Lud-in-the-Mist", "Hope Mirrlees", 1926, "")  # a book without an ISBN: its page is a search
N = len(BOOKS)
GROUP_A = frozenset(range(0, N // 2))
GROUP_B = frozenset(range(N // 2, N))
TITLES = [b[0] for b in BOOKS]
# Seven real novels called "Silence": one title more than Discord fits in a row of buttons.
SILENCES = [("Silence", author, year, isbn) for author, year, isbn in (
    ("Shusaku Endo", 1966, "0800871863"), ("Becca Fitzpatrick", 2011, "1442426659"),
    ("Natasha Preston", 2012, "1492618117"), ("Thomas Perry", 2007, "0151012938"),
    ("Erling Kagge", 2016, "1524733237"), ("Michelle Sagara", 2012, "0756407613"),
    ("John Cage", 1961, "0819560286"))]
# One title, a play and a study guide of it: "Hamlet" names the play, and the answer names the guide
# in an "also:" line. The play holds more likes but not 3/4 of them: the guide's kind decides.
HAMLETS = [("Hamlet", "William Shakespeare", 1603, "074347712X", 8), ("Hamlet", "Cliffs Notes", 1990, "0822000814", 6)]


COVERS = "https://covers.example.org/{isbn}.jpg"


def works(books=BOOKS, covers: str = COVERS) -> Works:
    """The catalogue of `books`; each cover is `covers` with the book's ISBN (none without one)."""
    return Works([b[0] for b in books], [b[1] for b in books], np.array([b[2] for b in books], np.int32),
                 [covers.format(isbn=b[3]) if b[3] else "" for b in books], [b[3] for b in books])


def make_model(models_dir: str | Path, name: str, flavour: str = "a", metric: float | None = 0.30,
               books=BOOKS, nan: bool = False, untrained: tuple[int, ...] = (), covers: str = COVERS) -> Path:
    """Write model folder `models_dir/name` of `flavour` ("a" or "b") with `metrics["recall@20"] = metric`
    (the primary figure; None: no figures at all).

    Flavour "a" answers with the first half of `books`, "b" with the second half. `nan`
    writes vectors that are all NaN: a folder that loads but cannot answer. `untrained`
    books (indices) sit in the catalogue without a vector. `covers`: see `works`. A book's
    fifth field, where it has one, is its likes.
    """
    n, dim = len(books), 8
    query = np.zeros((n, dim), np.float32)
    query[:, 0] = 1.0  # every reader looks the same way...
    target = np.zeros((n, dim), np.float32)
    favoured = range(0, n // 2) if flavour == "a" else range(n // 2, n)
    for i in range(n):  # ...and the flavour decides which half answers, in a fixed order
        target[i, 0] = (2.0 - i / n) if i in favoured else -(1.0 + i / n)
        target[i, 1 + i % (dim - 1)] = 0.01
    likes = np.array([3 + (i % 4) for i in range(n)], np.int64)
    likes[0] = 40  # Dune is the one bestseller: the head that `rare` leaves out
    for i, book in enumerate(books):
        if len(book) > 4:
            likes[i] = book[4]
    metrics = {} if metric is None else {"primary": "recall@20", "recall@20": metric}
    if nan:
        query[:] = np.nan
    return write_model_folder(Path(models_dir) / name, works=works(books, covers), likes=likes, query=query, target=target,
                              config={"model": f"tiny-{flavour}"}, metrics=metrics, data_fingerprint=f"tiny-{flavour}",
                              trained=np.array([i not in untrained for i in range(n)]))


def goodreads_export(rows: list[tuple[str, str, str, int]]) -> bytes:
    """A Goodreads "Export Library" CSV with its real columns; rows = (title, author, isbn10, my rating)."""
    header = ("Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,"
              "Binding,Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,"
              "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies")
    lines = [header]
    for n, (title, author, isbn, rating) in enumerate(rows, 1):
        last_first = ", ".join(reversed(author.rsplit(" ", 1))) if " " in author else author
        isbn_cell = f'"=""{isbn}"""' if isbn else '"="""""'
        title_cell = '"' + title.replace('"', '""') + '"'
        lines.append(f'{1000 + n},{title_cell},{author},"{last_first}",,{isbn_cell},"=""""",{rating},4.01,'
                     f'Ace,Paperback,412,2005,1965,2021/03/04,2020/01/02,,,read,,,,1,0')
    return ("\n".join(lines) + "\n").encode("utf-8")
