"""The profile table beside a dataset (`profile.tsv.gz`, `profile.json`): its one writer and reader."""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np

from engine import profiles as P
from engine.dataset import Dataset

from .carry import profile
from .labels import labels_digest

log = logging.getLogger("train.profiles")
PROFILE_FILE = "profile.tsv.gz"
PROFILE_META = "profile.json"


def write_profile(folder: Path, dataset: Dataset, table: np.ndarray, summary: dict) -> Path:
    """`profile.tsv.gz` (one row per work: genres with probabilities, audience) and `profile.json`."""
    import gzip

    with gzip.open(folder / PROFILE_FILE, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["genre", "p", "genre2", "p2", "genre3", "p3", "audience", "audience_p"])
        for row in table.tolist():
            out = []
            for k in range(3):
                out += [P.CODES[row[2 * k]], row[2 * k + 1]] if row[2 * k] != P.NONE else ["", 0]
            out += [P.AUDIENCES[row[6]], row[7]] if row[6] != P.NONE else ["", 0]
            writer.writerow(out)
    meta = {"dataset": dataset.fingerprint(), "labels": labels_digest(), **summary}
    (folder / PROFILE_META).write_text(json.dumps(meta, indent=2) + "\n")
    return folder / PROFILE_FILE


def read_profile(folder: Path, dataset: Dataset) -> np.ndarray | None:
    """The profile table written for this very dataset (and these labels), or None."""
    import gzip

    try:
        meta = json.loads((folder / PROFILE_META).read_text())
        if meta.get("dataset") != dataset.fingerprint() or meta.get("labels") != labels_digest():
            return None
        with gzip.open(folder / PROFILE_FILE, "rt", encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))[1:]
    except (OSError, ValueError):
        return None
    if len(rows) != len(dataset.works):
        return None
    table = np.full((len(rows), P.WIDTH), P.NONE, np.uint8)
    for i, row in enumerate(rows):
        for k in range(3):
            if row[2 * k]:
                table[i, 2 * k], table[i, 2 * k + 1] = P.INDEX[row[2 * k]], int(row[2 * k + 1])
        if row[6]:
            table[i, 6], table[i, 7] = P.AUDIENCES.index(row[6]), int(row[7])
    return table


def dataset_profile(dataset: Dataset, folder: Path | None = None) -> np.ndarray:
    """The dataset's profile table: the one `prepare` wrote beside it when current, else carried now."""
    if folder is not None:
        table = read_profile(Path(folder), dataset)
        if table is not None:
            return table
    table, summary = profile(dataset)
    log.info("genre profiles carried from %d labelled works in %.1f s", summary["labelled"], summary.get("seconds", 0))
    return table
