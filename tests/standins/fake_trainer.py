"""Stands in for `python -m rarereads train --extra-likes CSV` in retrain tests (no torch, ~0.2 s).

Usage: fake_trainer.py --models-dir DIR --extra-likes CSV --mode ok|fail|worse|nothing [--flavour a|b] [--sleep S]
Writes a tiny model folder into $RAREREADS_MODELS_DIR and prints progress like a trainer.
"""
import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root
sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import make_model  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--extra-likes", required=True)
parser.add_argument("--models-dir", default=None)
parser.add_argument("--mode", default="ok")
parser.add_argument("--flavour", default="b")
parser.add_argument("--sleep", type=float, default=0.0)
args = parser.parse_args()

with open(args.extra_likes, newline="") as handle:
    likes = list(csv.DictReader(handle))
print(f"read {len(likes)} extra likes", flush=True)
for epoch in range(1, 4):
    time.sleep(args.sleep / 3)
    print(f"epoch {epoch}/3 loss {1.0 / epoch:.3f}", flush=True)
if args.mode == "fail":
    print("RuntimeError: CUDA out of memory (pretend)", file=sys.stderr, flush=True)
    sys.exit(3)
if args.mode == "nothing":
    sys.exit(0)
metric = 0.05 if args.mode == "worse" else 0.33
folder = make_model(args.models_dir or os.environ["RAREREADS_MODELS_DIR"], f"29990101-{os.getpid():06d}-{args.flavour}",
                    args.flavour, metric)
print(f"wrote {folder}", flush=True)
