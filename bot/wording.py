"""Plain-text answers, and how each platform writes a command (its `Dialect`).

The service builds every reply's `text` with these functions. Whatever names a command or
an option ("send /shelf clear yes", "rarity: deep") comes from the reader's `Dialect`,
written from the command table: typed syntax (`/shelf add Dune rating=5`) for the terminal
and Telegram, slash-command syntax (`/shelf add title: Dune rating: 5`) for Discord. Each
adapter owns its dialect and passes it with every command; `TYPED` is the terminal's.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.rarity import RARITIES
from engine.results import Recommendation, Work
from engine.shelf import READ

from .commands import COMMANDS, Command, Option, command


def plural(n: int, word: str) -> str:
    """"1 book", "2 books"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def short(text: str, limit: int = 60) -> str:
    """User text echoed back: one line, bounded."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def listing(titles: list[str], most: int = 5) -> str:
    """"A", "A and B", "A, B and 3 more"."""
    shown = titles[:most]
    rest = len(titles) - len(shown)
    if rest:
        return f"{', '.join(shown)} and {rest} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


@dataclass(frozen=True)
class Dialect:
    """How one platform writes commands, and the phrases that differ per platform.

    Attributes:
        slash: Discord's syntax (`/shelf show page: 2`) rather than typed (`/shelf 2`).
        choose: The line ending a numbered question.
        confirm: How to go ahead after a question, with `{command}` (the command that does).
        send_file: How to send a library export.
        extra: Lines of `/help` only this platform needs.
    """

    slash: bool = False
    choose: str = "Answer with a number:"
    confirm: str = "Send {command} to go ahead."
    send_file: str = ("Send your Goodreads or StoryGraph export (CSV) as a file and I'll add your books "
                      "(in a terminal: rarereads import FILE).")
    extra: tuple[str, ...] = ("Or just type a title, e.g. Dune.",)

    def option(self, name: str, value) -> str:
        """`rarity=deep` (typed) or `rarity: deep` (slash)."""
        if self.slash:
            return f"{name}: {value}"
        typed = next(o.typed for c in COMMANDS for o in c.options if o.name == name)
        return f"{typed or name}={value}"

    def command(self, name: str, **values) -> str:
        """The command `name` written with `values` ("/shelf clear yes", "/shelf clear yes: True")."""
        return self._write(command(name), {k: v for k, v in values.items() if v is not None})

    def usage(self, cmd: Command) -> str:
        """The command with an example of each option, optional ones in brackets."""
        return self._write(cmd, {o.name: o.example or True for o in cmd.options if o.type is not bytes}, brackets=True)

    def _write(self, cmd: Command, values: dict, brackets: bool = False) -> str:
        words = [f"/{cmd.name if self.slash else cmd.typed_name}"]
        for option in cmd.options:
            if option.name not in values or values[option.name] is False:
                continue
            word = self._value(option, values[option.name])
            words.append(f"[{word}]" if brackets and not option.required else word)
        return " ".join(words)

    def _value(self, option: Option, value) -> str:
        if self.slash:
            return f"{option.name}: {value}"
        if option.type is bool:
            return option.words[0]
        return str(value) if option.positional else f"{option.typed}={value}"

    def help(self, default_rarity: str) -> str:
        """`/help`: every command members may use, as this platform writes it, and the rarities."""
        rarities = ", ".join(f"{name} ({r.description})" for name, r in RARITIES.items())
        lines = ["I recommend rare books that readers of your favourites loved."]
        lines += [f"{self.usage(c)} — {c.help}" for c in COMMANDS if not c.admin]
        lines += list(self.extra)
        lines.append(f"Rarities: {rarities}. Default: {default_rarity}.")
        return "\n".join(lines)


TYPED = Dialect()  # the terminal's: typed commands, no buttons


def book_lines(work: Work, neighbours: list[Recommendation], name=None, esc=lambda text: text,
               note: str = "") -> list[str]:
    """A /book answer line by line: the book, its `note`, how many readers liked it, its cover, its neighbours.

    Plain text by default: the book's label, then its page. An adapter passes `name`, which
    writes a book its own way (a title linked to its page), and `esc`, which escapes the rest.
    """
    lines = [name(work)] if name else [work.label, work.url]
    if note:
        lines.append(esc(note))
    lines.append(esc(f"Liked by {plural(work.likes, 'reader')} in the training data."))
    if work.cover_url:
        lines.append(esc(f"Cover: {work.cover_url}"))
    if neighbours:
        lines.append(esc("Rare books its readers loved: ")
                     + "; ".join(name(p.work) if name else p.work.label for p in neighbours))
    return lines


def picks_text(about: str, rarity: str, language: str, page: int, picks: list[Recommendation], first: int,
               tip: str) -> str:
    """A page of picks: a header, each pick with its reason and its page on a line of its own, the tip."""
    details = ", ".join(filter(None, [rarity, language, f"page {page + 1}" if page else ""]))
    lines = [f"Readers who loved {about} also loved ({details}):"]
    lines += [f"{i}. {pick.work.label} · {pick.reason}\n   {pick.work.url}" for i, pick in enumerate(picks, first)]
    return "\n".join(lines + ([tip] if tip else []))


def nothing_found(say: Dialect, about: str, rarity: str, page: int) -> str:
    """No (more) picks at `rarity`: at the first page, the milder rarities to try."""
    if page:
        return f"That is all I have at {say.option('rarity', rarity)} for {about}."
    milder = list(RARITIES)[:list(RARITIES).index(rarity)][::-1][:2]  # the settings before this one
    tip = f" Try {' or '.join(say.option('rarity', name) for name in milder)}." if milder else ""
    return f"I found nothing {rarity} enough for {about}.{tip}"


def few_picks(say: Dialect, about: str, count: int, skipped: dict[str, int]) -> str:
    """Why a list is short: its readers agree on few rare books of its kind (the rules passed the rest over)."""
    thin = skipped.get("kind", 0) + skipped.get("support", 0)
    why = (" The others its readers liked rest on a single reader or are another kind of book." if thin else "")
    return f"Only {plural(count, 'pick')} for {about}: few of its readers' rare books are close enough.{why}" \
           f" {say.option('rarity', 'balanced')} looks wider."


def shelf_text(say: Dialect, shelf_command: str, name: str, total: int, page: int, pages: int, entries,
               first: int) -> str:
    """A page of a shelf: a header, numbered books with their stars, how to see the next page."""
    lines = [f"Your {name} ({plural(total, 'book')}), page {page + 1} of {pages}:"]
    for i, e in enumerate(entries, first):
        stars = f" ({e.rating}/5)" if e.rating else ""
        lines.append(f"{i}. {e.title} — {e.author}{stars}" if e.author else f"{i}. {e.title}{stars}")
    if page + 1 < pages:
        lines.append(f"More: {say.command(shelf_command, page=page + 2)}")
    return "\n".join(lines)


def question_text(say: Dialect, lead: str, choices: list[Work]) -> str:
    """A numbered question: the lead, how to answer on this platform, the candidates."""
    return "\n".join([f"{lead} {say.choose}"] + [f"{i}. {w.label}" for i, w in enumerate(choices, 1)])


def import_text(source: str, report, new: int, known: int, untitled: int) -> str:
    """How an import went: what was stored (read, to read, new), what was not found, what was left out."""
    read = sum(shelf == READ for _, _, shelf, _ in report.stored)
    stored = len(report.stored)
    parts = [f"{plural(read, 'book')} read"] + ([f"{stored - read} to read"] if stored > read else [])
    lines = [f"Imported {plural(stored, 'book')} from your {source} export ({', '.join(parts)}); "
             f"{new} new, {known} already on your shelf."]
    if report.unmatched:
        shown = "; ".join(short(row.title, 50) for row, _ in report.unmatched[:10])
        more = f" and {len(report.unmatched) - 10} more" if len(report.unmatched) > 10 else ""
        lines.append(f"Not in my catalogue ({len(report.unmatched)}): {shown}{more}.")
    skipped = [f"{n} {what}" for n, what in ((report.duplicates, "listed twice"), (report.reading, "being read"),
                                             (report.dnf, "not finished"), (untitled, "without a title")) if n]
    if skipped:
        lines.append(f"Left out: {', '.join(skipped)}.")
    return "\n".join(lines)
