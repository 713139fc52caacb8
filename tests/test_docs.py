"""Every `rarereads` command and every rarity name is documented, and the bots take their names
from the one list (`engine.rarity.RARITIES`), never a second one (sqlite-utils' test_docs.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.rarity import RARITIES
from rarereads.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BOTS = (ROOT / "docs" / "BOTS.md").read_text()


def _subparser(command: str):
    parser = build_parser(command)
    return next(a for a in parser._actions if a.dest == "command").choices[command]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_is_in_the_readme_and_has_help(command):
    assert re.search(rf"`rarereads {command}\b", README), f"README's command-line table lacks rarereads {command}"
    sub = _subparser(command)
    assert sub.description
    for action in sub._actions:
        if action.dest != "help":
            assert action.help, (command, action.dest)


@pytest.mark.parametrize("name", list(RARITIES))
def test_every_rarity_is_documented_and_offered_everywhere(name):
    assert f"| `{name}`" in README, f"README's rarity table lacks {name}"
    from bot.commands import RARITY
    from bot.wording import TYPED

    assert RARITY.choices[name] == RARITIES[name].description  # the chat option's choices are engine.rarity's
    dialects = [TYPED] + [pytest.importorskip(f"bot.{platform}_bot").SAY for platform in ("telegram", "discord")]
    for dialect in dialects:
        assert f"{name} ({RARITIES[name].description})" in dialect.help(name)
    for command in ("recommend", "chat"):
        rarity = next(a for a in _subparser(command)._actions if "--rarity" in a.option_strings)
        assert name in rarity.choices and name in rarity.help
    discord_bot = pytest.importorskip("bot.discord_bot")
    recommend = next(c for c in discord_bot.app_command_tree() if c.name == "recommend")
    assert name in [choice.value for choice in recommend._params["rarity"].choices]


def test_every_setting_in_env_example_is_read_and_every_read_setting_is_documented():
    """.env.example is checked against the settings model, not against source text."""
    from bot.settings import Settings, load_settings
    from rarereads.settings import env_names

    example = re.findall(r"^(RAREREADS_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    assert len(example) == len(set(example)), "listed twice in .env.example"
    assert set(example) - set(env_names(Settings)) == set(), "in .env.example but never read"
    assert set(env_names(Settings)) - set(example) == set(), "read but not in .env.example"
    settings = load_settings(env_file=ROOT / ".env.example")  # and every value it shows is a valid one
    assert (settings.default_rarity, settings.rate_limit) == (Settings.model_fields["default_rarity"].default,
                                                              Settings.model_fields["rate_limit"].default)


def _chat_commands():
    from bot.commands import COMMANDS

    return COMMANDS


@pytest.mark.parametrize("command", _chat_commands(), ids=lambda c: c.name)
def test_every_chat_command_is_in_the_bots_guide_and_has_help(command):
    """The guide, /help and the platforms' descriptions all come from one table: each entry is complete."""
    assert f"/{command.name}" in BOTS, command.name
    assert command.help and len(command.help) <= 100  # Discord's limit for a description
    for option in command.options:
        assert option.help and len(option.help) <= 100, (command.name, option.name)
        assert option.label or option.type is bool, (command.name, option.name)
    from bot.wording import TYPED

    if not command.admin:
        assert TYPED.usage(command) in TYPED.help("rare")
