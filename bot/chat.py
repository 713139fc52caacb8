"""`rarereads chat`: talk to rarereads in this terminal.

Uses `bot.service.Service` exactly as the chat platforms do, as reader
"local:<os user>". Works with piped input too (`echo "/recommend Dune" | rarereads chat`).
"""
from __future__ import annotations

import argparse
import getpass
import logging
import subprocess
import sys
from pathlib import Path

from engine.rarity import DEFAULT_RARITY, RARITIES
from engine.shelf import shown_location
from rarereads.paths import DEFAULT_DB, DEFAULT_MODELS_DIR

log = logging.getLogger(__name__)

WELCOME = f"""rarereads: rare books that readers of your favourites loved.
Try:  Dune            (just a title)
      /recommend The Hobbit k=5 rarity={list(RARITIES)[-1]}
      /shelf add Dune rating=5     then /recommend for your whole shelf
      /book Solaris   /help   /quit"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help=f"model folder (default: the newest in {DEFAULT_MODELS_DIR}, trained first if none)")
    parser.add_argument("--db", default=DEFAULT_DB,
                        help=f"shelf store: a SQLite file or a postgresql:// URL (default: {shown_location(DEFAULT_DB)})")
    parser.add_argument("--rarity", default=DEFAULT_RARITY, choices=list(RARITIES),
                        help=f"default rarity: {', '.join(RARITIES)} (default: {DEFAULT_RARITY})")


def find_or_train_model(model: Path | None, models_dir: Path = DEFAULT_MODELS_DIR) -> Path | None:
    """The model folder to serve: `model`, else (after training one if there is none) None, which
    lets the retrain gate choose among the folders in `models_dir`."""
    from engine.modelfolder import latest_model_folder

    if model is not None or latest_model_folder(models_dir) is not None:
        return model
    print(f"No model in {models_dir} yet: training the default model first (a few minutes)...", flush=True)
    # A child process: torch stays out of this one, and its progress prints straight through.
    code = subprocess.call([sys.executable, "-m", "rarereads", "train", "--models-dir", str(models_dir)])
    if code != 0:
        raise SystemExit(f"Training failed (exit code {code}). Run `rarereads train` to see why.")
    return None


def run(args: argparse.Namespace) -> int:
    from bot.gate import ModelGate, serving_engine
    from bot.service import Service
    from engine.errors import ModelFolderError, ShelfStoreError
    from engine.recommender import EngineHolder
    from engine.shelf import open_shelves, printable

    try:  # first the store: it holds the gate's record of which folder serves
        shelves = open_shelves(args.db)
    except ShelfStoreError as exc:
        print(f"rarereads chat: {exc} (--db or RAREREADS_DB)", file=sys.stderr)
        return 2
    try:
        engine, notes = serving_engine(ModelGate(DEFAULT_MODELS_DIR, shelves), find_or_train_model(args.model))
        service = Service(EngineHolder(engine), shelves, default_rarity=args.rarity)
    except ModelFolderError as exc:
        shelves.close()
        print(f"Cannot load the model: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        shelves.close()
        print(exc, file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    reader = local_reader()
    interactive = sys.stdin.isatty()
    if hasattr(sys.stdin, "reconfigure"):  # a byte that is not UTF-8 becomes U+FFFD, not a crash
        sys.stdin.reconfigure(errors="replace")
    print(WELCOME)
    print(f"(model {engine.version}, {engine.n_works:,} books)\n", flush=True)
    try:
        while True:
            if interactive:
                try:
                    line = input("> ")
                except EOFError:
                    break
            else:
                line = sys.stdin.readline()
                if not line:
                    break
                line = printable(line.rstrip("\n"))  # never echo escape sequences to the terminal
                print(f"> {line}")
            if line.strip().lower() in ("/quit", "/exit", "quit", "exit"):
                break
            if not line.strip():
                continue
            print(printable(service.handle_text(reader, printable(line)).text) + "\n", flush=True)
    except KeyboardInterrupt:
        print()
    finally:
        shelves.close()
    return 0


def local_reader(name: str | None = None) -> str:
    """The terminal's reader id: "local:<name>" (by default this machine's login name)."""
    if name and ":" in name:
        return name
    try:
        name = name or getpass.getuser() or "me"
    except (KeyError, OSError):  # no login name in some containers
        name = "me"
    return f"local:{name}"
