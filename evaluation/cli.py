"""`rarereads eval`: rarereads' models and the strongest simple recommenders, on equal terms.

Equal terms (the protocols: `evaluation.protocol`; the metrics: `evaluation.metrics`):

- Every method is fitted on the same training likes, and ranks every work except the
  reader's shelf.
- Every method's hyperparameters (the baselines' and rarereads' own) are chosen on a
  validation split carved from the training likes by the same protocol, never on the test
  split (`evaluation.search`: recall under `any` plus popularity-stratified recall under the
  default rarity). The choices are kept in `evaluation/chosen.json` and reused; `--tune`
  searches again and rewrites them.
- Every method's list goes through the same rarity setting (`engine.rarity.adjust`, the
  engine's own function), which works on ranks and co-reader counts, not on scores, so no
  method's scale favours or hurts it.
- `--served` (on by default for `elsa` and `ease`) answers the protocol through
  `Engine.recommend` with every list rule (`engine.rules`): what readers actually get,
  EASE served through the very same rules; `--rule-costs` measures each rule's cost by
  turning it off alone.

Methods: rarereads' models from `train.registry` (`elsa`, the default; `skipgram`; `mf`) and
the baselines of `evaluation.baselines` (`popularity`, `itemknn`, `rp3beta`, `als`, `ease`).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from engine import rarity as rarity_mod
from engine.dataset import Dataset
from engine.errors import RarereadsError

log = logging.getLogger("evaluation")

SERVED_BY_DEFAULT = ("elsa", "ease")


def methods() -> tuple[str, ...]:
    """Every method's name: rarereads' models (the registry's), then the baselines."""
    from train.registry import MODELS

    from .baselines import BASELINES

    return tuple(MODELS) + tuple(BASELINES)


def _parse_key_values(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{what} takes KEY=VALUE, not {item!r}")
        pairs[key.strip().replace("-", "_")] = value.strip()
    return pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rarereads.paths import DEFAULT_DATASET

    from .protocol import K, PROTOCOLS, SEED

    names = methods()
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="dataset folder (default: %(default)s)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="readme",
                        help="readme: readers hold out 20%% of their likes; new-readers: 10%% of readers are "
                             "held out of training and bring 80%% of their likes as a shelf (default: %(default)s)")
    parser.add_argument("--model", type=Path, help="model folder: evaluate its config and save eval.md/eval.json into it")
    parser.add_argument("--methods", default=",".join(names),
                        help=f"comma-separated methods among {', '.join(names)} (default: all)")
    parser.add_argument("--rarities", default=",".join(rarity_mod.RARITIES),
                        help=f"comma-separated rarity settings among {', '.join(rarity_mod.RARITIES)} (default: all)")
    parser.add_argument("--model-config", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting of rarereads' models (repeatable), e.g. dim=64; it is not tuned")
    parser.add_argument("--tune", action="store_true",
                        help="search the methods' grids on the validation split again and record the choices in "
                             "evaluation/chosen.json (without it, the recorded choices are used; with --methods, "
                             "those methods' choices are replaced)")
    parser.add_argument("--chosen", default=None, metavar="JSON",
                        help="settings to use instead of the recorded ones, as a JSON object method -> settings "
                             '(e.g. {"ease": {"lambda": 100}})')
    parser.add_argument("--served", default=",".join(SERVED_BY_DEFAULT), metavar="METHODS",
                        help="methods also answered through Engine.recommend with every list rule, what readers get "
                             "(default: %(default)s; 'none' for none)")
    parser.add_argument("--served-rarities", default=rarity_mod.DEFAULT_RARITY, metavar="RARITIES",
                        help="the rarities served (default: %(default)s; reader by reader is the slow part)")
    parser.add_argument("--rule-costs", action="store_true",
                        help="also serve the default rarity with each list rule turned off alone (its cost)")
    parser.add_argument("-k", type=int, default=K, help="list length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="split seed (default: %(default)s)")
    parser.add_argument("--on", choices=("test", "validation"), default="test",
                        help="the split measured: the test split, or the validation split carved from its training "
                             "likes, to choose a setting among a few by figures the search does not use (served "
                             "recall, with --model-config) without looking at the test split (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256, help="readers scored at once (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a Markdown table")


def _names(text: str, known, what: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip() and m.strip() != "none"]
    unknown = [m for m in names if m not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {', '.join(unknown)}; choose among {', '.join(known)}")
    return names


def run(args: argparse.Namespace) -> int:
    from train.registry import MODELS

    from .baselines import BASELINES, Method
    from .lists import evaluate_scorers
    from .metrics import json_value, markdown_table
    from .models import OurModels
    from .protocol import make_split
    from .search import choose, read_chosen, read_search, write_chosen
    from .served import ServedFolders, rule_costs, served_rows

    started = time.perf_counter()
    names = _names(args.methods, methods(), "method(s)")
    rarities = _names(args.rarities, tuple(rarity_mod.RARITIES), "rarity setting(s)")
    asked = args.served.split(",") if args.served != ",".join(SERVED_BY_DEFAULT) else []
    _names(",".join(asked), methods(), "served method(s)")  # only methods the run can serve
    served = [m for m in args.served.split(",") if m in names]
    served_rarities = _names(args.served_rarities, tuple(rarity_mod.RARITIES), "rarity setting(s)")
    try:
        overrides = model_overrides(args)
        dataset = Dataset.load(args.dataset)
    except RarereadsError as exc:
        raise SystemExit(f"rarereads eval: {exc}") from None
    if args.on == "validation" and args.tune:
        raise SystemExit("rarereads eval: --tune chooses on the validation split already; measure --on test")
    split = make_split(*dataset.likes(), seed=args.seed, protocol=args.protocol)
    validation = split.validation(args.seed + 1)
    if args.on == "validation":  # measured on the validation split; a search, if any, on one carved from it
        split, validation = validation, validation.validation(args.seed + 2)
    log.info("%s %s split: %d training likes, %d readers evaluated (%d shelf likes, %d held out), %d works",
             args.protocol, args.on, len(split.train_user), len(split.readers), len(split.shelf_user), len(split.test_user),
             split.n_works)

    ours = OurModels(dataset)
    folder_model = overrides.pop("model", None)
    if folder_model:  # --model FOLDER: its settings are for its own model only
        names = [m for m in names if m not in MODELS or m == folder_model]
    given = {} if args.tune else read_chosen(args.protocol, dataset.fingerprint())
    given.update(_parse_chosen(args.chosen, names))
    searched = [n for n in names if n not in given]
    if searched and not args.tune:
        log.info("no choices recorded for %s on this dataset and protocol: searching their grids (not recorded; "
                 "--tune records)", ", ".join(searched))
    chosen, scorers, notes = {}, {}, {}
    for name in names:
        if name in MODELS:
            method = ours.method(name, [dict(overrides)] if overrides else None)
        else:
            method = BASELINES[name]
        if name in given and not (name in MODELS and overrides):
            method = Method(method.name, method.fit, [given[name]], method.note)
        params, tried = choose(method, validation, args.k, args.batch_size)
        chosen[name] = {"params": params, "validation": [{"params": p, "objective": round(o, 5)} for p, o in tried]}
        t0 = time.perf_counter()
        scorers[name] = method.fit(split, params)
        notes[name] = method.note
        log.info("%s: %s %s; fitted in %.0f s", name, "chose" if tried else "uses", params or "(no settings)",
                 time.perf_counter() - t0)
    search = {"seed": args.seed, "k": args.k, "dataset": dataset.fingerprint(),
              "objective": "recall@k any + pop_recall@k " + rarity_mod.DEFAULT_RARITY}
    if args.tune and not overrides and not args.chosen:
        # Some methods' choices join the others' only when those were searched the same way.
        if set(names) == set(methods()) or read_search(args.protocol) == search:
            path = write_chosen(args.protocol, {n: chosen[n] for n in names}, search)
            log.info("recorded the choices of %s in %s", ", ".join(names), path)
        else:
            log.warning("not recorded: the other methods' choices were searched otherwise; --tune every method")
    metrics = evaluate_scorers(scorers, split, rarities, args.k, args.batch_size)
    rows = [{"method": m, "rarity": r, **{c: json_value(v) for c, v in metrics[m][r].items()}}
            for m in names for r in rarities]
    params = {name: chosen[name]["params"] for name in names}
    if served or args.rule_costs:
        folders = ServedFolders(split, dataset, scorers)
        try:
            rows += served_rows(folders, ours, params, served, served_rarities, args.k)
            if args.rule_costs:
                rows += rule_costs(folders, ours, params, served, rarity_mod.DEFAULT_RARITY, args.k)
        finally:
            folders.close()
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_tables(rows, names, chosen, notes, markdown_table)
    log.info("evaluated in %.0f s", seconds)
    if args.model:
        from engine.modelfolder import write_eval_results

        command = "rarereads eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "rarereads eval"
        write_eval_results(args.model, rows, {"command": command, "k": args.k, "seed": args.seed,
                                              "protocol": args.protocol, "seconds": round(seconds, 1),
                                              "model_config": overrides, "chosen": chosen}, markdown_table(rows))
    return 0


def print_tables(rows: list[dict], names: list[str], chosen: dict, notes: dict, markdown_table) -> None:
    """The rows as Markdown tables: the figures, what the rules did when served, and the choices."""
    print(markdown_table(rows))
    print()
    served = [row for row in rows if "support0_share" in row]
    if served:
        print("What the list rules did (served): share of picks on 0 and 1 co-readers, candidates passed over "
              "per list by each rule:")
        print(markdown_table(served, ("method", "rarity", "support0_share", "support1_share")
                             + tuple(c for c in served[0] if c.startswith("skipped_"))))
        print()
    print("Chosen on the validation split (objective: recall@k under any + popularity-stratified recall@k under "
          f"{rarity_mod.DEFAULT_RARITY}):")
    for name in names:
        note = f" ({notes[name]})" if notes.get(name) else ""
        print(f"- {name}: {json.dumps(chosen[name]['params']) if chosen[name]['params'] else 'nothing to choose'}{note}")


def _parse_chosen(text: str | None, names: list[str]) -> dict[str, dict]:
    """`--chosen`: method -> settings to use (no search for those methods)."""
    if not text:
        return {}
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"--chosen is not JSON: {exc}") from None
    if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
        raise SystemExit('--chosen takes a JSON object of method -> settings, e.g. {"ease": {"lambda": 100}}')
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise SystemExit(f"--chosen names method(s) not evaluated: {', '.join(unknown)}")
    return given


def model_overrides(args: argparse.Namespace) -> dict[str, str]:
    """Training settings for rarereads' models: the model folder's config, then `--model-config`.

    The folder's `val_readers` is left out: in evaluation every method learns from all
    training likes (see `evaluation.models.train_config`).
    """
    settings: dict[str, str] = {}
    if args.model:
        from engine.modelfolder import read_manifest

        config = read_manifest(args.model).config
        settings.update({k: v for k, v in config.items() if k != "val_readers"})
    settings.update(_parse_key_values(args.model_config, "--model-config"))
    return settings
