"""The typed grammar (terminal, Telegram): one chat line -> a `Call` of a command in `bot.commands`.

`/recommend Dune k=5 rarity=deep` is the command, its free text (the title) and its named
options; `/shelf 2` a number typed without a name; `/forget yes` a word. A line without a
slash is a title to recommend from, and a lone digit answers the pending question. Every
name and range comes from the command table; the adapter strips a platform's
`/command@botname` before the line gets here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .commands import COMMANDS, GROUPS, BadValue, Command, command
from .replies import Error, Info, Reply
from .wording import short

MAX_LINE = 2000  # characters of one chat message read at all


def _names() -> dict[str, tuple[Command, dict]]:
    """Every way of typing each command (name, typed name, aliases, presets) -> (command, preset values)."""
    names: dict[str, tuple[Command, dict]] = {}
    for c in COMMANDS:
        for name in filter(None, (c.name, c.typed, *c.aliases)):
            names.setdefault(name, (c, {}))
        for name, preset in c.presets.items():
            names.setdefault(name, (c, preset))
    return names


NAMES = _names()
# Every named option anywhere, so that one given to the wrong command is said, not read as a title.
OPTION_NAMES = sorted({n for c in COMMANDS for o in c.options if o.typed for n in (o.typed, *o.aliases)})
_NAMED = re.compile(rf"(?:^|\s)({'|'.join(OPTION_NAMES)})\s*=\s*(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """A command with the values given for its options (by option name; typed ones as text)."""

    command: Command
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pick:
    """A number answering the reader's pending question."""

    number: int


def parse(line: str) -> Call | Pick | Reply:
    """What one chat line asks for: a `Call`, a `Pick`, or the reply to a line that cannot be used."""
    line = (line or "").strip()
    if line.isdigit() and len(line) == 1:
        return Pick(int(line))
    if not line:
        return Info("Tell me a book you loved, e.g. /recommend Dune. /help lists everything.")
    if len(line) > MAX_LINE:
        return Error("That message is too long for me. Send one title, e.g. /recommend Dune.")
    if not line.startswith("/"):
        return Call(command("recommend"), {"title": line})  # a bare title: the commonest thing people send
    words = line[1:].split()
    head = words[0].lower() if words else ""
    pair = f"{head} {words[1].lower()}" if len(words) > 1 else ""
    if pair in NAMES:
        (cmd, preset), rest = NAMES[pair], words[2:]
    elif head in NAMES and not (head in GROUPS and len(words) > 1 and not words[1].isdigit()):
        (cmd, preset), rest = NAMES[head], words[1:]
    elif head in GROUPS:
        usages = ", ".join(f"/{c.typed_name}" for c in COMMANDS if c.group == head and not c.admin)
        return Error(f"Try {usages}.")
    else:
        return Error(f"I don't know /{short(head, 30)}. /help lists what I understand.")
    try:
        return Call(cmd, {**_values(cmd, " ".join(rest)), **preset})
    except BadValue as exc:
        return Error(str(exc))


def _values(cmd: Command, text: str) -> dict:
    """The options typed after the command: named ones (`k=5`), then the positional one."""
    values = {}
    for match in _NAMED.finditer(text):
        name = match.group(1).lower()
        option = next((o for o in cmd.options if name in (o.typed, *o.aliases)), None)
        if option is None:
            raise BadValue(f"/{cmd.typed_name} has no {name}= option.")
        values[option.name] = option.check(match.group(2))
    rest = " ".join(_NAMED.sub(" ", text).split())
    positional = next((o for o in cmd.options if o.positional and o.type is not bytes), None)
    if positional is not None and rest:
        values[positional.name] = positional.check(rest)
    return values

