"""The serving side never loads torch, discord or telegram (checked in a fresh interpreter)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "discord", "telegram")


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_engine_and_chat_stay_light():
    loaded = _loaded_after("import engine, engine.recommender, engine.matcher, engine.shelf, engine.rarity\n"
                           "import bot.service, bot.chat, bot.oneshot")
    assert "engine" in loaded and "bot" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_cli_parser_for_chat_and_recommend_stays_light():
    loaded = _loaded_after("from bot.cli import build_parser\nbuild_parser('chat')\nbuild_parser('recommend')")
    assert not loaded & set(HEAVY)


def test_commands_have_help_text():
    from bot.cli import build_parser

    for command in ("chat", "recommend"):
        parser = build_parser(command)
        sub = next(a for a in parser._actions if a.dest == "command").choices[command]
        assert sub.description
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, (command, action.dest)
