"""Every work's genre profile: the team's labels, carried to the other works and measured.

    python -m train.profiles [DATASET]     # write DATASET/profile.tsv.gz; print the held-out accuracy

The labels (`data/labels/genres.tsv`, rule and figures in docs/PROFILES.md) name the genre,
an optional second genre and the audience of about 11,000 Book-Crossing works. They are
carried to every other work by what is known about it, each a distribution over the genres
of `engine.profiles.GENRES`:

- `author`: the genres of the author's labelled books;
- `publisher`: those of the publisher's labelled books, and a curated table of imprints
  (Harlequin romance, Tor science fiction, Andrews McMeel cartoons, Lonely Planet travel);
- `series`: those of the labelled books in the same series or line ("Harlequin Presents",
  "Star Trek", "Cliffs Notes", "Penguin Classics");
- `title`: naive Bayes over title and series words ("Cookbook", "Murder", "Dragon");
- `forms`: title forms that name a kind outright ("for Dummies", "Board Book", "Recipes");
- `readers`: the genres of the labelled books its readers liked.

Sources are smoothed towards the labels' overall genre mix and combined as a product of
experts, `softmax(b + sum_s w_s log p_s)`, the exponents fitted on the labelled works (each
work's own label left out of its sources). The same is done for the audience. Accuracy is
measured on the labels marked `test` (1,000 works across popularity), which take no part in
the sources or the fit. Labelled works keep their labels; the rest get the carried profile.
"""
from __future__ import annotations

from .carry import Combiner, carry, profile
from .labels import LABELS, Labels, labels_digest, match_labels, read_labels
from .sources import SOURCES, Evidence
from .table import PROFILE_FILE, PROFILE_META, dataset_profile, read_profile, write_profile

__all__ = ["LABELS", "PROFILE_FILE", "PROFILE_META", "SOURCES", "Combiner", "Evidence", "Labels", "carry",
           "dataset_profile", "labels_digest", "match_labels", "profile", "read_labels", "read_profile", "write_profile"]
