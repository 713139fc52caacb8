"""A blind side-by-side read of two recommenders' rare picks (a developer's tool, not a user command).

    python -m tools.blindread picks --model FOLDER --draw 7 --out a.json    # 20 seeds drawn at random, 10 rare picks each
    python -m tools.blindread picks --model FOLDER --draw 7 --mixed --out a.json   # among seeds of two genres
    python -m tools.blindread ease --out var/ease-folder                    # EASE served by the same engine
    python -m tools.blindread picks --model var/ease-folder --seeds-from a.json --out b.json   # the same seeds
    python -m tools.blindread lists a.json b.json ... --out DIR             # shuffled, unlabelled lists + key
    python -m tools.blindread score DIR/key.json DIR/scores.json            # un-blind the judge's scores
    python -m tools.blindread fits --model FOLDER docs/reads/draw-*         # judged picks by genre fit and co-readers

Seeds are drawn at random for each read (`--draw SEED`: `SEEDS_DRAWN` of the model's
`DRAW_FROM` most-liked works, with that random seed, recorded in the output), never a
fixed list: tuning on a fixed list of seeds does not carry over to the seeds nobody named.

The judge (someone who has not seen which list is which) gets only `DIR/lists.md`, which
holds the scoring rule, and returns `scores.json`: for each seed, a score 0-2 per pick of
each list and the lists in the order they prefer them. `score` reports mean fit, the share
of mismatches (score 0), how often each run was preferred to each other, and the picks'
co-reader support.

EASE is served through the same `Engine.recommend` as rarereads (the same rarity setting,
support floor, language and kind rules, series and author limits): a model folder with no
embedding and EASE's weights pruned to each work's 100 largest as its
co-like table (`evaluation.baselines.write_ease_folder`), so the two lists differ only
in the model.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

DRAW_FROM = 300  # seeds are drawn from the model's most-liked works
SEEDS_DRAWN = 20
PICKS = 10
RULE = """Scoring rule. For each seed book there are {count} lists of ten books ({letters}), meant
for a reader who loved the seed and wants *rare* books: good ones they have probably not heard
of. Score every book for fit with that reader:

- 2: a reader who loved the seed would very likely love this book (same pleasures: genre,
  tone, ambition or subject), and it is a real book to read, in the seed's language;
- 1: plausible: some readers of the seed would enjoy it, or it fits only loosely;
- 0: a mismatch: no reason to give it to this reader (another genre or audience entirely, a
  children's picture book for an adult novel, a workbook, a study guide, a reference book,
  a book in another language than the seed, or the seed itself / its own sequel series).

