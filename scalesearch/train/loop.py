"""Train a spec on a data set with a recipe: the accuracy half of the search objective.

The training loop: the seeds' runs, their epochs, evaluation (with BatchNorm statistics
re-estimated first), and each seed's checkpoint, written after every epoch and read back to resume.
Small data sets live on the training device as uint8 tensors and are augmented there in batches
(:mod:`scalesearch.train.augment`). Runs are deterministic for a given seed on the CPU. A loss
that turns NaN or running out of memory (CUDA or CPU) ends the run (:mod:`.failures`).
The run folder is :mod:`.run_folder`'s, its ``metrics.csv`` :mod:`.metrics_file`'s, the device
:mod:`.device`'s.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import torch
from torch import nn

from scalesearch import signals
from scalesearch.arch.spec import NetworkSpec, Spec
from scalesearch.errors import TrainingError, UsageError
from scalesearch.files import run_lock
from scalesearch.nn import build_model, zero_init_residuals
from scalesearch.train import distributed
from scalesearch.train.augment import Normalize, TrainAugment, eval_resize
from scalesearch.train.checkpoints import InitialWeights, write_tensors
from scalesearch.train.data import DataSet, Split
from scalesearch.train.device import on_device, resolve_device
from scalesearch.train.distributed import Processes
from scalesearch.train.failures import check_finite, out_of_memory_ends_the_run
from scalesearch.train.imagefolder import FileSplit
from scalesearch.train.metrics_file import EpochMetrics, append_epoch, keep_epochs
from scalesearch.train.optim import autocast_dtype, make_loss, make_optimizer, make_schedule
from scalesearch.train.recipes import Recipe
from scalesearch.train.run_folder import open_run_dir


@dataclass
class SeedResult:
    seed: int
    val_top1: float
    img_per_s: float
    test_top1: float | None = None
    epochs: list[EpochMetrics] = field(default_factory=list)


@dataclass
class TrainResult:
    """Mean and standard deviation over seeds, plus each seed's run."""

    val_top1: float
    val_top1_std: float
    img_per_s: float
    runs: list[SeedResult]
    test_top1: float | None = None
    test_top1_std: float | None = None

    def as_record(self, recipe: Recipe, data: DataSet) -> dict:
        """The ``train --json`` document."""
        record = {"val_top1": self.val_top1, "val_top1_std": self.val_top1_std,
                  "seeds": [r.seed for r in self.runs], "epochs": recipe.epochs, "img_per_s": self.img_per_s,
                  "recipe": recipe.name, "schedule": recipe.schedule_name, "resolution": recipe.resolution,
                  "data": data.name,
                  "synthetic_data": data.synthetic, "per_seed_val_top1": [r.val_top1 for r in self.runs]}
        if self.test_top1 is not None:
            record.update(test_top1=self.test_top1, test_top1_std=self.test_top1_std)
        return record


def check_batch_norm_batch(spec: Spec, per_process: int) -> None:
    """Refuse training a batch-norm network on batches of one image (per process): at a 1x1 feature
    map batch norm then has one value per channel, and no statistics at all."""
    if per_process < 2 and getattr(spec, "norm", "layer") in ("batch", "sync_batch"):
        raise UsageError(f"a training batch of {per_process} image per process leaves batch norm one value per "
                         "channel: give --batch 2 or more and at least 2 training images per process, or --norm group")


def precise_bn(model: nn.Module, split: Split | FileSplit, normalize: Normalize, resolution: int, images: int,
               batch_size: int) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over ``images`` training images.

    A short schedule leaves the exponential running averages far from the final weights' true
    statistics (after 12 steps at momentum 0.1 they are still ~30% their initial values), which
    makes evaluation-mode accuracy of a proxy run noise; recomputing them is cheap (forward only).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    count = min(images, len(split))
    if count % batch_size == 1:  # a last batch of one image gives batch norm one value per channel
        count -= 1
    if count < 2:
        return
    model.train()
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(0))[:count]
    with torch.no_grad():
        for batch, _ in split.batches(order, batch_size):
            model(normalize(eval_resize(batch, resolution)))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def evaluate(model: nn.Module, split: Split | FileSplit, normalize: Normalize, resolution: int,
             batch_size: int = 128) -> float:
    """Top-1 accuracy (fraction) on ``split`` (already on the model's device). Batches of 128: on a
    2-vCPU VM B0 validated 1,000 images at 32 px in 0.94 s against 2.16 s in batches of 500
    (``benchmarks/results/train_throughput_cpu.json``)."""
    model.eval()
    correct = 0
    with torch.inference_mode():
        for images, labels in split.batches(torch.arange(len(split)), batch_size):
            logits = model(normalize(eval_resize(images, resolution)))
            correct += int((logits.argmax(1) == labels).sum())
    return correct / len(split)


