"""The conversation, independent of any chat platform.

`Service` turns what a reader asks into `Reply` objects: a `kind`, a plain `text` (ready
for the terminal and Telegram) and structured fields for adapters that build richer
messages (Discord embeds, Telegram keyboards). The terminal chat and Telegram use
`handle_text`; Discord's slash commands call the typed methods (`recommend`, `book`,
`shelf_add`, ...); a pressed button's payload goes to `act`.

Two rules hold for every public method:

- it reads `holder.current` once and uses that engine throughout, so a hot swap never
  mixes two models in one answer;
- it ends the reader's pending "which one did you mean?" question, except `choose`,
  which answers it: a prompt ends when the reader sends anything else.

Everything here is synchronous and thread-safe: async adapters call it through a thread.
No method raises on user input: bad input gets a short friendly reply, and anything
unexpected is logged with its traceback and answered with a generic apology.

Readers are `"<platform>:<user id>"` strings, as in `engine.shelf`.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput
from engine.imports import DNF, READING, WANT as WANTED, ExportError, read_export
from engine.language import LANGUAGES, parse_language
from engine.normalize import normalize_author, normalize_title, split_subtitle, work_key
from engine.rarity import DEFAULT_RARITY, RARITIES
from engine.recommender import EngineHolder
from engine.results import Recommendation, RecommendationList, TitleLookup, Work
from engine.shelf import READ, WANT, ShelfEntry, ShelfStore

from .dialects import dialect_of

log = logging.getLogger(__name__)

KINDS = ("recommendations", "choices", "shelf", "book", "info", "error", "confirm", "help")
PAGE_SIZE = 10
MAX_LINE = 2000  # characters of one chat message we read at all
MAX_IMPORT_ROWS = 20_000  # books in one import (RAREREADS_IMPORT_MAX_ROWS)
MAX_PAGES = 10  # "More" pages of one list (the engine re-scores a few hundred candidates)
IMPORT_MATCH_SCORE = 80  # a row without a known ISBN needs a title match this good
CHOICE_TTL = 600  # seconds a "which one did you mean?" list stays answerable
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."


@dataclass
class Reply:
    """One answer to the reader.

    Attributes:
        kind: One of `KINDS`: 'recommendations', 'choices' (answer with a number),
            'shelf', 'book', 'info', 'error', 'confirm' (repeat with yes to go on), 'help'.
        text: The whole answer as plain text (no markup); each pick and a looked-up book
            come with their page (`Work.url`) on a line of their own.
        recommendations: For 'recommendations': the engine's answer.
        choices: For 'choices' (and "did you mean" errors): the works to pick from (number i
            picks `choices[i - 1]`).
        entries: For 'shelf': this page's books.
        work: For 'book' (and after a shelf change): the book concerned.
        neighbours: For 'book': rare books its readers loved.
        page: For 'shelf' and 'recommendations': this page, from 0.
        pages: For 'shelf': number of pages.
        offset: For 'recommendations': how many picks earlier pages held (pick i is number
            offset + i).
        note: A line shown under the answer: for 'recommendations' under the list (tips, books
            not used), for 'book' under the book; always in `text` too (under the list, the
            text's last lines). When a typed title named one of several equally matching works,
            it holds the line naming the others ("also: Hamlet — Cliffs Notes (1990)"), also
            under an 'info' reply (a shelf addition, no picks).
        matched: For a shelf import: titles added.
        unmatched: For a shelf import: titles not found in the catalogue.
        imported: For a shelf import: the whole `ImportReport` (row by row, and why).
        action: For 'choices' and 'confirm': what picking a candidate or saying yes does, as a
            button payload ({"do": "add", "rating": 5}, {"do": "clear"}); the candidate's key is
            added per button. For 'recommendations': the payload of the next page (None when
            there is none). For 'shelf': {"shelf": READ or WANT}.
    """

    kind: str
    text: str
    recommendations: RecommendationList | None = None
    choices: list[Work] = field(default_factory=list)
    entries: list[ShelfEntry] = field(default_factory=list)
    work: Work | None = None
    neighbours: list[Recommendation] = field(default_factory=list)
    page: int = 0
    pages: int = 0
    offset: int = 0
    note: str = ""
    matched: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    action: dict | None = None
    imported: "ImportReport | None" = None


def _entry(method):
    """A public command: it ends the reader's pending question, and never raises (logged, apology)."""
    @functools.wraps(method)
    def wrapper(self, reader, *args, **kwargs):
        try:
            self.shelves.set_pending(reader, None)
            return method(self, reader, *args, **kwargs)
        except Exception:  # noqa: BLE001 - the one catch-all: users never see tracebacks
            log.exception("%s failed", method.__name__)
            return Reply("error", SORRY)
    return wrapper


def _short(text: str, limit: int = 60) -> str:
    """User text echoed back: one line, bounded."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def book_lines(work: Work, neighbours: list[Recommendation], name=None, esc=lambda text: text, note: str = "") -> list[str]:
    """A /book answer line by line: the book, its `note` (the reply's), how many readers liked it,
    its cover, its neighbours.

    Plain text by default: the book's label, then its page. An adapter passes `name`, which
    writes a book its own way (a title linked to its page), and `esc`, which escapes the rest.
    """
    lines = [name(work)] if name else [work.label, work.url]
    if note:
        lines.append(esc(note))
    lines.append(esc(f"Liked by {_plural(work.likes, 'reader')} in the training data."))
    if work.cover_url:
        lines.append(esc(f"Cover: {work.cover_url}"))
    if neighbours:
        lines.append(esc("Rare books its readers loved: ")
                     + "; ".join(name(p.work) if name else p.work.label for p in neighbours))
    return lines


def _noted(reply: Reply, line: str) -> Reply:
    """`reply` with `line` under it: the last line of its text and of its `note`."""
    if line:
        reply.text = f"{reply.text}\n{line}"
        reply.note = "\n".join(filter(None, [reply.note, line]))
    return reply


def _shelf_work(engine, entry: ShelfEntry) -> Work:
    """The catalogue's work for a shelf entry, or one made from the entry (a retrain may drop works)."""
    return engine.work_by_key(entry.work_key) or Work(-1, entry.title, entry.author, 0, 0, key=entry.work_key)


class Service:
    """Commands of the rare-book bot for any platform.

    Args:
        holder: The engine in service (swappable during retrains).
        shelves: Readers' shelves.
        default_rarity: Rarity used when a request names none.
        max_k: Most recommendations one request may ask for.
        max_import_rows: Most books one import may hold.
    """

    def __init__(self, holder: EngineHolder, shelves: ShelfStore, default_rarity: str = DEFAULT_RARITY, max_k: int = 25,
                 max_import_rows: int = MAX_IMPORT_ROWS):
        if default_rarity not in RARITIES:
            raise ValueError(f"unknown rarity {default_rarity!r}")
        self.holder, self.shelves = holder, shelves
        self.default_rarity, self.max_k, self.max_import_rows = default_rarity, max_k, max_import_rows

    # --- recommendations --------------------------------------------------------------

    @_entry
    def recommend(self, reader: str, title: str | None = None, k: int = 10, rarity: str | None = None,
                  page: int = 0, lang: str | None = None, scope: str | None = None) -> Reply:
        """Rare books for one title, or with no title for the reader's shelf.

        Args:
            reader: Who asks.
            title: A book they loved; None for their shelf (in a group with shared shelves:
                the shelves its members shared with `/shelf share`).
            k: Picks per page.
            rarity: A name from `engine.rarity.RARITIES`; None for the default.
            page: Which page of picks, from 0 ("More" asks for the next one).
            lang: "any", a language code such as "en", or None for the seed's language.
            scope: The group the request came from, or None in a private chat.
        """
        engine = self.holder.current
        request = self._request(k, rarity, page, lang)
        if isinstance(request, Reply):
            return request
        if title is not None and title.strip():
            found = self._resolve(engine, reader, title, {"do": "recommend", **request})
            if isinstance(found, Reply):
                return found
            return _noted(self._recommend_works(engine, reader, [found.work], request), found.also_line)
        return self._recommend_shelves(engine, reader, request, scope)

    def _request(self, k, rarity: str | None, page=0, lang: str | None = None) -> dict | Reply:
        """A recommendation request's options, checked: {"k", "rarity", "page", "lang"}."""
        rarity = (rarity or self.default_rarity).strip().lower()
        if rarity not in RARITIES:
            return Reply("error", f"I know these rarities: {', '.join(RARITIES)}.")
        try:
            k, page = max(1, min(int(k or 10), self.max_k)), max(0, min(int(page or 0), MAX_PAGES - 1))
        except (TypeError, ValueError):
            return Reply("error", f"The number of books should be 1 to {self.max_k}.")
        try:  # engine.language holds the names: None (the books' own), "any", or a code
            lang = parse_language(lang)
        except ValueError:
            return Reply("error", f"I know these languages: any, {', '.join(LANGUAGES[1:])} (without a "
                                  "language, the picks are in the language of the books you named).")
        return {"k": k, "rarity": rarity, "page": page, "lang": lang}

    def _recommend_shelves(self, engine, reader: str, request: dict, scope: str | None) -> Reply:
        """Recommendations for the reader's shelf, or in a group for the shelves its members share."""
        sharers = self.shelves.sharers(scope) if scope else []
        readers = sharers or [reader]
        entries = [e for r in readers for e in self.shelves.entries(r)]
        works = list({w.key: w for w in (engine.work_by_key(e.work_key) for e in entries) if w is not None}.values())
        if not works:
            if sharers:
                return Reply("info", "None of the shared books are in the current catalogue. Try /recommend <title>.")
            hint = "Your shelf is empty. Tell me a book you loved: /recommend Dune, or /shelf add Dune."
            return Reply("info", hint if not entries else
                         "None of the books on your shelf are in the current catalogue. Try /recommend <title>.")
        about = (f"the {_plural(len(works), 'book')} {_plural(len(sharers), 'member')} shared here" if sharers else
                 f"the {_plural(len(works), 'book')} on your shelf")
        tip = "" if sharers or not scope else "Book club: /shelf share adds your shelf to this group's picks."
        more = {"do": "shelf_recs", "scope": scope} if sharers else {"do": "shelf_recs"}
        return self._recommend_works(engine, reader, works, request, about=about, for_readers=readers + [reader],
                                     more=more, tip=tip)

    def _recommend_works(self, engine, reader: str, works: list[Work], request: dict, *, about: str = "",
                         for_readers: list[str] | None = None, more: dict | None = None, tip: str = "") -> Reply:
        """One page of picks for `works`, leaving out what `for_readers` read, want or refused."""
        k, rarity, page = request["k"], request["rarity"], request["page"]
        # Never back: books on either shelf (read or wanted) and books the reader said no to.
        excluded = self.shelves.known_keys(for_readers or [reader])
        # Pages come from one longer list: the engine's answer is deterministic for one model.
        result = engine.recommend(works, k=k * (page + 1), rarity=rarity, exclude=excluded, lang=request.get("lang"))
        result.picks = result.picks[k * page:]
        about = about or works[0].title
        unused = [w.title for w in result.unused]
        if unused and len(unused) == len(works):  # the model knows nothing about any of them yet
            them = "it" if len(unused) == 1 else "them"
            return Reply("info", f"Too few readers liked {_listing(unused)} for me to recommend from {them} yet. "
                                 "Tell me another book you loved.", recommendations=result)
        if unused:
            tip = "\n".join(filter(None, [tip, f"Not used: {_listing(unused)} (too few readers liked "
                                                f"{'it' if len(unused) == 1 else 'them'} for me to learn from yet)."]))
        if not result.picks:
            say = dialect_of(reader)
            milder = list(RARITIES)[:list(RARITIES).index(rarity)][::-1][:2]  # the settings before this one
            tip = f" Try {' or '.join(say.option('rarity', name) for name in milder)}." if milder else ""
            text = (f"That is all I have at {say.option('rarity', rarity)} for {about}." if page else
                    f"I found nothing {rarity} enough for {about}.{tip}")
            return Reply("info", text, recommendations=result)
        language = f", {dialect_of(reader).option('lang', request['lang'])}" if request.get("lang") else ""
        lines = [f"Readers who loved {about} also loved ({rarity}{language}{f', page {page + 1}' if page else ''}):"]
        for i, pick in enumerate(result.picks, k * page + 1):
            lines.append(f"{i}. {pick.work.label} · {pick.reason}\n   {pick.work.url}")
        if tip:
            lines.append(tip)
        next_page = None
        if len(result.picks) == k and page + 1 < MAX_PAGES:
            next_page = {**(more or {"do": "recommend", "key": works[0].key}), **request, "page": page + 1}
        return Reply("recommendations", "\n".join(lines), recommendations=result, page=page,
                     offset=k * page, action=next_page, note=tip)

    @_entry
    def book(self, reader: str, title: str) -> Reply:
        """One book: author, year, cover, likes, and a few rare books its readers loved."""
        engine = self.holder.current
        found = self._resolve(engine, reader, title, {"do": "book"})
        if isinstance(found, Reply):
            return found
        return self._book(engine, found.work, found.also_line)

    def _book(self, engine, work: Work, note: str = "") -> Reply:
        neighbours = engine.recommend([work], k=5, rarity=self.default_rarity).picks
        return Reply("book", "\n".join(book_lines(work, neighbours, note=note)), work=work, neighbours=neighbours,
                     note=note)

    # --- shelf ------------------------------------------------------------------------

    @_entry
    def shelf(self, reader: str, page: int = 0, shelf: str = READ) -> Reply:
        """One page of the reader's shelf (`shelf=WANT`: their want-to-read list)."""
        total = self.shelves.count(reader, shelf=shelf)
        name = "shelf" if shelf == READ else "want-to-read list"
        if not total:
            empty = ("Your shelf is empty. Add a book you loved: /shelf add Dune" if shelf == READ else
                     "Your want-to-read list is empty. Imports fill it with the books you marked to read.")
            return Reply("shelf", empty, pages=0)
        pages = math.ceil(total / PAGE_SIZE)
        page = max(0, min(int(page), pages - 1))
        entries = self.shelves.entries(reader, offset=page * PAGE_SIZE, limit=PAGE_SIZE, shelf=shelf)
        lines = [f"Your {name} ({_plural(total, 'book')}), page {page + 1} of {pages}:"]
        for i, e in enumerate(entries, page * PAGE_SIZE + 1):
            stars = f" ({e.rating}/5)" if e.rating else ""
            lines.append(f"{i}. {e.title} — {e.author}{stars}" if e.author else f"{i}. {e.title}{stars}")
        if page + 1 < pages:
            say = dialect_of(reader)
            lines.append(say.next_page.format(page=page + 2, command=say.shelf_commands[shelf]))
        return Reply("shelf", "\n".join(lines), entries=entries, page=page, pages=pages, action={"shelf": shelf})

    @_entry
    def shelf_add(self, reader: str, title: str, rating: int | None = None) -> Reply:
        """Put a book on the shelf (rating 1..5 optional)."""
        if rating is not None:
            try:
                rating = int(rating)
            except (TypeError, ValueError):
                rating = 0
            if not 1 <= rating <= 5:
                return Reply("error", "A rating is a whole number from 1 to 5.")
        engine = self.holder.current
        found = self._resolve(engine, reader, title, {"do": "add", "rating": rating})
        if isinstance(found, Reply):
            return found
        return _noted(self._add(reader, found.work, rating), found.also_line)

    def _add(self, reader: str, work: Work, rating: int | None) -> Reply:
        # A typed query may hold typos; the catalogue's title is the edition to show.
        # (Imports keep the edition title from the reader's own library.)
        new = self.shelves.add(reader, work, named_title=work.title, rating=rating)
        count = self.shelves.count(reader)
        verb = "Added" if new else "Already on your shelf:"
        return Reply("info", f"{verb} {work.label}. Your shelf has {_plural(count, 'book')}.", work=work)

    @_entry
    def shelf_remove(self, reader: str, title: str) -> Reply:
        """Take a book off the shelf: one named by its number in /shelf, its title, or title and author.

        Only a book that is on the shelf and named is removed; a title that names none (or
        several) gets a question with the shelf's closest books as choices.
        """
        entries = self.shelves.entries(reader)
        if not entries:
            return Reply("info", "Your shelf is already empty.")
        title = (title or "").strip()
        if not title:
            return Reply("error", "Which book? /shelf remove <title or number>")
        if title.isdigit():
            n = int(title)
            if not 1 <= n <= len(entries):
                return Reply("error", f"Pick a number from 1 to {len(entries)} (see /shelf).")
            return self._remove(reader, entries[n - 1].work_key, entries[n - 1].title)
        engine = self.holder.current
        named = _named_entries(entries, title)
        if not named:  # the catalogue may know the book by another spelling ("dnue")
            try:
                key = engine.resolve(title).key
            except (InvalidInput, BookNotFound, AmbiguousTitle):
                key = None
            named = [e for e in entries if e.work_key == key]
        if len(named) == 1:
            return self._remove(reader, named[0].work_key, named[0].title)
        close = named or _closest_entries(entries, title)
        if not close:
            return Reply("error", f"I don't see {_short(title)} on your shelf. /shelf lists it.")
        choices = [_shelf_work(engine, e) for e in close]
        lead = (f"Which {_short(title)} do you mean?" if named else
                f"{_short(title)} is not on your shelf. Did you mean: {'; '.join(w.label for w in choices)}?")
        return self._ask(reader, lead, choices, {"do": "remove"})

    def _remove(self, reader: str, key: str, title: str) -> Reply:
        self.shelves.remove(reader, key)
        return Reply("info", f"Removed {title}. Your shelf has {_plural(self.shelves.count(reader), 'book')}.")

    @_entry
    def shelf_clear(self, reader: str, confirm: bool = False) -> Reply:
        """Empty the shelf; without `confirm` it only asks."""
        count = self.shelves.count(reader)
        if not count:
            return Reply("info", "Your shelf is already empty.")
        if not confirm:
            return Reply("confirm", f"This removes all {_plural(count, 'book')} from your shelf. "
                                    + dialect_of(reader).confirm.format(command="shelf clear"), action={"do": "clear"})
        self.shelves.clear(reader)
        return Reply("info", f"Done: removed {_plural(count, 'book')}.")

    @_entry
    def shelf_import(self, reader: str, data: bytes) -> Reply:
        """Import a Goodreads or StoryGraph export (the file's bytes): read books to the shelf,
        to-read ones to the want-to-read list; all of it in one transaction, or nothing."""
        try:
            export = read_export(bytes(data or b""), max_rows=self.max_import_rows)
        except ExportError as exc:
            return Reply("error", f"I couldn't import that file. {exc}. Nothing was changed.")
        engine = self.holder.current
        report = match_export(engine, export)
        new, known = self.shelves.add_many(reader, [(work, row.title, row.rating or None, shelf)
                                                    for row, work, shelf, _ in report.stored])
        read = sum(shelf == READ for _, _, shelf, _ in report.stored)
        parts = [f"{_plural(read, 'book')} read"] + ([f"{len(report.stored) - read} to read"]
                                                       if len(report.stored) > read else [])
        lines = [f"Imported {_plural(len(report.stored), 'book')} from your {export.source} export "
                 f"({', '.join(parts)}); {new} new, {known} already on your shelf."]
        if report.unmatched:
            shown = "; ".join(_short(row.title, 50) for row, _ in report.unmatched[:10])
            more = f" and {len(report.unmatched) - 10} more" if len(report.unmatched) > 10 else ""
            lines.append(f"Not in my catalogue ({len(report.unmatched)}): {shown}{more}.")
        skipped = [f"{n} {what}" for n, what in ((report.duplicates, "listed twice"),
                                                 (report.reading, "being read"),
                                                 (report.dnf, "not finished"),
                                                 (export.untitled, "without a title")) if n]
        if skipped:
            lines.append(f"Left out: {', '.join(skipped)}.")
        return Reply("info", "\n".join(lines), matched=[work.title for _, work, _, _ in report.stored],
                     unmatched=[row.title for row, _ in report.unmatched], imported=report)

    @_entry
    def share(self, reader: str, scope: str | None, on: bool = True) -> Reply:
        """Book-club mode: share (or stop sharing) the reader's shelf with the group `scope`."""
        if scope is None:
            return Reply("info", "Share your shelf from a group chat: /shelf share there adds your books to "
                                 "that group's /recommend (book-club mode).")
        changed = self.shelves.share(scope, reader, on)
        members = len(self.shelves.sharers(scope))
        if on:
            verb = "Your shelf is now shared with this group" if changed else "Your shelf is already shared here"
            return Reply("info", f"{verb}: /recommend here uses the shelves of the {_plural(members, 'member')} "
                                 f"who shared ({dialect_of(reader).unshare} to stop).")
        verb = "Your shelf is no longer shared here" if changed else "Your shelf was not shared here"
        return Reply("info", f"{verb}; {_plural(members, 'member')} still share.")

    @_entry
    def forget(self, reader: str, confirm: bool = False) -> Reply:
        """Delete everything stored about the reader; without `confirm` it only asks."""
        if not confirm:
            return Reply("confirm", "This deletes your shelf and everything I keep about you. "
                                    + dialect_of(reader).confirm.format(command="forget"), action={"do": "forget"})
        count = self.shelves.forget(reader)
        return Reply("info", f"Forgotten: {_plural(count, 'book')} and your pending choices are gone.")

    @_entry
    def help(self, reader: str) -> Reply:
        """What the bot understands, in the reader's platform's words."""
        return Reply("help", dialect_of(reader).help(self.default_rarity, self.max_k))

    # --- buttons ----------------------------------------------------------------------

    @_entry
    def act(self, reader: str, payload: dict) -> Reply:
        """Run a pressed button's payload on the work it names by key ({"do": "add", "key": ...})."""
        return self._act(self.holder.current, reader, payload)

    def _act(self, engine, reader: str, payload: dict) -> Reply:
        do, key = payload.get("do"), payload.get("key") or ""
        if do == "remove":  # a shelf entry, which the catalogue may no longer hold
            entry = next((e for e in self.shelves.entries(reader) if e.work_key == key), None)
            return self._remove(reader, key, entry.title) if entry else Reply("info", "That book is not on your shelf.")
        request = self._request(payload.get("k"), payload.get("rarity"), payload.get("page"), payload.get("lang"))
        if isinstance(request, Reply):
            return request
        if do == "shelf_recs":  # "More" under recommendations for a shelf (or a group's shelves)
            return self._recommend_shelves(engine, reader, request, payload.get("scope"))
        work = engine.work_by_key(key)
        if work is None:
            return Reply("error", "That book is no longer in my catalogue; please ask again.")
        if do in ("add", "read"):
            return self._add(reader, work, payload.get("rating"))
        if do == "dismiss":
            self.shelves.dismiss(reader, work)
            return Reply("info", f"Noted: I won't recommend {work.title} to you again.", work=work)
        if do == "book":
            return self._book(engine, work)
        return self._recommend_works(engine, reader, [work], request)

    # --- text commands ----------------------------------------------------------------

    _OPTION = re.compile(r"(?:^|\s)(k|n|rarity|rating|page|lang)\s*=\s*(\S+)", re.IGNORECASE)

    def handle_text(self, reader: str, line: str, scope: str | None = None) -> Reply:
        """Answer one chat line: a /command, a number picking from the last choices, or a title.

        `scope` is the group the line was sent in (None in a private chat).
        """
        line = (line or "").strip()
        if line.isdigit() and len(line) == 1:
            return self.choose(reader, int(line))
        return self._text(reader, line, scope)

    @_entry
    def _text(self, reader: str, line: str, scope: str | None = None) -> Reply:
        if not line:
            return Reply("info", "Tell me a book you loved, e.g. /recommend Dune. /help lists everything.")
        if len(line) > MAX_LINE:
            return Reply("error", "That message is too long for me. Send one title, e.g. /recommend Dune.")
        if not line.startswith("/"):
            return self.recommend(reader, line)  # a bare title: the commonest thing people send
        command, _, rest = line[1:].partition(" ")
        command = command.lower()  # a platform's "/command@botname" is the adapter's to strip
        rest, options = self._parse_options(rest.strip())
        if command in ("start", "help", "h"):
            return self.help(reader)
        if command in ("recommend", "rec", "r"):
            page = options.get("page", "1")
            if not page.isdigit() or int(page) < 1:
                return Reply("error", f"A page is a number from 1 to {MAX_PAGES}.")
            return self.recommend(reader, rest or None, k=options.get("k", options.get("n", 10)),
                                  rarity=options.get("rarity"), page=int(page) - 1, lang=options.get("lang"),
                                  scope=scope)
        if command == "book":
            return self.book(reader, rest) if rest else Reply("error", "Which book? /book Dune")
        if command == "shelf":
            return self._shelf_command(reader, rest, options, scope)
        if command == "forget":
            return self.forget(reader, confirm=rest.lower() in ("yes", "y", "confirm"))
        return Reply("error", f"I don't know /{_short(command, 30)}. /help lists what I understand.")

    def _parse_options(self, rest: str) -> tuple[str, dict]:
        options = {m.group(1).lower(): m.group(2) for m in self._OPTION.finditer(rest)}
        return " ".join(self._OPTION.sub(" ", rest).split()), options

    def _shelf_command(self, reader: str, rest: str, options: dict, scope: str | None) -> Reply:
        sub, _, arg = rest.partition(" ")
        sub, arg = sub.lower(), arg.strip()
        if not sub:
            return self.shelf(reader)
        if sub.isdigit():
            return self.shelf(reader, page=int(sub) - 1)
        if sub in ("want", "wanted", "to-read", "toread"):
            return self.shelf(reader, page=int(arg) - 1 if arg.isdigit() else 0, shelf=WANT)
        if sub == "add":
            if not arg:
                return Reply("error", "Which book? /shelf add Dune")
            return self.shelf_add(reader, arg, rating=options.get("rating"))
        if sub in ("remove", "rm", "del", "delete"):
            return self.shelf_remove(reader, arg)
        if sub == "clear":
            return self.shelf_clear(reader, confirm=arg.lower() in ("yes", "y", "confirm"))
        if sub == "import":
            return Reply("info", "Send your Goodreads or StoryGraph export (CSV) as a file and I'll add your books.")
        if sub in ("share", "unshare"):
            return self.share(reader, scope, on=sub == "share" and arg.lower() not in ("off", "stop", "no"))
        return Reply("error", "Try /shelf, /shelf want, /shelf add <title>, /shelf remove <title>, /shelf clear "
                              "or /shelf share.")

    # --- choices ----------------------------------------------------------------------

    def _resolve(self, engine, reader: str, title: str, action: dict) -> TitleLookup | Reply:
        """The work `title` names (and the equally matching works the evidence set aside: its
        `also_line`), or a reply: choices to pick from (the most liked first), or a friendly error."""
        try:
            return engine.lookup(title)
        except InvalidInput as exc:
            return Reply("error", str(exc))
        except BookNotFound as exc:
            choices = [m.work for m in exc.candidates[:3]]
            hint = f" Did you mean: {'; '.join(w.label for w in choices)}?" if choices else \
                " Check the spelling, or try another book."
            if not choices:
                return Reply("error", f"I couldn't find {_short(title)}.{hint}")
            reply = self._ask(reader, f"I couldn't find {_short(title)}.{hint}", choices, action)
            reply.kind = "error"
            return reply
        except AmbiguousTitle as exc:
            return self._ask(reader, f"Which {_short(title)} do you mean?", exc.candidates[:9], action)

    def _ask(self, reader: str, lead: str, choices: list[Work], action: dict) -> Reply:
        """A numbered question: answering `n` (or pressing its button) runs `action` on `choices[n - 1]`.

        The question is kept in the shelf store, so it outlives a restart.
        """
        self.shelves.set_pending(reader, json.dumps({"action": action, "keys": [w.key for w in choices]}))
        lines = [f"{lead} {dialect_of(reader).choose}"] + [f"{i}. {w.label}" for i, w in enumerate(choices, 1)]
        return Reply("choices", "\n".join(lines), choices=choices, action=action)

    def choose(self, reader: str, number: int) -> Reply:
        """Pick choice `number` (from 1) of the reader's last question."""
        try:
            return self._choose(reader, number)
        except Exception:  # noqa: BLE001
            log.exception("choose failed")
            return Reply("error", SORRY)

    def _choose(self, reader: str, number: int) -> Reply:
        pending = self.shelves.pending(reader)
        if pending is not None and time.time() - pending[1] > CHOICE_TTL:
            self.shelves.set_pending(reader, None)
            pending = None
        if pending is None:
            return Reply("info", "There is nothing to choose from right now. Tell me a title, e.g. /recommend Dune.")
        question = json.loads(pending[0])
        if not 1 <= number <= len(question["keys"]):
            return Reply("error", f"Pick a number from 1 to {len(question['keys'])}.")
        self.shelves.set_pending(reader, None)
        return self._act(self.holder.current, reader, {**question["action"], "key": question["keys"][number - 1]})


def _bare_title(title: str) -> str:
    """A title as it names a book: normalised (no leading article), the part before a subtitle."""
    return normalize_title(split_subtitle(title)[0])


def _named_entries(entries: list[ShelfEntry], text: str) -> list[ShelfEntry]:
    """Shelf entries `text` names: their title (with or without a leading article or subtitle),
    or title and author ("Dune by Herbert", "Dune - Herbert"). "Dune" never names Dune Messiah."""
    wanted = normalize_title(text)
    found = [e for e in entries if normalize_title(e.title) == wanted]
    if found:
        return found
    found = [e for e in entries if _bare_title(e.title) == _bare_title(text)]
    if found:
        return found
    for separator in (" by ", " - ", " — "):
        title, sep, author = text.rpartition(separator)
        if not sep:
            continue
        wanted_author = normalize_author(author)
        surname = wanted_author.split()[-1] if wanted_author else ""
        found = [e for e in entries if _bare_title(e.title) == _bare_title(title)
                 and (normalize_author(e.author) == wanted_author or surname in normalize_author(e.author).split())]
        if found:
            return found
    return []


def _closest_entries(entries: list[ShelfEntry], text: str, limit: int = 5) -> list[ShelfEntry]:
    """The shelf's books nearest to `text` (for "did you mean"), best first."""
    names = [f"{e.title} {e.author}" for e in entries]
    hits = process.extract(text, names, scorer=fuzz.WRatio, processor=str.lower, limit=limit, score_cutoff=70)
    return [entries[i] for _, _, i in hits]


@dataclass
class ImportReport:
    """How each row of an export went.

    Attributes:
        stored: (row, work, shelf, how) for every book put on a shelf, each work once; `how`
            is "ISBN", "title" (the catalogue's title and author) or "close title" (the matcher's).
        unmatched: (row, why) for books the catalogue does not have.
        duplicates: Rows naming a work an earlier row named.
        reading: Rows of books being read (neither liked yet nor wanted).
        dnf: Rows of books not finished.
    """

    stored: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)
    duplicates: int = 0
    reading: int = 0
    dnf: int = 0


def match_export(engine, export) -> ImportReport:
    """Find each export row's work: by ISBN (either form) first, then by "title by author".

    Read and rated books go to the READ shelf (stars kept), to-read ones to WANT; books
    being read or not finished are counted, not stored; a work named twice is stored once.
    """
    report, seen = ImportReport(), {}
    for row in export.rows:
        if row.status == DNF:
            report.dnf += 1
            continue
        if row.status == READING and not row.rating:
            report.reading += 1
            continue
        work = next((w for w in map(engine.work_by_isbn, row.isbns) if w is not None), None)
        why, how = "", "ISBN"
        if work is None:  # the same title and author as the catalogue's (its key), else the matcher
            how = "title"
            work = engine.work_by_key(work_key(row.title, row.author)) if row.author else None
        if work is None:
            query = f"{row.title} by {row.author}" if row.author else row.title
            best = engine.match_title(query[:300], limit=1)
            if best and best[0].score >= IMPORT_MATCH_SCORE:
                work, how = best[0].work, "close title"
            else:
                isbn = "no ISBN of it in my catalogue" if row.isbns else "no ISBN"
                near = f"closest title {best[0].work.label} ({best[0].score:.0f}%)" if best else "no similar title"
                why = f"{isbn}; {near}"
        if work is None:
            report.unmatched.append((row, why))
            continue
        shelf = WANT if row.status == WANTED and not row.rating else READ
        if work.key in seen:
            report.duplicates += 1
            earlier = seen[work.key]
            if shelf == READ and report.stored[earlier][2] == WANT:  # read wins over want
                report.stored[earlier] = (row, work, READ, how)
            continue
        seen[work.key] = len(report.stored)
        report.stored.append((row, work, shelf, how))
    return report



def _listing(titles: list[str], most: int = 5) -> str:
    """"A", "A and B", "A, B and 3 more"."""
    shown = titles[:most]
    rest = len(titles) - len(shown)
    if rest:
        return f"{', '.join(shown)} and {rest} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
