"""The models `rarereads train` and `rarereads eval` know: one entry per model.

A model is one module in `train/` with a function

    fit(config, data, device, *, progress, resume, checkpoint_dir) -> Fitted

that learns from `data` (a `train.train.TrainingData`) and returns the vectors of the
model-folder contract (see `train.export`). Adding a model means writing that module,
adding its entry here (with its evaluation grid), and a test; the trainer, the evaluation
and the CLI find it here.
No torch at import time: the CLI reads this registry for `--help`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    """One model.

    Attributes:
        name: What `--model` takes.
        description: One line for help texts and the evaluation table.
        module: The module with its `fit` (imported when it trains: torch comes with it).
        defaults: Its values for the `TrainConfig` fields left unset (None).
        resumable: Whether `--resume` can continue it from a checkpoint.
        distributed: Whether it trains under `torchrun` on several processes.
        grid: The settings `rarereads eval --tune` chooses among on the validation split.
    """

    name: str
    description: str
    module: str
    defaults: dict = field(default_factory=dict)
    resumable: bool = False
    distributed: bool = False
    grid: tuple[dict, ...] = ({},)

    def fit(self, *args, **kwargs):
        return importlib.import_module(self.module).fit(*args, **kwargs)


# elsa's 150 co-like neighbours a work: chosen on the README protocol's validation split, served
# tail recall 0.0182 at 50, 0.0192 at 100, 0.0199 at 150, 0.0196 at 200 (EASE 0.0172), and the
# plain objective 0.1159 at 50, 0.1180 at 150 (BENCHMARKS.md); training stays under 2 minutes.
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("elsa", "linear autoencoder embeddings (ELSA) fused with co-like weights (default)", "train.elsa",
              {"dim": 128, "epochs": 20.0, "lr": 0.01, "batch_size": 8192, "colike": 150},
              grid=tuple({"colike_lambda": lam} for lam in (50.0, 100.0, 200.0))
              + tuple({"colike_lambda": 50.0, "fusion_weight": w} for w in (0.2, 0.5))),
    ModelSpec("skipgram", "work-to-work skip-gram with log-uniform negatives (Lit2Vec2)", "train.sampled",
              {"dim": 64, "epochs": 5.0, "lr": 0.02, "batch_size": 4096, "colike": 0}, resumable=True, distributed=True,
              grid=({"dim": 64}, {"dim": 128})),
    ModelSpec("mf", "matrix factorisation of readers and works with sampled negatives", "train.sampled",
              {"dim": 64, "epochs": 5.0, "lr": 0.02, "batch_size": 4096, "colike": 0}, resumable=True, distributed=True,
              grid=({"dim": 64}, {"dim": 128})),
)}
DEFAULT_MODEL = "elsa"


def get_model(name: str) -> ModelSpec:
    """The spec of model `name`; raises ValueError for unknown names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