class BatchSource(Protocol):
    """Where a run's training batches come from: uint8 images with their targets, epoch by epoch,
    and the loss on them (self-training mixes labelled and pseudo-labelled images this way)."""

    steps_per_epoch: int

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch's ``steps_per_epoch`` batches of uint8 images and their targets."""

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch (targets as the augmentation hands them on)."""


class SplitBatches:
    """The usual source: a fresh permutation of the training split every epoch (each image
    ``recipe.repeated_aug`` times in a row), its labels as targets, the recipe's loss. Among
    several processes, each takes its share of every batch (see :mod:`.distributed`)."""

    def __init__(self, split: Split | FileSplit, recipe: Recipe, num_classes: int,
                 procs: Processes = Processes()) -> None:
        self.split, self.batch_size, self.repeats, self.procs = split, recipe.batch_size, recipe.repeated_aug, procs
        self.steps_per_epoch = max(1, len(split) // recipe.batch_size)
        self.loss = make_loss(recipe, num_classes)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batch = min(self.batch_size, len(self.split))
        order = epoch_order(len(self.split), self.steps_per_epoch * batch, self.repeats, generator)
        return self.split.batches(self.procs.shard(order, batch), batch // self.procs.world)


@dataclass
class _Run:
    """One seed's training in progress: the network and everything that steps it."""

    spec: NetworkSpec  # as the recipe trains it (classes, resolution, stem)
    net: nn.Module  # the network
    model: nn.Module  # what training steps call: the network, or DistributedDataParallel over it
    procs: Processes
    device: torch.device
    train_split: Split | FileSplit
    val_split: Split | FileSplit
    augment: TrainAugment
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    source: BatchSource
    autocast: contextlib.AbstractContextManager
    generator: torch.Generator


def _build(spec: NetworkSpec, data: DataSet, recipe: Recipe, seed: int, normalize: Normalize,
           device: torch.device, source: BatchSource | None = None, init: InitialWeights | None = None,
           procs: Processes = Processes()) -> _Run:
    """The network (seeded, or from ``init``), the data on the device, the optimiser, schedule and
    precision; batches from ``source``, else from the training split."""
    torch.manual_seed(seed)
    net_spec = recipe.network(spec, data.num_classes)
    net = build_model(net_spec)
    if init is not None:
        init.load_into(net)
    elif recipe.zero_init_residual:
        zero_init_residuals(net)
    # channels_last: 15-20% faster convolutions on the CPU (AVX2, 2 threads) as on CUDA.
    net = net.to(device, memory_format=torch.channels_last)
    model = distributed.wrap(net, getattr(net_spec, "norm", "layer"), procs, device)  # a ViT's are LayerNorms
    if procs.world > 1:  # every process draws its own augmentation, dropout and drop path
        torch.manual_seed(procs.seed(seed))
    train_split = on_device(data.train, device, recipe)
    source = source or SplitBatches(train_split, recipe, data.num_classes, procs)
    optimizer = make_optimizer(model, recipe)
    dtype = autocast_dtype(recipe.precision, device)
    return _Run(
        spec=net_spec, net=net, model=model, procs=procs, device=device, train_split=train_split,
        val_split=on_device(data.val, device, recipe),
        augment=TrainAugment(normalize, recipe, data.num_classes),
        optimizer=optimizer, scheduler=make_schedule(optimizer, recipe, source.steps_per_epoch),
        # fp16's narrow range underflows small gradients: scale the loss, and skip a step whose
        # gradients overflowed (bf16 has fp32's range and needs neither).
        scaler=torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
        source=source,
        autocast=torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext(),
        generator=torch.Generator().manual_seed(seed))


