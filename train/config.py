"""Training settings: one dataclass, each field with its help (the CLI makes a flag of each).

Fields left at None take the chosen model's default (`train.registry`): a skip-gram step
and an ELSA step mean different things, so their batch sizes, epochs and learning rates
differ. `validate()` fills them in, so a manifest always records the values used.
No torch here, so `rarereads train --help` and the manifest reader stay light.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from engine.ranking import DEFAULT_FUSION  # the one home of the fusion defaults (numpy only)

SAMPLERS = ("log_uniform", "unigram", "uniform")
OPTIMIZERS = ("sparse_adam", "adagrad")


def setting(default, help: str):
    """A `TrainConfig` field and the help of its flag (`rarereads train --help`), side by side."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    # model
    model: str = setting("elsa", "a name from `train.registry` (`rarereads train --help` lists them)")
    dim: int | None = setting(None, "embedding size")
    # data
    like_threshold: float | None = setting(
        None, "rating that counts as a like (None: the dataset's default, 7 of 10 / 4 of 5)")
    min_likes: int = setting(1, "drop works with fewer training likes than this before training")
    # co-like weights (any model): a sparse regression of each work on its most co-liked works, fused with the embedding
    colike: int | None = setting(None, "co-liked works each work is regressed on (0: no co-like part)")
    colike_lambda: float = setting(
        50.0, "ridge penalty of those regressions (higher: smoother, leans to popular works; 50 is the validation choice)")
    colike_min_likes: int = setting(
        3, "works need this many training likes to get co-like weights (others rely on the embedding)")
    colike_reader_cap: int = setting(
        200, "readers with more likes count a random sample of this many in co-like counts")
    fusion_weight: float = setting(
        DEFAULT_FUSION["fusion_weight"], "share of the embedding's ranks in the fused order (the rest is the co-like part's)")
    fusion_k: int = setting(DEFAULT_FUSION["fusion_k"], "reciprocal-rank fusion constant: 1 / (fusion_k + rank)")
    genre_weight: float = setting(
        DEFAULT_FUSION["genre_weight"], "how much the fused order leans to the reader's genres (genre profiles; 0: not)")
    genre_evidence: float = setting(
        DEFAULT_FUSION["genre_evidence"], "co-readers that halve the genre term for a work (many co-readers outweigh "
        "its genre; 0: the genre term whatever the evidence)")
    popularity: float = setting(
        DEFAULT_FUSION["popularity"], "how much the fused order leans away from much-liked works, (1 + likes)^-popularity")
    specificity: float = setting(
        DEFAULT_FUSION["specificity"], "how much the fused order leans to works whose readers loved the reader's books "
        "(the share of its readers who are co-readers)")
    author_weight: float = setting(
        DEFAULT_FUSION["author_weight"], "share of the author order's ranks in the fused order: the other books of the "
        "writers of the reader's books (0: no author order)")
    # sampling
    batch_size: int | None = setting(None, "per step: targets (skipgram), likes (mf) or readers (elsa)")
    contexts: int = setting(4, "skipgram: context works drawn from the same reader's likes per target")
    negatives: int = setting(5, "negatives per positive pair (k): their weight, and their number when not pooled")
    negative_pool: int = setting(
        0, "negatives drawn once per step and shared by the batch (0: k drawn per pair, as word2vec)")
    sampler: str = setting(
        "log_uniform", 'negatives: "log_uniform" over popularity rank, "unigram" (count^alpha) or "uniform"')
    alpha: float = setting(0.75, "unigram sampler exponent")
    # optimisation
    epochs: float | None = setting(
        None, "passes over the training likes (each like a target once per epoch on average)")
    max_steps: int = setting(0, "stop after this many steps in all (0: run all epochs); for benchmarks and tests")
    optimizer: str = setting("sparse_adam", '"sparse_adam" or "adagrad" (both take sparse gradients)')
    lr: float | None = setting(None, "learning rate")
    weight_decay: float = setting(0.0, "L2 penalty on the vectors (and biases) each step touches")
    # evaluation and checkpoints
    val_readers: int = setting(500, "readers with one like each held out for validation (0: none)")
    eval_every: int = setting(0, "validate every this many steps (0: at the end of every epoch)")
    checkpoint_every: int = setting(
        2000, "save a checkpoint every this many steps (0: only at the end, which is always saved)")
    log_every: int = setting(20, "steps between loss readings (each one waits for the device)")
    # system
    seed: int = setting(
        0, "one seed for the hold-out split, initial vectors and sampling (rank r samples with seed + r)")
    device: str = setting("auto", '"auto" (cuda if available), "cpu", "cuda" or "cuda:N"')
    cpu_embeddings: bool = setting(
        False, "keep the tables in pinned CPU memory and compute on the device (huge catalogues)")
    amp: bool = setting(True, "bf16 autocast for the dot products on CUDA (tables and optimiser stay float32)")
    threads: int = setting(0, "CPU threads for torch (0: torch's default)")

    def validate(self) -> "TrainConfig":
        """Fill the model's defaults into unset fields, raise ValueError for settings that
        cannot work; return self for chaining."""
        from .registry import MODELS

        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        for name, value in MODELS[self.model].defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, not {self.sampler!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        for name in ("negative_pool", "checkpoint_every", "eval_every", "max_steps", "val_readers", "threads", "colike"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more")
        for name in ("dim", "batch_size", "contexts", "negatives", "min_likes", "log_every", "colike_min_likes",
                     "colike_reader_cap", "fusion_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("epochs or max_steps must be positive")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        if self.colike_lambda <= 0:
            raise ValueError("colike_lambda must be positive")
        if not 0 <= self.fusion_weight <= 1:
            raise ValueError("fusion_weight must be between 0 and 1")
        if min(self.genre_weight, self.genre_evidence, self.popularity, self.specificity, self.author_weight) < 0:
            raise ValueError("genre_weight, genre_evidence, popularity, specificity and author_weight must be 0 or more")
        return self

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Config from a checkpoint or manifest; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
