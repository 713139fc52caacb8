"""What kind of book a work is, so a novel's readers are not handed a study guide.

Book-Crossing has no genres, but its titles (and publishers, where the catalogue has
them) say plainly when a work is not a book one reads through: "Cliffs Notes on
Hamlet", "Anxiety and Phobia Workbook", "Collins Gem Thesaurus", "Dinosaur Board
Books: Stegosaurus". `KINDS`:

- `book`: everything else (novels, memoirs, essays, ...);
- `aid`: study guides, workbooks, reference (dictionaries, encyclopedias, atlases,
  handbooks), exam preparation, "for Dummies" manuals, cookbooks;
- `children`: board, picture, activity, colouring, sticker, pop-up and lift-the-flap books.

The engine recommends a work of another kind than the books asked about only when
the evidence for it is strong (`engine.rules.KIND_SUPPORT` co-readers; where genre profiles are known, `engine.rules` asks more); the
evaluation measures what that removes (BENCHMARKS.md). Stored per work in the model
folder's catalogue (`kind` column) by the trainer; numpy and re only.
"""
from __future__ import annotations

import re
from typing import Iterable

import numpy as np

KINDS: tuple[str, ...] = ("book", "aid", "children")
BOOK, AID, CHILDREN = range(len(KINDS))

_AID = re.compile(
    r"\b(study guides?|cliff'?s? ?notes|sparknotes|spark notes|monarch notes|barron'?s book notes|york notes|"
    r"coles notes|brodies notes|maxnotes|novel units|bookrags|gradesaver|lekt[uü]rehilfen|k[oö]nigs erl[aä]uterungen|"
    r"literature guide|workbooks?|"
    r"work book|dictionar(y|ies)|encyclopa?edi(a|as)|thesaurus|atlas of|road atlas|handbook|for dummies|"
    r"idiot'?s guide|test prep|exam (guide|prep|cram)|practice tests?|textbook|cookbook|cook book|"
    r"\d[\d,]* (recipes|names for baby|baby names)|lesson plans?|teacher'?s (guide|edition|resource)|"
    r"study (companion|aid)|reader'?s (guide|companion) to|grammar (book|workbook)|phrase ?book)\b", re.I)
_AID_AUTHOR = re.compile(r"\b(cliffs notes|sparknotes|spark notes|barron'?s|monarch|editors of)\b", re.I)
_CHILDREN = re.compile(
    r"\b(board books?|picture books?|activity books?|colou?ring books?|sticker books?|pop-?up books?|"
    r"lift[- ]the[- ]flap|touch and feel|bath book|my first (book|abc|words|colors|colours)|"
    r"abc board|counting book)\b", re.I)
_AID_PUBLISHER = re.compile(r"\b(cliffs notes|spark (publishing|educational)|barron'?s|research & education|"
                            r"kaplan|princeton review|for dummies|idg books|alpha books)\b", re.I)
_CHILDREN_PUBLISHER = re.compile(r"\b(golden books|little golden|dk (publishing|children)|board book)\b", re.I)


def work_kind(title: str, author: str = "", publisher: str = "") -> int:
    """The kind (index into `KINDS`) of one work from its title, author and publisher."""
    if _CHILDREN.search(title) or (publisher and _CHILDREN_PUBLISHER.search(publisher)):
        return CHILDREN
    if _AID.search(title) or _AID_AUTHOR.search(author or "") or (publisher and _AID_PUBLISHER.search(publisher)):
        return AID
    return BOOK


def kind_codes(titles: Iterable[str], authors: Iterable[str], publishers: Iterable[str] | None = None) -> np.ndarray:
    """uint8 kind of each work."""
    titles, authors = list(titles), list(authors)
    publishers = list(publishers) if publishers is not None else [""] * len(titles)
    return np.array([work_kind(t, a, p) for t, a, p in zip(titles, authors, publishers)], np.uint8)