def _train_epoch(run: _Run, recipe: Recipe, epoch: int) -> tuple[float, float]:
    """One pass over the epoch's order; returns the mean training loss and images per second."""
    run.model.train()
    steps = run.source.steps_per_epoch
    loss_sum, seen, started = torch.zeros((), device=run.device), torch.zeros((), device=run.device), \
        time.perf_counter()
    for step, (images, labels) in enumerate(run.source.epoch(run.generator), start=1):
        signals.check()
        images, targets = run.augment(images, labels)
        images = images.contiguous(memory_format=torch.channels_last)
        with run.autocast:
            loss = run.source.loss(run.model(images), targets)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        if recipe.grad_clip_norm is not None:
            run.scaler.unscale_(run.optimizer)
            nn.utils.clip_grad_norm_(run.model.parameters(), recipe.grad_clip_norm)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.scheduler.step()
        loss_sum += loss.detach()
        seen += len(labels)
        # Checking every step would synchronise a GPU each step; a NaN stays NaN in the sum.
        if step % _NAN_CHECK_STEPS == 0 or step == steps:
            check_finite(loss_sum, epoch, step)
        if not distributed.ranks_agree(run.model, run.procs):
            raise TrainingError(f"the {run.procs.world} processes hold different weights after epoch {epoch}, "
                                f"step {step}", "processes diverged")
    elapsed = time.perf_counter() - started
    loss_sum, seen = distributed.total(loss_sum, run.procs), distributed.total(seen, run.procs)
    return float(loss_sum) / steps / run.procs.world, float(seen) / elapsed


def _validate(run: _Run, recipe: Recipe, normalize: Normalize) -> float:
    """Validation top-1 after re-estimating the BatchNorm statistics (see :func:`precise_bn`)."""
    precise_bn(run.net, run.train_split, normalize, recipe.resolution, recipe.precise_bn_images, recipe.batch_size)
    return evaluate(run.net, run.val_split, normalize, recipe.resolution)


def train_seed(spec: NetworkSpec, data: DataSet, recipe: Recipe, seed: int, normalize: Normalize,
               device: str = "cpu", run_dir: Path | None = None, test: bool = False,
               on_epoch: Callable[[EpochMetrics], None] | None = None, eval_from: int = 1,
               source: BatchSource | None = None, init: InitialWeights | None = None,
               procs: Processes = Processes(), resume: bool = False) -> SeedResult:
    """One training run with one seed; returns final validation (and, with ``test``, test) top-1.
    Evaluates every ``recipe.eval_every`` epochs from epoch ``eval_from`` on, and after the last.
    Batches come from ``source`` (on the device), else from the training split; the network starts
    from ``init`` where given. Among several processes (``procs``), rank 0 alone writes ``run_dir``.
    With ``resume``, a checkpoint of this seed in ``run_dir`` is continued from the epoch it ended
    (weights, optimiser, schedule, loss scale and random state: the run goes on as if never stopped)."""
    if test and data.test is None:
        raise UsageError(f"`test`: {data.name} has no test split")
    dev = resolve_device(device)
    with out_of_memory_ends_the_run(dev, recipe.batch_size):
        run = _build(spec, data, recipe, seed, normalize, dev, source, init, procs)
        result = SeedResult(seed=seed, val_top1=0.0, img_per_s=0.0)
        if resume and run_dir is not None:
            result.epochs = _restore(run, run_dir, seed)
            for metrics in result.epochs if on_epoch else ():
                on_epoch(metrics)
        for epoch in range(len(result.epochs) + 1, recipe.epochs + 1):
            loss, img_per_s = _train_epoch(run, recipe, epoch)
            evaluated = (epoch >= eval_from and epoch % recipe.eval_every == 0) or epoch == recipe.epochs
            metrics = EpochMetrics(seed, epoch, loss, _validate(run, recipe, normalize) if evaluated else None,
                                   img_per_s, run.optimizer.param_groups[0]["lr"])
            result.epochs.append(metrics)
            if run_dir is not None and procs.writer:
                append_epoch(run_dir, metrics)
                _save(run_dir, seed, epoch, run)
            if on_epoch:
                on_epoch(metrics)
        result.val_top1 = result.epochs[-1].val_top1
        result.img_per_s = statistics.fmean(m.img_per_s for m in result.epochs)
        if test:
            result.test_top1 = evaluate(run.net, on_device(data.test, dev, recipe), normalize, recipe.resolution)
    return result


_NAN_CHECK_STEPS = 20


def epoch_order(images: int, length: int, repeats: int, generator: torch.Generator) -> torch.Tensor:
    """The image indices of one epoch of ``length`` samples: a fresh permutation, each index
    ``repeats`` times in a row (repeated augmentation, as timm's RepeatAugSampler: the copies land in
    the same batch, each augmented on its own, and the epoch keeps its length, so it holds
    ``length / repeats`` distinct images)."""
    return torch.randperm(images, generator=generator).repeat_interleave(repeats)[:length]


