"""How each platform says things: its help text and how a reader answers a question there.

The service's replies are the same everywhere except where the way to act differs: the
terminal and Telegram take typed options (`k=5`) and numbers, Discord takes slash-command
options (`count:`) and menus. The dialect is chosen by the reader id's platform prefix.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.rarity import RARITIES


@dataclass(frozen=True)
class Dialect:
    """Phrases that depend on the platform.

    Attributes:
        commands: Help lines, one per command (with `{max_k}` for the largest count).
        option_format: How an option is written, with `{name}` and `{value}`.
        option_names: Neutral option name -> the platform's name for it.
        choose: The line that ends a list of candidates.
        confirm: How to go ahead after a question, with `{command}` ("shelf clear").
        next_page: How to see page `{page}` of a shelf shown with `{command}`.
        shelf_commands: The command showing each shelf ("read", "want").
    """

    commands: tuple[str, ...]
    option_format: str
    option_names: dict
    choose: str
    confirm: str
    next_page: str
    shelf_commands: dict

    def option(self, name: str, value) -> str:
        """`rarity=balanced` or `rarity: balanced`."""
        return self.option_format.format(name=self.option_names.get(name, name), value=value)

    def help(self, default_rarity: str, max_k: int) -> str:
        rarities = ", ".join(f"{name} ({r.description})" for name, r in RARITIES.items())
        return "\n".join(["I recommend rare books that readers of your favourites loved.",
                          *(line.format(max_k=max_k) for line in self.commands),
                          f"Rarities: {rarities}. Default: {default_rarity}."])


_TYPED = (
    "/recommend Dune — rare books for one title (or just type a title)",
    "/recommend — for your whole shelf",
    "  options: k=5 (how many, up to {max_k}), rarity=deep",
    "/book Dune — about one book",
    "/shelf — your shelf; /shelf add Dune [rating=5]; /shelf remove Dune; /shelf clear",
    "/shelf want — the books you want to read (from your imports)",
    "/forget — delete everything I keep about you",
)
TERMINAL = Dialect(
    commands=_TYPED,
    option_format="{name}={value}", option_names={"count": "k"},
    choose="Answer with a number:",
    confirm="Send /{command} yes to go ahead.",
    next_page="More: {command} {page}", shelf_commands={"read": "/shelf", "want": "/shelf want"},
)
TELEGRAM = Dialect(
    commands=_TYPED + ("Import: send your Goodreads export (CSV) as a file.",
                       "In any chat: @-mention me with a title to share a book."),
    option_format="{name}={value}", option_names={"count": "k"},
    choose="Press a button or answer with a number:",
    confirm="Press Yes below, or send /{command} yes.",
    next_page="More: {command} {page}", shelf_commands={"read": "/shelf", "want": "/shelf want"},
)
DISCORD = Dialect(
    commands=(
        "/recommend title: Dune — rare books for one title (options: count, rarity)",
        "/recommend — for your whole shelf",
        "/book title: Dune — about one book",
        "/shelf show — your shelf; /shelf add title: Dune [rating: 5]; /shelf remove title: Dune; /shelf clear",
        "/shelf import file: — your Goodreads export (CSV)",
        "/forget — delete everything I keep about you",
    ),
    option_format="{name}: {value}", option_names={},
    choose="Pick it from the menu below.",
    confirm="Press Yes below, or run /{command} with yes: True.",
    next_page="More: {command} page: {page}", shelf_commands={"read": "/shelf show", "want": "/shelf want"},
)
DIALECTS = {"discord": DISCORD, "telegram": TELEGRAM}


def dialect_of(reader: str) -> Dialect:
    """The dialect for a reader id such as "discord:42" (the terminal's for any other platform)."""
    return DIALECTS.get(reader.partition(":")[0], TERMINAL)
