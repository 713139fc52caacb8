"""Layers point one way, and the serving side never loads torch, discord or telegram.

`engine/` is the library; `train/` and `bot/` use it and never each other; `evaluation/` uses
the engine and the trainer; `tools/` (benchmarks and developer tools) may use any of those,
and none of them uses a tool. The `rarereads` package (the command-line dispatcher and
default paths) belongs to no layer: the others may read `rarereads.paths` and
`rarereads.settings`, and the dispatcher names command modules by string.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "discord", "telegram")
PACKAGES = ("engine", "train", "evaluation", "tools", "bot", "rarereads")
# What each package may import from the project (a module, or anything under it).
ALLOWED = {
    "engine": {"engine"},
    "train": {"train", "engine", "rarereads.paths", "rarereads.settings"},
    "evaluation": {"evaluation", "engine", "train", "rarereads.paths", "rarereads.settings"},
    "tools": {"tools", "engine", "train", "evaluation", "rarereads.paths", "rarereads.settings"},
    "bot": {"bot", "engine", "rarereads.paths", "rarereads.settings"},
    "rarereads": {"rarereads"},
}


def _project_imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a project module in `source`, a module of `package`.

    Function-level imports count, and so do `importlib.import_module("...")` calls with a literal.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [f"{module}.{a.name}" if not node.module else module for a in node.names]
            else:
                names = [node.module or ""]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names = [str(node.args[0].value)]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in PACKAGES]
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_import_only_what_they_may(package):
    allowed = ALLOWED[package]
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in _sources(package)
             for line, name in _project_imports(path.read_text(), ".".join(path.relative_to(ROOT).parts[:-1]))
             if not any(name == a or name.startswith(a + ".") for a in allowed)]
    assert not wrong, "\n".join(wrong)


def test_the_direction_check_sees_every_kind_of_import():
    """The parser above catches absolute, relative, function-level and importlib imports."""
    source = ("import numpy\ndef f():\n    from bot import service\n    import importlib\n"
              "    importlib.import_module('bot.serve')\nfrom . import config\nfrom .sampler import x\n"
              "from ..bot import y\nimport rarereads.paths\n")
    names = sorted(name for _, name in _project_imports(source, "train"))
    assert names == ["bot", "bot", "bot.serve", "rarereads.paths", "train.config", "train.sampler"]


def test_console_script_points_at_the_neutral_dispatcher():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["rarereads"] == "rarereads.cli:main"
    from rarereads.cli import COMMANDS

    for name, (module, _) in COMMANDS.items():
        assert (ROOT / Path(*module.split("."))).with_suffix(".py").exists(), (name, module)


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
    loaded = _loaded_after("from rarereads.cli import build_parser\nbuild_parser('chat')\nbuild_parser('recommend')")
    assert not loaded & set(HEAVY)
    assert "train" not in loaded  # chatting never loads the trainer's modules either
