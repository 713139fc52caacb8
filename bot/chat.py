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

from engine.rarity import RARITIES

from .settings import Settings, add_setting_flags

log = logging.getLogger(__name__)

WELCOME = f"""rarereads: rare books that readers of your favourites loved.
Try:  Dune            (just a title)
      /recommend The Hobbit k=5 rarity={list(RARITIES)[-1]}
      /shelf add Dune rating=5     then /recommend for your whole shelf
      /book Solaris   /help   /quit"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_setting_flags(parser, "models_dir", "model", "db", "default_rarity")


def find_or_train_model(model: Path | None, models_dir: Path) -> Path | None:
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

    from .settings import SettingsError, flag_values, load_settings

    try:
        settings = load_settings(**flag_values(args, Settings))
    except SettingsError as exc:
        print(f"rarereads chat: {exc}", file=sys.stderr)
        return 2
    try:  # first the store: it holds the gate's record of which folder serves
        shelves = open_shelves(settings.db)
    except ShelfStoreError as exc:
        print(f"rarereads chat: {exc} (--db or RAREREADS_DB)", file=sys.stderr)
        return 2
    try:
        gate = ModelGate(settings.models_dir, shelves)
        engine, notes = serving_engine(gate, find_or_train_model(settings.model, settings.models_dir))
    except ModelFolderError as exc:
        shelves.close()
        print(f"Cannot load the model: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(note, file=sys.stderr)
    service = Service(EngineHolder(engine), shelves, default_rarity=settings.default_rarity,
                      max_import_rows=settings.import_max_rows)
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
