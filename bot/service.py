"""The conversation's use cases, independent of any chat platform.

`Service` has one public method per command of `bot.commands` (`shelf add` ->
`shelf_add`), taking the command's options as keywords and returning a typed reply
(`bot.replies`). `run` checks a `Call` against the command table and calls its use case;
`handle_text` reads a typed line first (`bot.grammar`); `act` runs a pressed button's
`Action`; `choose` answers a numbered question.

Three rules hold for every public method:

- it reads `holder.current` once and uses that engine throughout, so a hot swap never
  mixes two models in one answer;
- it ends the reader's pending "which one did you mean?" question, except `choose`,
  which answers it: a prompt ends when the reader sends anything else;
- whatever names a command in its answer is written in `say`, the asker's platform's
  `Dialect` (the terminal's by default).

Everything here is synchronous and thread-safe: async adapters call it through a thread.
No method raises on user input: bad input gets a short friendly reply, and anything
unexpected is logged with its traceback and answered with a generic apology.

Readers are `"<platform>:<user id>"` strings, as in `engine.shelf`.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput
from engine.imports import MAX_ROWS, ExportError, match_export, read_export
from engine.language import LANGUAGES, parse_language
from engine.rarity import DEFAULT_RARITY, RARITIES
from engine.recommender import EngineHolder
from engine.results import TitleLookup, Work
from engine.shelf import READ, WANT, ShelfEntry, ShelfStore

from .actions import Action, Do
from .commands import COUNT, MAX_PAGES, BadValue
from .grammar import Call, Pick, parse
from .pending import Questions
from .replies import Book, Choices, Confirm, DidYouMean, Error, Help, Imported, Info, Picks, Reply, ShelfPage
from .titles import closest_entries, named_entries, weak_match
from .wording import TYPED, Dialect, book_lines, few_picks, import_text, listing, nothing_found, picks_text, \
    plural, question_text, shelf_text, short

log = logging.getLogger(__name__)

PAGE_SIZE = 10  # books on one page of a shelf
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
SHELVES = {READ: ("shelf show", "shelf"), WANT: ("shelf want", "want-to-read list")}  # command, name


def _entry(method):
    """A public command: it ends the reader's pending question, and never raises (logged, apology)."""
    @functools.wraps(method)
    def wrapper(self, reader, *args, **kwargs):
        try:
            self.questions.end(reader)
            return method(self, reader, *args, **kwargs)
        except Exception:  # noqa: BLE001 - the one catch-all: users never see tracebacks
            log.exception("%s failed", method.__name__)
            return Error(SORRY)
    return wrapper


@dataclass(frozen=True)
class Request:
    """A recommendation request's options, checked; `page` counts from 0."""

    count: int
    rarity: str
    page: int
    lang: str | None

    def action(self, do: Do, key: str = "", scope: str | None = None, page: int | None = None) -> Action:
        """This request as a button's action (for another page: `page`)."""
        return Action(do, key=key, count=self.count, rarity=self.rarity, page=self.page if page is None else page,
                      lang=self.lang, scope=scope)

    def more(self, do: Do, key: str = "", scope: str | None = None) -> Action:
        """The action of "More": the next page of this request."""
        return self.action(do, key, scope, self.page + 1)


def _noted(reply: Reply, line: str) -> Reply:
    """`reply` with `line` under it: the last line of its text (and of the note under picks)."""
    if line:
        reply.text = f"{reply.text}\n{line}"
        if isinstance(reply, Picks):
            reply.note = "\n".join(filter(None, [reply.note, line]))
    return reply


