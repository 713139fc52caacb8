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
    from bot.dialects import DIALECTS, TERMINAL

    for dialect in (TERMINAL, *DIALECTS.values()):
        assert f"{name} ({RARITIES[name].description})" in dialect.help(name, 10)
    for command in ("recommend", "chat"):
        rarity = next(a for a in _subparser(command)._actions if a.dest == "rarity")
        assert name in rarity.choices and name in rarity.help
    discord_bot = pytest.importorskip("bot.discord_bot")
    assert name in [c.value for c in discord_bot.RARITY_CHOICES] and name in discord_bot.RARITY_HELP


def test_every_setting_in_env_example_is_read_and_every_read_setting_is_documented():
    example = set(re.findall(r"^(RAREREADS_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    source = (ROOT / "bot" / "settings.py").read_text() + (ROOT / "rarereads" / "paths.py").read_text()
    read = {n if n.startswith("RAREREADS_") else f"RAREREADS_{n}"
            for n in re.findall(r'"(RAREREADS_[A-Z_]+)"|get\("([A-Z_]+)"', source) for n in n if n}
    read |= {f"RAREREADS_{p.upper()}_{what}" for p in ("discord", "telegram") for what in ("TOKEN", "ADMINS")}
    assert example - read == set(), "in .env.example but never read"
    assert read - example == set(), "read but not in .env.example"


def test_every_chat_command_is_in_the_bots_guide():
    for command in ("/recommend", "/book", "/shelf show", "/shelf add", "/shelf remove", "/shelf clear",
                    "/shelf import", "/shelf want", "/shelf share", "/forget", "/help", "/retrain", "/status"):
        assert command in BOTS, command
