"""Stands in for `python -m rarereads train --extra-likes CSV` in retrain tests (no torch, ~0.2 s).

Usage: fake_trainer.py --models-dir DIR --extra-likes CSV [--extra-negatives CSV]
       --mode ok|fail|worse|nothing|fail-after-writing|unloadable|nan|hang [--flavour a|b] [--sleep S]
       [--env-out FILE] [--pid-out FILE]
Writes a tiny model folder into DIR and prints progress like a trainer. `hang` starts a
child process that sleeps (both pids go to --pid-out) and never ends by itself.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root
sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import make_model  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--extra-likes", required=True)
parser.add_argument("--extra-negatives", default=None)
parser.add_argument("--models-dir", default=None)
parser.add_argument("--mode", default="ok")
parser.add_argument("--flavour", default="b")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--env-out", default=None)
parser.add_argument("--pid-out", default=None)
args = parser.parse_args()

if args.env_out:
    Path(args.env_out).write_text(json.dumps(dict(os.environ)))
with open(args.extra_likes, newline="") as handle:
    likes = list(csv.DictReader(handle))
print(f"read {len(likes)} extra likes", flush=True)
if args.extra_negatives:
    with open(args.extra_negatives, newline="") as handle:
        negatives = list(csv.DictReader(handle))
    print(f"read {len(negatives)} extra negatives: " + "; ".join(f"{r['reader']} {r['title']}" for r in negatives),
          flush=True)
if args.mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    Path(args.pid_out).write_text(f"{os.getpid()} {child.pid}")
    print("training forever", flush=True)
    time.sleep(120)
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
                    args.flavour, metric, nan=args.mode == "nan")
if args.mode == "unloadable":  # a folder that looks finished but does not load
    (folder / "vectors.npz").write_bytes(b"not an npz")
print(f"wrote {folder}", flush=True)
if args.mode == "fail-after-writing":
    print("RuntimeError: the evaluation crashed (pretend)", file=sys.stderr, flush=True)
    sys.exit(4)