class Service:
    """The rare-book bot's use cases, for any platform.

    Args:
        holder: The engine in service (swappable during retrains).
        shelves: Readers' shelves.
        default_rarity: Rarity used when a request names none.
        max_import_rows: Most books one import may hold.
    """

    def __init__(self, holder: EngineHolder, shelves: ShelfStore, default_rarity: str = DEFAULT_RARITY,
                 max_import_rows: int = MAX_ROWS):
        if default_rarity not in RARITIES:
            raise ValueError(f"unknown rarity {default_rarity!r}")
        self.holder, self.shelves = holder, shelves
        self.questions = Questions(shelves)
        self.default_rarity, self.max_import_rows = default_rarity, max_import_rows

    # --- commands from the table ---------------------------------------------------------

    def handle_text(self, reader: str, line: str, scope: str | None = None, say: Dialect = TYPED) -> Reply:
        """Answer one typed chat line: a /command, a number picking from the last choices, or a title.

        `scope` is the group the line was sent in (None in a private chat).
        """
        return self.handle(reader, parse(line), scope=scope, say=say)

    def handle(self, reader: str, parsed: Call | Pick | Reply, *, scope: str | None = None,
               say: Dialect = TYPED) -> Reply:
        """Answer what `bot.grammar.parse` made of a line."""
        if isinstance(parsed, Pick):
            return self.choose(reader, parsed.number, say=say)
        if isinstance(parsed, Call):
            return self.run(reader, parsed, scope=scope, say=say)
        self.questions.end(reader)
        return parsed

    @_entry
    def run(self, reader: str, call: Call, *, scope: str | None = None, say: Dialect = TYPED) -> Reply:
        """Check `call`'s values against the command table, then run its use case."""
        command = call.command
        if command.admin:
            return Error(f"Only the bot's admins can use /{command.name}, in the chat apps (rarereads serve).")
        missing = next((o for o in command.options if o.required and call.values.get(o.name) in (None, "")), None)
        if missing is not None:
            if missing.type is bytes:
                return Info(say.send_file)
            return Error(f"Which book? {say.command(command.name, **{missing.name: missing.example})}")
        try:
            values = command.check(call.values)
        except BadValue as exc:
            return Error(str(exc))
        if command.scoped:
            values["scope"] = scope
        return getattr(self, command.use)(reader, **values, say=say)

    # --- recommendations --------------------------------------------------------------

    @_entry
    def recommend(self, reader: str, title: str | None = None, count: int = 10, rarity: str | None = None,
                  lang: str | None = None, page: int = 1, *, scope: str | None = None, say: Dialect = TYPED) -> Reply:
        """Rare books for one title, or with no title for the reader's shelf.

        Args:
            reader: Who asks.
            title: A book they loved; None for their shelf (in a group with shared shelves:
                the shelves its members shared with `/shelf share`).
            count: Picks per page.
            rarity: A name from `engine.rarity.RARITIES`; None for the default.
            lang: "any", a language code such as "en", or None for the seed's language.
            page: Which page of picks, from 1 ("More" asks for the next one).
            scope: The group the request came from, or None in a private chat.
            say: How the asker's platform writes commands.
        """
        engine = self.holder.current
        request = self._request(count, rarity, page - 1, lang)
        if isinstance(request, Reply):
            return request
        if title is not None and title.strip():
            found = self._resolve(engine, reader, title, request.action(Do.RECOMMEND), say)
            if isinstance(found, Reply):
                return found
            return _noted(self._recommend_works(engine, reader, [found.work], request, say), found.also_line)
        return self._recommend_shelves(engine, reader, request, scope, say)

    def _request(self, count, rarity: str | None, page: int, lang: str | None) -> Request | Reply:
        """A recommendation request's options, checked (from a command or from a button)."""
        rarity = (rarity or self.default_rarity).strip().lower()
        if rarity not in RARITIES:
            return Error(f"I know these rarities: {', '.join(RARITIES)}.")
        try:
            count = COUNT.check(10 if count is None else count)
        except BadValue as exc:
            return Error(str(exc))
        try:  # engine.language holds the names: None (the books' own), "any", or a code
            lang = parse_language(lang)
        except ValueError:
            return Error(f"I know these languages: any, {', '.join(LANGUAGES[1:])} (without a "
                         "language, the picks are in the language of the books you named).")
        return Request(count, rarity, max(0, int(page or 0)), lang)

    def _recommend_shelves(self, engine, reader: str, request: Request, scope: str | None, say: Dialect) -> Reply:
        """Recommendations for the reader's shelf, or in a group for the shelves its members share."""
        sharers = self.shelves.sharers(scope) if scope else []
        readers = sharers or [reader]
        entries = [e for r in readers for e in self.shelves.entries(r)]
        works = list({w.key: w for w in (engine.work_by_key(e.work_key) for e in entries) if w is not None}.values())
        if not works:
            if sharers:
                return Info("None of the shared books are in the current catalogue. Try /recommend <title>.")
            hint = "Your shelf is empty. Tell me a book you loved: /recommend Dune, or /shelf add Dune."
            return Info(hint if not entries else
                        "None of the books on your shelf are in the current catalogue. Try /recommend <title>.")
        about = (f"the {plural(len(works), 'book')} {plural(len(sharers), 'member')} shared here" if sharers else
                 f"the {plural(len(works), 'book')} on your shelf")
        tip = "" if sharers or not scope else "Book club: /shelf share adds your shelf to this group's picks."
        more = request.more(Do.SHELF_RECS, scope=scope if sharers else None)
        return self._recommend_works(engine, reader, works, request, say, about=about, for_readers=readers + [reader],
                                     more=more, tip=tip)

    def _recommend_works(self, engine, reader: str, works: list[Work], request: Request, say: Dialect, *,
                         about: str = "", for_readers: list[str] | None = None, more: Action | None = None,
                         tip: str = "") -> Reply:
        """One page of picks for `works`, leaving out what `for_readers` read, want or refused."""
        k, rarity, page = request.count, request.rarity, request.page
        # Never back: books on either shelf (read or wanted) and books the reader said no to.
        excluded = self.shelves.known_keys(for_readers or [reader])
        # Pages come from one longer list: the engine's answer is deterministic for one model.
        result = engine.recommend(works, k=k * (page + 1), rarity=rarity, exclude=excluded, lang=request.lang)
        result.picks = result.picks[k * page:]
        about = about or works[0].title
        unused = [w.title for w in result.unused]
        them = "it" if len(unused) == 1 else "them"
        if unused and len(unused) == len(works):  # the model knows nothing about any of them yet
            return Info(f"Too few readers liked {listing(unused)} for me to recommend from {them} yet. "
                        "Tell me another book you loved.")
        if unused:
            tip = "\n".join(filter(None, [tip, f"Not used: {listing(unused)} (too few readers liked {them} "
                                               "for me to learn from yet)."]))
        if not result.picks:
            return Info(nothing_found(say, about, rarity, page))
        if page == 0 and len(result.picks) < k:  # fewer picks, not single-reader picks of another kind
            tip = "\n".join(filter(None, [tip, few_picks(say, about, len(result.picks), result.skipped)]))
        language = say.option("lang", request.lang) if request.lang else ""
        text = picks_text(about, rarity, language, page, result.picks, k * page + 1, tip)
        next_page = None
        if len(result.picks) == k and page + 1 < MAX_PAGES:
            next_page = more or request.more(Do.RECOMMEND, key=works[0].key)
        return Picks(text, recommendations=result, page=page, offset=k * page, more=next_page, note=tip)

    @_entry
    def book(self, reader: str, title: str, *, say: Dialect = TYPED) -> Reply:
        """One book: author, year, cover, likes, and a few rare books its readers loved."""
        engine = self.holder.current
        found = self._resolve(engine, reader, title, Action(Do.BOOK), say)
        if isinstance(found, Reply):
            return found
        return self._book(engine, found.work, found.also_line)

    def _book(self, engine, work: Work, note: str = "") -> Reply:
        neighbours = engine.recommend([work], k=5, rarity=self.default_rarity).picks
        return Book("\n".join(book_lines(work, neighbours, note=note)), work=work, neighbours=neighbours, note=note)

    # --- shelf ------------------------------------------------------------------------

    @_entry
    def shelf_show(self, reader: str, page: int = 1, *, say: Dialect = TYPED) -> Reply:
        """One page of the reader's shelf, from 1."""
        return self._shelf_page(reader, page - 1, READ, say)

    @_entry
    def shelf_want(self, reader: str, page: int = 1, *, say: Dialect = TYPED) -> Reply:
        """One page of the reader's want-to-read list, from 1."""
        return self._shelf_page(reader, page - 1, WANT, say)

    def _shelf_page(self, reader: str, page: int, shelf: str, say: Dialect) -> Reply:
        total = self.shelves.count(reader, shelf=shelf)
        shelf_command, name = SHELVES[shelf]
        if not total:
            empty = ("Your shelf is empty. Add a book you loved: /shelf add Dune" if shelf == READ else
                     "Your want-to-read list is empty. Imports fill it with the books you marked to read.")
            return ShelfPage(empty, shelf=shelf)
        pages = math.ceil(total / PAGE_SIZE)
        if not 0 <= page < pages:
            return Error(f"Your {name} has 1 page: {say.command(shelf_command)} shows it." if pages == 1 else
                         f"Your {name} has {pages} pages: ask for a page from 1 to {pages}.")
        entries = self.shelves.entries(reader, offset=page * PAGE_SIZE, limit=PAGE_SIZE, shelf=shelf)
        text = shelf_text(say, shelf_command, name, total, page, pages, entries, page * PAGE_SIZE + 1)
        return ShelfPage(text, entries=entries, page=page, pages=pages, shelf=shelf)

    @_entry
    def shelf_add(self, reader: str, title: str, rating: int | None = None, *, say: Dialect = TYPED) -> Reply:
        """Put a book on the shelf (rating 1..5 optional)."""
        engine = self.holder.current
        found = self._resolve(engine, reader, title, Action(Do.ADD, rating=rating), say)
        if isinstance(found, Reply):
            return found
        return _noted(self._add(reader, found.work, rating), found.also_line)

    def _add(self, reader: str, work: Work, rating: int | None) -> Reply:
        # A typed query may hold typos; the catalogue's title is the edition to show.
        # (Imports keep the edition title from the reader's own library.)
        new = self.shelves.add(reader, work, named_title=work.title, rating=rating)
        verb = "Added" if new else "Already on your shelf:"
        return Info(f"{verb} {work.label}. Your shelf has {plural(self.shelves.count(reader), 'book')}.")

    @_entry
    def shelf_remove(self, reader: str, title: str, *, say: Dialect = TYPED) -> Reply:
        """Take a book off the shelf: one named by its number in /shelf, its title, or title and author.

        Only a book that is on the shelf and named is removed; a title that names none (or
        several) gets a question with the shelf's closest books as choices.
        """
        entries = self.shelves.entries(reader)
        if not entries:
            return Info("Your shelf is already empty.")
        title = (title or "").strip()
        if title.isdigit():
            n = int(title)
            if not 1 <= n <= len(entries):
                return Error(f"Pick a number from 1 to {len(entries)} (see /shelf).")
            return self._remove(reader, entries[n - 1].work_key, entries[n - 1].title)
        engine = self.holder.current
        named = named_entries(entries, title)
        if not named:  # the catalogue may know the book by another spelling ("dnue")
            try:
                key = engine.resolve(title).key
            except (InvalidInput, BookNotFound, AmbiguousTitle):
                key = None
            named = [e for e in entries if e.work_key == key]
        if len(named) == 1:
            return self._remove(reader, named[0].work_key, named[0].title)
        close = named or closest_entries(entries, title)
        if not close:
            return Error(f"I don't see {short(title)} on your shelf. /shelf lists it.")
        choices = [self._shelf_work(engine, e) for e in close]
        lead = (f"Which {short(title)} do you mean?" if named else
                f"{short(title)} is not on your shelf. Did you mean: {'; '.join(w.label for w in choices)}?")
        return self._ask(reader, lead, choices, Action(Do.REMOVE), say)

    @staticmethod
    def _shelf_work(engine, entry: ShelfEntry) -> Work:
        """The catalogue's work for a shelf entry, or one made from the entry (a retrain may drop works)."""
        return engine.work_by_key(entry.work_key) or Work(-1, entry.title, entry.author, 0, 0, key=entry.work_key)

    def _remove(self, reader: str, key: str, title: str) -> Reply:
        self.shelves.remove(reader, key)
        return Info(f"Removed {title}. Your shelf has {plural(self.shelves.count(reader), 'book')}.")

    @_entry
    def shelf_clear(self, reader: str, yes: bool = False, *, say: Dialect = TYPED) -> Reply:
        """Empty the shelf; without `yes` it only asks."""
        count = self.shelves.count(reader)
        if not count:
            return Info("Your shelf is already empty.")
        if not yes:
            return Confirm(f"This removes all {plural(count, 'book')} from your shelf. "
                           + say.confirm.format(command=say.command("shelf clear", yes=True)),
                           action=Action(Do.CLEAR, reader=reader))
        self.shelves.clear(reader)
        return Info(f"Done: removed {plural(count, 'book')}.")

    @_entry
    def shelf_import(self, reader: str, file: bytes, *, say: Dialect = TYPED) -> Reply:
        """Import a Goodreads or StoryGraph export (the file's bytes): read books to the shelf,
        to-read ones to the want-to-read list; all of it in one transaction, or nothing."""
        try:
            export = read_export(bytes(file or b""), max_rows=self.max_import_rows)
        except ExportError as exc:
            return Error(f"I couldn't import that file. {exc}. Nothing was changed.")
        report = match_export(self.holder.current, export)
        new, known = self.shelves.add_many(reader, [(work, row.title, row.rating or None, shelf)
                                                    for row, work, shelf, _ in report.stored])
        return Imported(import_text(export.source, report, new, known, export.untitled), report=report)

    @_entry
    def shelf_share(self, reader: str, stop: bool = False, *, scope: str | None = None,
                    say: Dialect = TYPED) -> Reply:
        """Book-club mode: share (or `stop` sharing) the reader's shelf with the group `scope`."""
        if scope is None:
            return Info("Share your shelf from a group chat: /shelf share there adds your books to "
                        "that group's /recommend (book-club mode).")
        changed = self.shelves.share(scope, reader, not stop)
        members = len(self.shelves.sharers(scope))
        if not stop:
            verb = "Your shelf is now shared with this group" if changed else "Your shelf is already shared here"
            return Info(f"{verb}: /recommend here uses the shelves of the {plural(members, 'member')} "
                        f"who shared ({say.command('shelf share', stop=True)} to stop).")
        verb = "Your shelf is no longer shared here" if changed else "Your shelf was not shared here"
        return Info(f"{verb}; {plural(members, 'member')} still share.")

    @_entry
    def forget(self, reader: str, yes: bool = False, *, say: Dialect = TYPED) -> Reply:
        """Delete everything stored about the reader; without `yes` it only asks."""
        if not yes:
            return Confirm("This deletes your shelf and everything I keep about you. "
                           + say.confirm.format(command=say.command("forget", yes=True)),
                           action=Action(Do.FORGET, reader=reader))
        count = self.shelves.forget(reader)
        return Info(f"Forgotten: {plural(count, 'book')} and your pending choices are gone.")

    @_entry
    def help(self, reader: str, *, say: Dialect = TYPED) -> Reply:
        """What the bot understands, as the reader's platform writes it."""
        return Help(say.help(self.default_rarity))

    # --- buttons and questions --------------------------------------------------------

    @_entry
    def act(self, reader: str, action: Action, *, say: Dialect = TYPED) -> Reply:
        """Run a pressed button's action."""
        return self._act(self.holder.current, reader, action, say)

    def _act(self, engine, reader: str, action: Action, say: Dialect) -> Reply:
        do, key = action.do, action.key
        if do == Do.CLEAR:
            return self.shelf_clear(reader, yes=True, say=say)
        if do == Do.FORGET:
            return self.forget(reader, yes=True, say=say)
        if do == Do.PAGE:
            return self._shelf_page(reader, action.page or 0, action.shelf or READ, say)
        if do == Do.REMOVE:  # a shelf entry, which the catalogue may no longer hold
            entry = next((e for e in self.shelves.entries(reader) if e.work_key == key), None)
            return self._remove(reader, key, entry.title) if entry else Info("That book is not on your shelf.")
        request = self._request(action.count, action.rarity, action.page, action.lang)
        if isinstance(request, Reply):
            return request
        if do == Do.SHELF_RECS:  # "More" under recommendations for a shelf (or a group's shelves)
            return self._recommend_shelves(engine, reader, request, action.scope, say)
        work = engine.work_by_key(key)
        if work is None:
            return Error("That book is no longer in my catalogue; please ask again.")
        if do in (Do.ADD, Do.READ):
            return self._add(reader, work, action.rating)
        if do == Do.DISMISS:
            self.shelves.dismiss(reader, work)
            return Info(f"Noted: I won't recommend {work.title} to you again.")
        if do == Do.BOOK:
            return self._book(engine, work)
        return self._recommend_works(engine, reader, [work], request, say)

    def _resolve(self, engine, reader: str, title: str, action: Action, say: Dialect) -> TitleLookup | Reply:
        """The work `title` names (and the equally matching works the evidence set aside: its
        `also_line`), or a reply: choices to pick from (the most liked first), or a friendly error.

        A match that names the work only by chance (`bot.titles.weak_match`) is asked about.
        """
        try:
            found = engine.lookup(title)
        except InvalidInput as exc:
            return Error(str(exc))
        except BookNotFound as exc:
            return self._did_you_mean(reader, title, [m.work for m in exc.candidates[:3]], action, say)
        except AmbiguousTitle as exc:
            return self._ask(reader, f"Which {short(title)} do you mean?", exc.candidates[:9], action, say)
        if not weak_match(title, found.work):
            return found
        close = [m.work for m in engine.match_title(title, limit=5) if m.score >= 40]
        return self._did_you_mean(reader, title, list({w.key: w for w in [found.work, *close]}.values())[:3],
                                  action, say)

    def _did_you_mean(self, reader: str, title: str, choices: list[Work], action: Action, say: Dialect) -> Reply:
        if not choices:
            return Error(f"I couldn't find {short(title)}. Check the spelling, or try another book.")
        lead = f"I couldn't find {short(title)}. Did you mean: {'; '.join(w.label for w in choices)}?"
        return self._ask(reader, lead, choices, action, say, DidYouMean)

    def _ask(self, reader: str, lead: str, choices: list[Work], action: Action, say: Dialect,
             reply: type[Choices] = Choices) -> Reply:
        """A numbered question: answering `n` (or pressing its button) runs `action` on `choices[n - 1]`."""
        self.questions.ask(reader, action, [w.key for w in choices])
        return reply(question_text(say, lead, choices), choices=choices, action=action)

    def choose(self, reader: str, number: int, *, say: Dialect = TYPED) -> Reply:
        """Pick choice `number` (from 1) of the reader's last question."""
        try:
            question = self.questions.take(reader)
            if question is None:
                return Info("There is nothing to choose from right now. Tell me a title, e.g. /recommend Dune.")
            if not 1 <= number <= len(question.keys):
                return Error(f"Pick a number from 1 to {len(question.keys)}.")
            self.questions.end(reader)
            return self._act(self.holder.current, reader, question.action.on(question.keys[number - 1]), say)
        except Exception:  # noqa: BLE001
            log.exception("choose failed")
            return Error(SORRY)
