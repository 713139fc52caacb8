"""rarereads' own models in the evaluation: trained on a split's training likes, scored as served."""
from __future__ import annotations

import numpy as np

from engine.dataset import Dataset
from engine.ranking import DEFAULT_FUSION

from .baselines import Method, Scorer
from .protocol import Split, training_dataset


class OurModels:
    """Fits rarereads' models on a split, sharing work between hyperparameter sets.

    An ELSA or skip-gram embedding does not depend on the co-like or fusion settings,
    and the co-like weights not on the fusion settings, so a grid over those trains each
    embedding and each co-like table once.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._cache: dict = {}

    def method(self, name: str, grid: list[dict] | None = None) -> Method:
        """Model `name` as an evaluated method; its grid is the registry's (`train.registry`) unless given."""
        from train.registry import get_model

        grid = [dict(p) for p in (grid if grid is not None else get_model(name).grid)]
        return Method(name, lambda split, params: self.fit(name, split, params), grid)

    def config(self, name: str, params: dict):
        return train_config({**params, "model": name})

    def fit(self, name: str, split: Split, params: dict) -> Scorer:
        from engine.ranking import FolderScorer
        from scipy.sparse import csr_matrix
        from train.train import fusion_settings

        config = self.config(name, params)
        (query, target, trained), data, _ = self._embedding(split, config)
        colike = None
        if config.colike:
            (indptr, columns, weights), _ = self._colike(split, config, data)
            universe = self._universe(split, data)
            rows = np.repeat(universe, np.diff(indptr))
            colike = csr_matrix((weights, (rows, universe[columns])), shape=(split.n_works, split.n_works))
        return FolderScorer(query, target, trained, colike, fusion_settings(config), split.train_likes(),
                            self.profiles(split), split.train_matrix().T.tocsr(), self.writers(split))

    def parts(self, name: str, split: Split, params: dict):
        """The fitted parts of model `name` with `params` (`train.train.Parts`), for the trainer to write
        as a folder (`--served`): the plain rows' model, not a second one."""
        from train.train import Parts

        config = self.config(name, params)
        _, data, fitted = self._embedding(split, config)
        return Parts(fitted, self._colike(split, config, data) if config.colike else None,
                     self.profile_table(split))

    def writers(self, split: Split) -> np.ndarray:
        """`engine.rules.writer_codes` of the split's works (for the author order)."""
        from engine.rules import writer_codes

        key = ("writers", id(split))
        if key not in self._cache:
            self._cache[key] = writer_codes([self.dataset.works.author[i] for i in split.work_ids])
        return self._cache[key]

    def profiles(self, split: Split):
        """The genre profiles of the split's universe, carried from the labels with its training likes only."""
        from engine.profiles import Profiles

        key = ("profiles", id(split))
        if key not in self._cache:
            self._cache[key] = Profiles(self.profile_table(split)[split.work_ids])
        return self._cache[key]

    def profile_table(self, split: Split) -> np.ndarray:
        """The genre profiles of the split's training dataset (`train.profiles.dataset_profile`), carried once."""
        from train.profiles import dataset_profile

        key = ("profile table", id(split))
        if key not in self._cache:
            self._cache[key] = dataset_profile(training_dataset(split, self.dataset))
        return self._cache[key]

    def _colike(self, split: Split, config, data) -> tuple:
        """`fit_colike`'s (table, figures) for the split's training data (cached per split and settings)."""
        key = ("colike", id(split), config.colike, config.colike_lambda, config.colike_min_likes,
               config.colike_reader_cap)
        if key not in self._cache:
            from train.colike import fit_colike

            lone = np.maximum(data.catalogue_likes[data.rows] - data.like_counts, 0)
            self._cache[key] = fit_colike(data.indptr, data.indices, data.n_works, neighbours=config.colike,
                                          lam=config.colike_lambda, min_likes=config.colike_min_likes,
                                          reader_cap=config.colike_reader_cap, seed=config.seed, lone_likes=lone)
        return self._cache[key]

    def _universe(self, split: Split, data) -> np.ndarray:
        return np.searchsorted(split.work_ids, data.work_ids)

    def _embedding(self, split: Split, config):
        """(query, target, trained) over the split's universe, the training data and the fitted model
        (cached per split)."""
        import torch

        from train.data import prepare_data
        from train.registry import get_model
        from train.train import resolve_device

        structural = {k: v for k, v in vars(config).items()
                      if k not in ("colike", "colike_lambda", "colike_min_likes", "colike_reader_cap", *DEFAULT_FUSION)}
        key = ("embedding", id(split), tuple(sorted(structural.items())))
        if key not in self._cache:
            if config.threads:
                torch.set_num_threads(config.threads)
            data = prepare_data(training_dataset(split, self.dataset), config)
            fitted = get_model(config.model).fit(config, data, resolve_device(config.device), progress=False)
            universe = self._universe(split, data)
            query = np.zeros((split.n_works, fitted.query.shape[1]), np.float32)
            target = np.zeros_like(query)
            query[universe], target[universe] = fitted.query, fitted.target
            trained = np.zeros(split.n_works, dtype=bool)
            trained[universe] = True
            self._cache[key] = ((query, target, trained), data, fitted)
        return self._cache[key]


def train_config(settings: dict):
    """A `TrainConfig` from `settings` (strings from the command line are converted).

    Evaluation trains on every training like (`val_readers=0`): every method sees the same data.
    """
    import typing
    from dataclasses import fields

    from train.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    names = {f.name for f in fields(TrainConfig)}
    values = {"val_readers": 0}
    for name, value in settings.items():
        if name not in names:
            raise SystemExit(f"--model-config: unknown training setting {name!r}; see `rarereads train --help`")
        values[name] = _coerce(hints[name], value)
    try:
        return TrainConfig(**values).validate()
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"--model-config: {exc}") from None


def _coerce(hint, value):
    """A setting's value from a command-line string, following the field's type hint."""
    if not isinstance(value, str):
        return value
    if value.lower() in ("none", "") and type(None) in getattr(hint, "__args__", ()):
        return None
    kind = next((t for t in getattr(hint, "__args__", (hint,)) if t is not type(None)), str)
    if kind is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise SystemExit(f"--model-config: {value!r} is not true or false")
        return value.lower() in ("1", "true", "yes")
    try:
        return kind(value)
    except ValueError:
        raise SystemExit(f"--model-config: {value!r} is not a {kind.__name__}") from None
