"""`rarereads` command line: one subcommand per job, each defined in its own module.

A command module exposes `add_arguments(parser)` and `run(args) -> int`. Command modules
import only the standard library and `engine` at module level; heavy libraries (torch,
discord, telegram) are imported inside `run`, so `rarereads chat` never loads torch.
This dispatcher names the modules by string and imports only the one a command needs:
it belongs to no layer, and no layer imports it.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = {
    "prepare": ("train.prepare", "turn raw data files into a compact dataset"),
    "train": ("train.cli", "train a model and write a model folder"),
    "eval": ("evaluation.cli", "evaluate a model against baselines"),
    "recommend": ("bot.oneshot", "recommend books for one title (for scripts)"),
    "chat": ("bot.chat", "chat with rarereads in this terminal"),
    "import": ("bot.importer", "import a Goodreads or StoryGraph export into a shelf"),
    "serve": ("bot.serve", "run the Discord and/or Telegram bots"),
    "shelves": ("bot.shelves", "copy every reader's data from one shelf store into another (SQLite, PostgreSQL)"),
    "bench": ("tools.bench.cli", "measure speed and memory"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """Parser for all commands; only `selected`'s module is imported to add its arguments."""
    parser = argparse.ArgumentParser(prog="rarereads", description="Rare book recommendations from readers' likes.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `rarereads recommend ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
