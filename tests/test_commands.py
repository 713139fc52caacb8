"""The command table is the one home of the commands: every view of it agrees with it.

A command is one entry in `bot.commands.COMMANDS` plus its use case (the `Service` method of
its name, or for an admin command the runtime's flow). The typed grammar, `/help`, the
Telegram menu and Discord's app commands are read from the table; button actions are one
enum with one encoder and one decoder.
"""
from __future__ import annotations

import inspect
import json

import pytest

from bot.actions import Action, Do
from bot.commands import COMMANDS, menu
from bot.grammar import Call, Pick, parse
from bot.replies import Error, Info
from bot.runtime import BotRuntime
from bot.service import Service
from bot.wording import TYPED

MEMBERS = [c for c in COMMANDS if not c.admin]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_has_its_use_case_taking_its_options(command):
    if command.admin:
        assert command.name in BotRuntime.admin_flows.fget(BotRuntime.__new__(BotRuntime))
        return
    use = getattr(Service, command.use)
    parameters = inspect.signature(use).parameters
    assert list(parameters)[:2] == ["self", "reader"]
    keywords = {o.name for o in command.options} | {"say"} | ({"scope"} if command.scoped else set())
    assert set(list(parameters)[2:]) == keywords, command.name
    assert use.__doc__, command.name


@pytest.mark.parametrize("command", MEMBERS, ids=lambda c: c.name)
def test_every_usage_line_in_help_reads_back_as_its_command(command):
    parsed = parse(TYPED.usage(command).replace("[", "").replace("]", ""))
    assert isinstance(parsed, Call) and parsed.command is command
    for option in command.options:
        if option.type is not bytes and option.example:
            assert parsed.values[option.name] == option.check(option.example)


@pytest.mark.parametrize("alias,name", [(a, c.name) for c in COMMANDS for a in c.aliases]
                         + [(a, c.name) for c in COMMANDS for a in c.presets])
def test_every_alias_names_its_command(alias, name):
    parsed = parse(f"/{alias}")
    assert isinstance(parsed, Call) and parsed.command.name == name


@pytest.mark.parametrize("line,expected", [
    ("/shelf", ("shelf show", {})), ("/shelf 2", ("shelf show", {"page": 2})),
    ("/shelf want 3", ("shelf want", {"page": 3})), ("/shelf unshare", ("shelf share", {"stop": True})),
    ("/shelf share off", ("shelf share", {"stop": True})), ("/forget yes", ("forget", {"yes": True})),
    ("/forget maybe", ("forget", {"yes": False})), ("/Recommend Dune K=5 rarity=DEEP", ("recommend", {
        "title": "Dune", "count": 5, "rarity": "deep"})), ("/rec n=3", ("recommend", {"count": 3})),
    ("Dune k=3", ("recommend", {"title": "Dune k=3"})),  # a bare title is all title
])
def test_typed_lines_read_as_the_table_says(line, expected):
    parsed = parse(line)
    assert isinstance(parsed, Call) and (parsed.command.name, parsed.values) == expected


@pytest.mark.parametrize("line,kind", [("1", Pick), ("", Info), ("/nope", Error), ("/shelf frobnicate", Error),
                                       ("x" * 3000, Error), ("/recommend k=0", Error)])
def test_what_is_not_a_command_is_said_so(line, kind):
    assert isinstance(parse(line), kind)


def test_help_lists_every_members_command_and_no_admin_one():
    text = TYPED.help("rare")
    for command in MEMBERS:
        assert f"{TYPED.usage(command)} — {command.help}" in text
    assert "/retrain" not in text and "/status" not in text


def test_the_menu_has_each_top_level_word_once_and_no_admin_command():
    names = [name for name, _ in menu()]
    assert names == ["recommend", "book", "shelf", "import", "forget", "help"]
    assert all(3 <= len(text) <= 256 for _, text in menu())  # Telegram's limits for a description


@pytest.mark.parametrize("action", [
    Action(Do.READ, key="dune|herbert frank"), Action(Do.ADD, key="k", rating=5), Action(Do.ADD, key="k"),
    Action(Do.RECOMMEND, key="k", count=3, rarity="any", page=1, lang="de"),
    Action(Do.SHELF_RECS, count=10, rarity="rare", page=2, scope="telegram:-100"),
    Action(Do.PAGE, page=1, shelf="want"), Action(Do.CLEAR, reader="discord:1"), Action(Do.CANCEL, reader="x:2"),
], ids=lambda a: a.do.value)
def test_an_action_decodes_to_itself_and_keeps_its_token(action):
    assert Action.decode(action.encode()) == action
    assert action.token == Action.decode(action.encode()).token and len(action.token) == 12


def test_actions_stored_by_the_previous_version_still_decode():
    """Buttons sent before the upgrade wait in the shelf store as the old payload dicts."""
    old = {"do": "recommend", "key": "solaris|lem stanislaw", "k": 3, "rarity": "any", "page": 1, "lang": None}
    assert Action.decode(json.dumps(old)) == Action(Do.RECOMMEND, key="solaris|lem stanislaw", count=3, rarity="any",
                                                    page=1)
    assert Action.decode({"do": "add", "rating": None, "key": "k"}) == Action(Do.ADD, key="k")
    for unreadable in ("", "not json", '{"do": "explode"}', "[]", None):
        assert Action.decode(unreadable) is None
