"""The trainer's step, timed: each model's public step (`train.sampled`, `train.elsa`) on this
machine's device after a warm-up, and one fit of the co-like weights.

Data preparation is timed once per model (`prepare_s`); on CUDA each shape's peak memory is
recorded too. torch comes with the trainer, imported when a part runs.
"""
from __future__ import annotations

import resource
import time

import numpy as np

from engine.dataset import Dataset


def _median_step(step, warmup: int, steps: int, cuda_device=None) -> float:
    """Median seconds of `step()` over `steps` runs after `warmup` (synchronised on a GPU)."""
    import torch

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        if cuda_device is not None:
            torch.cuda.synchronize(cuda_device)
        t = time.perf_counter()
        step()
        if cuda_device is not None:
            torch.cuda.synchronize(cuda_device)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _prepared(dataset: Dataset, model: str, device: str, **settings):
    """(config, device, its name for the table, training data, seconds the data took) for `model`."""
    import torch

    from train.config import TrainConfig
    from train.data import prepare_data
    from train.train import resolve_device

    config = TrainConfig(model=model, val_readers=0, device=device, **settings).validate()
    dev = resolve_device(config.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    start = time.perf_counter()
    data = prepare_data(dataset, config)
    return config, dev, name, data, time.perf_counter() - start


def _peaks(dev) -> dict:
    """Peak GPU memory since the last reset (None on a CPU) and the process's peak resident memory, GB."""
    import torch

    return {"gpu_peak_gb": torch.cuda.max_memory_allocated(dev) / 2 ** 30 if dev.type == "cuda" else None,
            "host_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}


def bench_trainer(dataset: Dataset, steps: int, shapes: list[tuple[int, int]], warmup: int = 3,
                  device: str = "auto", amp: bool = True) -> list[dict]:
    """Pairs/s and seconds per skip-gram step (sample, forward, backward, SparseAdam) per
    (targets, contexts) shape in `shapes`: `train.sampled`'s `draw_batch` and `train_step`."""
    import torch

    from train.config import TrainConfig
    from train.sampled import autocast, build, draw_batch, train_step
    from train.sampler import NegativeSampler, ReaderLikes

    base, dev, name, data, prepare_s = _prepared(dataset, "skipgram", device, amp=amp)
    cuda = dev.type == "cuda"
    likes = ReaderLikes.from_csr(data.indptr, data.indices, dev)
    sampler = NegativeSampler(base.sampler, data.like_counts, base.alpha, dev)
    results = []
    for batch_size, contexts in shapes:
        config = TrainConfig(model="skipgram", batch_size=batch_size, contexts=contexts, val_readers=0, device=device,
                             amp=amp).validate()
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        model, optimizer = build(config, data, sampler, dev)
        generator = torch.Generator(device=dev)
        generator.manual_seed(0)
        context = autocast(config, dev)

        def step() -> None:
            train_step(model, optimizer, draw_batch(config, likes, sampler, generator), config, context=context)

        per_step = _median_step(step, warmup, steps, dev if cuda else None)
        steps_per_epoch = int(np.ceil(likes.n_likes / batch_size))
        results.append({"model": "skipgram", "device": name, "prepare_s": prepare_s, "batch": f"{batch_size}x{contexts}",
                        "s_per_step": per_step, "pairs_per_s": batch_size * contexts / per_step,
                        "train_likes": int(likes.n_likes), "epoch_min": steps_per_epoch * per_step / 60, **_peaks(dev)})
        del model, optimizer
    return results


def bench_elsa(dataset: Dataset, steps: int, batches: list[int], warmup: int = 2, device: str = "auto") -> list[dict]:
    """The default model's step (gather readers' likes, loss, backward, Adam: `train.elsa`'s
    `train_step`) per readers-per-step in `batches`, and one fit of its co-like weights."""
    import torch

    from train.colike import fit_colike
    from train.elsa import Shelves, build, train_step

    base, dev, name, data, prepare_s = _prepared(dataset, "elsa", device)
    cuda = dev.type == "cuda"
    shelves = Shelves.from_data(data, dev)
    results = []
    for batch in batches:
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        model, optimizer = build(base, data.n_works, dev)
        generator = torch.Generator().manual_seed(0)

        def step() -> None:
            readers = torch.randint(0, data.n_readers, (min(batch, data.n_readers),), generator=generator).to(dev)
            train_step(model, optimizer, shelves, readers)

        per_step = _median_step(step, warmup, steps, dev if cuda else None)
        steps_per_epoch = int(np.ceil(data.n_readers / batch))
        results.append({"model": "elsa", "device": name, "prepare_s": prepare_s, "batch": f"{batch} readers",
                        "s_per_step": per_step, "readers_per_s": min(batch, data.n_readers) / per_step,
                        "train_likes": int(len(data.indices)), "epoch_min": steps_per_epoch * per_step / 60,
                        **_peaks(dev)})
        del model, optimizer
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    start = time.perf_counter()
    _, figures = fit_colike(data.indptr, data.indices, data.n_works, neighbours=base.colike, lam=base.colike_lambda,
                            min_likes=base.colike_min_likes, reader_cap=base.colike_reader_cap, device=dev)
    results.append({"model": "elsa co-like weights", "device": name, "seconds": time.perf_counter() - start,
                    "works": figures["colike_works"], "pairs": figures.get("colike_pairs", 0), **_peaks(dev)})
    return results