def _save(run_dir: Path, seed: int, epoch: int, run: _Run) -> None:
    """The seed's checkpoint, with all it takes to go on (optimiser, schedule, loss scale, random
    state), replaced atomically: a crash or a full disk leaves the previous epoch's file whole."""
    write_tensors(run_dir / f"seed{seed}_last.pt",
                  {"spec": run.spec.name, "epoch": epoch, "state_dict": run.net.state_dict(),
                   "optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
                   "scaler": run.scaler.state_dict(), "order_rng": run.generator.get_state(),
                   "torch_rng": torch.get_rng_state(),
                   **({"cuda_rng": torch.cuda.get_rng_state(run.device)} if run.device.type == "cuda" else {})})


def _restore(run: _Run, run_dir: Path, seed: int) -> list[EpochMetrics]:
    """Continue ``run`` from this seed's checkpoint in ``run_dir``: load its states and return the
    epochs it finished. The metrics rows of later epochs (written before a checkpoint that a kill
    cut off) are dropped. No checkpoint, or one without optimiser state (an older version's):
    the seed starts over."""
    path = run_dir / f"seed{seed}_last.pt"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True) if path.exists() else {}
    except Exception:  # a checkpoint that does not read is one to redo
        saved = {}
    done = int(saved.get("epoch", 0)) if "optimizer" in saved else 0
    if done:
        run.net.load_state_dict(saved["state_dict"])
        run.optimizer.load_state_dict(saved["optimizer"])
        run.scheduler.load_state_dict(saved["scheduler"])
        run.scaler.load_state_dict(saved["scaler"])
        run.generator.set_state(saved["order_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if "cuda_rng" in saved and run.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_rng"], run.device)
        if run.procs.rank > 0:  # rank 0 saved its own random state only
            torch.manual_seed(run.procs.seed(seed, done))
    return keep_epochs(run_dir, seed, done, rewrite=run.procs.writer)


def train(spec: NetworkSpec, data: DataSet, recipe: Recipe, seeds: list[int], device: str = "cpu",
          run_dir: Path | None = None, test: bool = False,
          on_epoch: Callable[[EpochMetrics], None] | None = None, eval_from: int = 1,
          init: InitialWeights | None = None) -> TrainResult:
    """Train once per seed; report the mean and standard deviation of validation top-1. Every seed
    starts from ``init`` where given. Under torchrun, the processes train together (see
    :mod:`.distributed`).

    With ``run_dir``, the spec and recipe are saved there first (and ``init.json``, where the weights
    came from), then per-epoch metrics (``metrics.csv``) and each seed's last checkpoint
    (``seed{N}_last.pt``); a ``run_dir`` holding a run of the same settings is resumed (see
    :func:`~scalesearch.train.run_folder.open_run_dir`)."""
    if not seeds:
        raise UsageError("at least one seed is needed")
    procs = distributed.processes()
    device = procs.device(device)
    dev = resolve_device(device)
    distributed.check_norm(getattr(spec, "norm", "layer"), dev)
    procs.check(min(recipe.batch_size, len(data.train)), len(data.train))
    check_batch_norm_batch(spec, min(recipe.batch_size, len(data.train)) // procs.world)
    writes = run_dir is not None and procs.writer
    if writes:
        open_run_dir(run_dir, recipe.network(spec, data.num_classes), recipe, init)
    normalize = Normalize.of(on_device(data.train, dev, recipe), spec.in_channels)  # the same for every seed
    with run_lock(run_dir) if writes else contextlib.nullcontext(), distributed.process_group(procs, dev):
        runs = [train_seed(spec, data, recipe, seed, normalize, device, run_dir, test, on_epoch, eval_from,
                           init=init, procs=procs, resume=True) for seed in seeds]
    val_top1, val_top1_std = mean_std([r.val_top1 for r in runs])
    test_top1, test_top1_std = mean_std([r.test_top1 for r in runs if r.test_top1 is not None])
    return TrainResult(val_top1=val_top1, val_top1_std=val_top1_std,
                       img_per_s=statistics.fmean(r.img_per_s for r in runs), runs=runs,
                       test_top1=test_top1, test_top1_std=test_top1_std)


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (0 for one value; both None for none)."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