Then order the lists from the one you would most rather hand this reader to the least
("order", best first; lists you find equally good may be in either order).
Answer as JSON: {{"<seed>": {{{example}, "order": [{order}]}}, ...}}."""


def rule(count: int) -> str:
    """The scoring rule for `count` lists per seed."""
    letters = LETTERS[:count]
    return RULE.format(count=count, letters=", ".join(letters),
                       example=", ".join(f'"{x}": [ten scores]' for x in letters),
                       order=", ".join(f'"{x}"' for x in letters))


LETTERS = "ABCDEF"


def draw_seeds(engine, draw: int, n: int = SEEDS_DRAWN, among: int = DRAW_FROM, mixed: bool = False) -> list[int]:
    """`n` work ids drawn at random (`numpy.random.default_rng(draw)`) from the `among` most-liked works;
    with `mixed`, from those of them whose genre profile has two genres or more of `OWN_SHARE` (1984:
    literary and science fiction), a read of the stratum a change to mixed profiles touches."""
    order = np.argsort(-np.asarray(engine.likes), kind="stable")[:among]
    if mixed:
        from engine.profiles import OWN_SHARE

        order = order[(engine.profiles.genres(order) >= OWN_SHARE).sum(axis=1) >= 2]
    return [int(i) for i in np.random.default_rng(draw).choice(order, size=min(n, len(order)), replace=False)]


def picks(model: Path, out: Path, rarity: str = "rare", draw: int | None = None, seeds_from: Path | None = None,
          mixed: bool = False) -> None:
    """The first `PICKS` picks of the model for each seed, with the facts the read reports.

    The seeds are drawn with `draw`, or are those of an earlier `picks` file (`seeds_from`:
    the same books, found by their work keys, so two models are read on the same seeds).
    """
    from engine.recommender import Engine

    engine = Engine.from_folder(model, check_hashes=False)
    if seeds_from is not None:
        earlier = json.loads(Path(seeds_from).read_text())
        works = [engine.work_by_key(key) for key in earlier["seeds"]]
        if any(w is None for w in works):
            raise ValueError(f"{model} lacks seeds of {seeds_from}")
        draw = earlier["draw"]
    elif draw is not None:
        works = [engine.work(i) for i in draw_seeds(engine, draw, mixed=mixed)]
    else:
        raise ValueError("give --draw SEED (a new random draw) or --seeds-from an earlier picks file")
    result = {}
    for work in works:
        answer = engine.recommend([work], k=PICKS, rarity=rarity)
        result[work.key] = {"seed": work.label, "likes": work.likes, "picks": [
            {"label": p.work.label, "likes": p.work.likes, "support": p.support, "reason": p.reason}
            for p in answer.picks]}
    stratum = earlier.get("stratum", "") if seeds_from is not None else ("mixed" if mixed else "")
    out.write_text(json.dumps({"model": str(model), "rarity": rarity, "draw": draw, **({"stratum": stratum} if stratum else {}),
                               "seeds": result}, indent=2) + "\n")


def ease_folder(out: Path, dataset_path: Path, lam: float, models_dir: Path | None = None) -> None:
    """A model folder serving EASE through the same engine (`evaluation.baselines.write_ease_folder`),
    never in the models folder (`models_dir`: the settings'), where the chat and the bots would serve it
    as the newest model."""
    from engine.dataset import Dataset
    from evaluation.baselines import write_ease_folder
    from rarereads.settings import PathSettings

    models_dir = Path(models_dir if models_dir is not None else PathSettings().models_dir)
    if Path(out).resolve().parent == models_dir.resolve():
        raise SystemExit(f"{out} is in the models folder, where `rarereads chat` and the bots would serve EASE as "
                         "the newest model; write it elsewhere, e.g. --out var/ease-folder")
    write_ease_folder(out, Dataset.load(dataset_path), lam)


def lists(runs: list[Path], out: Path, seed: int = 0) -> None:
    """`lists.md` for the judge (the runs' lists shuffled per seed, lettered A, B, ...) and
    `key.json` (which letter is which run, per seed)."""
    if not 2 <= len(runs) <= len(LETTERS):
        raise ValueError(f"a blind read compares 2 to {len(LETTERS)} runs, not {len(runs)}")
    data = [json.loads(path.read_text()) for path in runs]
    rng = random.Random(seed)
    key, lines = {}, ["# Blind read", "", rule(len(runs)), ""]
    if any(set(d["seeds"]) != set(data[0]["seeds"]) for d in data):
        raise ValueError("the runs were picked for different seeds (use picks --seeds-from)")
    for name in data[0]["seeds"]:
        order = list(range(len(runs)))
        rng.shuffle(order)
        heading = data[0]["seeds"][name]["seed"]
        key[name] = {"heading": heading, "lists": {letter: str(runs[which]) for letter, which in zip(LETTERS, order)}}
        lines += [f"## {heading}", ""]
        for letter, which in zip(LETTERS, order):
            lines.append(f"List {letter}:")
            lines += [f"{i}. {p['label']}" for i, p in enumerate(data[which]["seeds"][name]["picks"], 1)]
            lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    (out / "lists.md").write_text("\n".join(lines) + "\n")
    (out / "key.json").write_text(json.dumps(key, indent=2) + "\n")


def score(key_path: Path, scores_path: Path) -> dict:
    """Un-blind. Per run: mean fit, mismatch share, seeds where it was the judge's first
    choice, seeds where it was ordered above each other run (`preferred_to`), and the
    co-reader support of its picks."""
    key = json.loads(key_path.read_text())
    scores = json.loads(scores_path.read_text())
    systems: dict[str, dict] = {}
    for seed, entry in key.items():
        sides = entry["lists"]
        judged = scores[seed] if seed in scores else scores[entry["heading"]]  # the judge may key by the heading
        order = [sides[letter] for letter in judged["order"]]
        for letter, run_path in sides.items():
            system = systems.setdefault(run_path, {"scores": [], "first": 0, "above": {}, "support": [], "likes": []})
            run = json.loads(Path(run_path).read_text())
            listed = len(run["seeds"][seed]["picks"])
            if len(judged[letter]) != listed:
                raise ValueError(f"{seed}: list {letter} has {len(judged[letter])} scores, not {listed}")
            system["scores"] += judged[letter]
            system["first"] += order[0] == run_path
            for other in order[order.index(run_path) + 1:]:
                system["above"][other] = system["above"].get(other, 0) + 1
            system["support"] += [p["support"] for p in run["seeds"][seed]["picks"]]
            system["likes"] += [p["likes"] for p in run["seeds"][seed]["picks"]]
    report = {}
    for name, s in systems.items():
        values, support = np.array(s["scores"], float), np.array(s["support"])
        report[name] = {"mean_fit": round(float(values.mean()), 3), "mismatch_share": round(float((values == 0).mean()), 3),
                        "seeds_first": int(s["first"]), "preferred_to": {o: s["above"].get(o, 0) for o in systems if o != name},
                        "picks": int(len(values)), "picks_on_0_co_readers": int((support == 0).sum()),
                        "picks_on_1_co_reader": int((support == 1).sum()),
                        "median_pick_likes": float(np.median(s["likes"])) if s["likes"] else None}
    return report


def judged_picks(model: Path, reads: list[Path]) -> list[dict]:
    """Every judged pick of the reads (folders with key.json and scores.json), with the genre fit
    to its seed that the rules read (`Profiles.fit`, by the folder's profiles; NaN unknown). Picks
    and seeds are found in the folder by label and key; those it lacks are left out."""
    from engine.profiles import Profiles
    from engine.recommender import Engine

    engine = Engine.from_folder(model, check_hashes=False)
    profiles = Profiles(engine.folder.profile)
    by_label: dict[str, int] = {}
    for i in range(len(engine.likes)):
        by_label.setdefault(engine.work(i).label, i)
    rows = []
    for read in reads:
        if not (read / "key.json").exists() or not (read / "scores.json").exists():
            continue
        key, scores = json.loads((read / "key.json").read_text()), json.loads((read / "scores.json").read_text())
        for seed_key, entry in key.items():
            seed, judged = engine.work_by_key(seed_key), scores.get(seed_key) or scores.get(entry["heading"])
            if seed is None or judged is None:
                continue
            mix, adult = profiles.of([seed.id])
            for letter, run_path in entry["lists"].items():
                run = json.loads(Path(run_path).read_text())["seeds"][seed_key]["picks"]
                for pick, value in zip(run, judged[letter]):
                    if (work := by_label.get(pick["label"])) is not None:
                        fit = float(profiles.fit(mix, adult, [work])[0]) if mix.any() else float("nan")
                        rows.append({"read": read.name, "run": Path(run_path).stem, "score": int(value),
                                     "support": int(pick["support"]), "likes": int(pick["likes"]), "fit": fit})
    return rows


def fit_table(rows: list[dict]) -> list[dict]:
    """Judged picks by the rules' genre classes (own genre, neighbouring, another, unknown) and
    co-readers (1-2, 3-4, 5 or more): how many, mean score, share of mismatches."""
    from engine.rules import FITS, OWN_GENRE

    def kind(fit: float) -> str:
        return "unknown" if fit != fit else "own genre" if fit >= OWN_GENRE else "neighbouring" if fit >= FITS else "another"

    def band(support: int) -> str:
        return "1-2" if support <= 2 else "3-4" if support <= 4 else "5+"

    groups: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        groups.setdefault((kind(row["fit"]), band(row["support"])), []).append(row["score"])
    order = {k: i for i, k in enumerate(("own genre", "neighbouring", "another", "unknown", "1-2", "3-4", "5+"))}
    return [{"genre": g, "co_readers": b, "picks": len(v), "mean_fit": round(float(np.mean(v)), 3),
             "mismatch_share": round(float(np.mean(np.array(v) == 0)), 3)}
            for (g, b), v in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]]))]


def main(argv: list[str] | None = None) -> int:
    from rarereads.paths import DEFAULT_DATASET

    parser = argparse.ArgumentParser(prog="python -m tools.blindread", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("picks")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rarity", default="rare")
    p.add_argument("--draw", type=int, help="draw the seeds at random with this seed (recorded in the output)")
    p.add_argument("--seeds-from", type=Path, help="the seeds of an earlier picks file (another model, same seeds)")
    p.add_argument("--mixed", action="store_true", help="draw among the works with two genres in their profile")
    e = sub.add_parser("ease")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    e.add_argument("--lambda", dest="lam", type=float, default=100.0, help="EASE's ridge penalty (the evaluation's choice)")
    lst = sub.add_parser("lists")
    lst.add_argument("runs", type=Path, nargs="+", help="two or more `picks` files")
    lst.add_argument("--out", type=Path, required=True)
    lst.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("score")
    s.add_argument("key", type=Path)
    s.add_argument("scores", type=Path)
    f = sub.add_parser("fits")
    f.add_argument("--model", type=Path, required=True, help="the folder whose profiles and works the picks are read by")
    f.add_argument("reads", type=Path, nargs="+", help="read folders (key.json, scores.json and the runs they name)")
    args = parser.parse_args(argv)
    if args.command == "picks":
        picks(args.model, args.out, args.rarity, args.draw, args.seeds_from, args.mixed)
    elif args.command == "ease":
        ease_folder(args.out, args.dataset, args.lam)
    elif args.command == "lists":
        lists(args.runs, args.out, args.seed)
    elif args.command == "fits":
        columns = ("genre", "co_readers", "picks", "mean_fit", "mismatch_share")
        print("| " + " | ".join(columns) + " |\n|---|---|---:|---:|---:|")
        for row in fit_table(judged_picks(args.model, args.reads)):
            print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    else:
        print(json.dumps(score(args.key, args.scores), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
