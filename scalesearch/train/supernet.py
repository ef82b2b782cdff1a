"""Train once, score many: a weight-sharing supernet over a search space, trained with BigNAS's
sandwich rule, and the inherited accuracy of any of its sub-networks.

Each step trains, on one batch, the space's largest network on the labels and its smallest plus
``random_subnets`` random ones on the largest's predictions (in-place distillation, Yu et al.,
BigNAS 2020), averaging the gradients of all of them into one optimiser step on the shared weights
(summed, they made the `proxy` recipe's learning rate several times too large: the largest
network's loss stayed above chance on the CIFAR-10 subset for two epochs). The recipe gives
everything else (epochs, schedule, optimiser, augmentation, precision). A sub-network is scored by
copying its slice of the weights into a stand-alone network, re-estimating its BatchNorm
statistics on training images (each sub-network has its own), and validating it.

A run folder holds ``supernet.json`` (space, recipe, data, sampling), ``metrics.csv`` (one row per
epoch) and ``supernet_last.pt`` (weights, optimiser, schedule and random state, read as data only):
the same command resumes it; a folder holding a run with other settings is refused.

Under ``torchrun`` every process runs the same command: each takes its share of every batch (the
recipe's batch stays the global batch), all draw the same sub-networks per step, their gradients are
averaged before each optimiser step, the processes compare their weights after every step, and rank
0 alone writes the run folder and reports (see :mod:`.distributed`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from scalesearch import signals
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import SpecError, TrainingError, UsageError
from scalesearch.files import digest, run_lock, write_atomic, write_json
from scalesearch.measure.flops import analytic_count
from scalesearch.nn import zero_init_residuals
from scalesearch.nn.supernet import Supernet
from scalesearch.search.space import SearchSpace, load_space
from scalesearch.seeds import check_seed
from scalesearch.train import distributed
from scalesearch.train.augment import Normalize, TrainAugment
from scalesearch.train.checkpoints import write_tensors
from scalesearch.train.data import DataSet, Split, dataset_record
from scalesearch.train.device import on_device, resolve_device
from scalesearch.train.imagefolder import FileSplit
from scalesearch.train.loop import SplitBatches, evaluate, precise_bn
from scalesearch.train.optim import autocast_dtype, make_optimizer, make_schedule
from scalesearch.train.recipes import Recipe
from scalesearch.typed_data import decode

SETTINGS, METRICS, CHECKPOINT = "supernet.json", "metrics.csv", "supernet_last.pt"
#: Training images that re-estimate a sub-network's BatchNorm statistics before it is validated.
CALIBRATION_IMAGES = 512
MAX_RANDOM_SUBNETS = 64


@dataclass(frozen=True)
class SupernetEpoch:
    """One epoch: the largest network's training loss, the mean distillation loss of the others,
    training images per second (each image through every sub-network of the step), the learning rate
    at its end and its wall time."""

    epoch: int
    loss: float
    distill_loss: float
    img_per_s: float
    lr: float
    wall_s: float


@dataclass
class SupernetRun:
    """A supernet and what scores its sub-networks: the recipe, the data on the device, normalisation."""

    supernet: Supernet
    recipe: Recipe
    data: DataSet
    device: torch.device
    normalize: Normalize
    train_split: Split | FileSplit  # the data's splits on the device, moved once
    val_split: Split | FileSplit
    epochs: list[SupernetEpoch]

    def score(self, spec: NetworkSpec, calibration_images: int = CALIBRATION_IMAGES) -> float:
        """Validation top-1 (fraction) of sub-network ``spec`` with inherited weights, after
        re-estimating its BatchNorm statistics on ``calibration_images`` training images."""
        net = self.supernet.extract(spec).to(self.device, memory_format=torch.channels_last)
        precise_bn(net, self.train_split, self.normalize, self.recipe.resolution,
                   min(calibration_images, len(self.train_split)), self.recipe.batch_size)
        return evaluate(net, self.val_split, self.normalize, self.recipe.resolution)


def _settings(space: SearchSpace, data: DataSet, recipe: Recipe, random_subnets: int, seed: int) -> dict:
    return {"space": space.name, "recipe": asdict(recipe), "data": dataset_record(data),
            "num_classes": data.num_classes, "random_subnets": random_subnets, "seed": seed}


def default_supernet_dir(space_name: str, data: DataSet, recipe: Recipe, random_subnets: int = 2,
                         seed: int = 0) -> Path:
    """``runs/supernet/<space>-<recipe>-<digest of the settings>``: the same command finds its run again."""
    space = load_space(space_name)
    settings = _settings(space, data, recipe, random_subnets, seed)
    return Path("runs/supernet") / f"{space.name}-{recipe.name}-{digest(settings)[:10]}"


def _open(run_dir: Path, settings: dict) -> None:
    path = run_dir / SETTINGS
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} is a file")
    if path.exists():
        saved = _read_settings(run_dir)
        differs = [k for k in settings if saved.get(k) != settings[k]]
        if differs:
            raise UsageError(f"run folder {run_dir} already holds a supernet with other settings "
                             f"({', '.join(differs)}): use another run folder, or remove that one")
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UsageError(f"run folder {run_dir} holds other files and no {SETTINGS}: use an empty or new folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)


def _read_settings(run_dir: Path) -> dict:
    path = run_dir / SETTINGS
    if not path.is_file():
        raise UsageError(f"{run_dir}: no trained supernet here (no {SETTINGS}): train one with 'scalesearch supernet "
                         "train'")
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UsageError(f"{path}: not a supernet settings file ({err}); remove the run folder to start over") \
            from None
    if not isinstance(saved, dict) or not {"space", "recipe", "num_classes"} <= set(saved):
        raise UsageError(f"{path}: not a supernet settings file (space, recipe and num_classes are needed)")
    return saved


def _extremes(space: SearchSpace, adapt: Callable[[NetworkSpec], NetworkSpec]) -> tuple[NetworkSpec, NetworkSpec]:
    def macs(spec: NetworkSpec) -> float:
        return analytic_count(adapt(spec)).macs

    return space.extreme(macs, largest=True)[1], space.extreme(macs)[1]


def _restore(run_dir: Path, state: dict, random_state: bool = True) -> list[SupernetEpoch]:
    """The epochs the checkpoint finished (its states loaded into ``state``'s objects, and with
    ``random_state`` torch's random state, so that training goes on as if never stopped); none
    without one."""
    path = run_dir / CHECKPOINT
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True) if path.exists() else {}
    except Exception:  # a checkpoint that does not read is one to redo
        saved = {}
    done = int(saved.get("epoch", 0))
    if done:
        for name, obj in state.items():
            if isinstance(obj, torch.Generator):
                obj.set_state(saved[name])
            else:
                obj.load_state_dict(saved[name])
        if random_state:
            torch.set_rng_state(saved["torch_rng"])
    rows = list(csv.DictReader(io.StringIO((run_dir / METRICS).read_text()))) if (run_dir / METRICS).exists() else []
    types = {f.name: f.type for f in dataclasses.fields(SupernetEpoch)}
    return [SupernetEpoch(**{k: int(v) if types[k] == "int" else float(v) for k, v in r.items()})
            for r in rows if int(r["epoch"]) <= done]


def _record(run_dir: Path, epochs: list[SupernetEpoch], state: dict) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[f.name for f in dataclasses.fields(SupernetEpoch)])
    writer.writeheader()
    writer.writerows(asdict(e) for e in epochs)
    write_atomic(run_dir / METRICS, text.getvalue())
    write_tensors(run_dir / CHECKPOINT, {"epoch": epochs[-1].epoch, "torch_rng": torch.get_rng_state(),
                                         **{k: v.get_state() if isinstance(v, torch.Generator) else v.state_dict()
                                            for k, v in state.items()}})


def train_supernet(space_name: str, data: DataSet, recipe: Recipe, run_dir: Path, random_subnets: int = 2,
                   seed: int = 0, device: str = "cpu",
                   on_epoch: Callable[[SupernetEpoch], None] | None = None) -> SupernetRun:
    """Train (or go on training) the supernet of search space ``space_name`` on ``data`` in ``run_dir``
    with the sandwich rule: per step the largest network on the labels, the smallest and
    ``random_subnets`` random sub-networks on the largest's predictions."""
    if not (isinstance(random_subnets, int) and 0 <= random_subnets <= MAX_RANDOM_SUBNETS):
        raise UsageError(f"`random_subnets` must be an integer in [0, {MAX_RANDOM_SUBNETS}], got {random_subnets!r}")
    check_seed(seed)
    procs = distributed.processes()
    dev = resolve_device(procs.device(device))
    procs.check(min(recipe.batch_size, len(data.train)), len(data.train))
    space = load_space(space_name)
    torch.manual_seed(seed)  # every process builds the same initial weights
    run = _build(space, data, recipe, dev)  # refuses a space it cannot share before any file is written
    if procs.writer:
        _open(run_dir, _settings(space, data, recipe, random_subnets, seed))
    with run_lock(run_dir) if procs.writer else contextlib.nullcontext(), distributed.process_group(procs, dev):
        _train(run, space, recipe, run_dir, random_subnets, seed, procs, on_epoch)
    return run


def _train(run: SupernetRun, space: SearchSpace, recipe: Recipe, run_dir: Path, random_subnets: int, seed: int,
           procs: distributed.Processes, on_epoch: Callable[[SupernetEpoch], None] | None) -> None:
    supernet, dev, data = run.supernet, run.device, run.data
    largest, smallest = (supernet.check(s) for s in _extremes(space, supernet.adapt))
    source = SplitBatches(run.train_split, recipe, data.num_classes, procs)
    augment = TrainAugment(run.normalize, recipe, data.num_classes)
    optimizer = make_optimizer(supernet, recipe)
    scheduler = make_schedule(optimizer, recipe, source.steps_per_epoch)
    dtype = autocast_dtype(recipe.precision, dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == torch.float16)
    generator = torch.Generator().manual_seed(seed)
    state = {"state_dict": supernet, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler,
             "order_rng": generator}
    run.epochs = _restore(run_dir, state)
    if procs.rank > 0:  # each process draws its own augmentation (rank 0 the run's own random state)
        torch.manual_seed(procs.seed(seed, len(run.epochs)))
    for epoch in range(len(run.epochs) + 1, recipe.epochs + 1):
        started = time.perf_counter()
        supernet.train()
        losses, distills, seen = 0.0, 0.0, 0
        for step, (images, labels) in enumerate(source.epoch(generator), start=1):
            signals.check()
            images, targets = augment(images, labels)
            images = images.contiguous(memory_format=torch.channels_last)
            # The step's sub-networks are a function of (seed, epoch, step): a resumed run draws the same.
            rng = random.Random(f"{seed}-{epoch}-{step}")
            others = [smallest] + [supernet.check(space.sample(rng)[1]) for _ in range(random_subnets)]
            optimizer.zero_grad(set_to_none=True)
            # Each network's loss is divided by the step's network count: the step moves the shared weights
            # as far as one network's step would, so the recipe's learning rate keeps its meaning.
            share = 1 + len(others)
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                logits = supernet(images, largest)
                loss = source.loss(logits, targets)
            scaler.scale(loss / share).backward()
            teacher = logits.detach().float().softmax(1)
            distill = 0.0
            for spec in others:
                with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                    student = supernet(images, spec).float()
                kd = -(teacher * F.log_softmax(student, 1)).sum(1).mean()
                scaler.scale(kd / share).backward()
                distill += kd.item() / len(others)
            distributed.average_gradients(supernet, procs)
            if recipe.grad_clip_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(supernet.parameters(), recipe.grad_clip_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses, distills, seen = losses + loss.item(), distills + distill, seen + len(labels)
            if not math.isfinite(losses + distills):
                raise TrainingError(f"supernet loss is not finite at epoch {epoch}, step {step}: lower the recipe's "
                                    "lr, or add grad_clip_norm", "loss not finite")
            if not distributed.ranks_agree(supernet, procs):
                raise TrainingError(f"the {procs.world} processes hold different supernet weights after epoch "
                                    f"{epoch}, step {step}", "processes diverged")
        wall = time.perf_counter() - started
        totals = distributed.total(torch.tensor([losses, distills, float(seen)], dtype=torch.float64), procs)
        losses, distills, seen = totals[0].item() / procs.world, totals[1].item() / procs.world, totals[2].item()
        run.epochs.append(SupernetEpoch(epoch, losses / step, distills / step, seen / wall,
                                        optimizer.param_groups[0]["lr"], round(wall, 2)))
        if procs.writer:
            _record(run_dir, run.epochs, state)
            if on_epoch:
                on_epoch(run.epochs[-1])


def _build(space: SearchSpace, data: DataSet, recipe: Recipe, device: torch.device) -> SupernetRun:
    supernet = Supernet(space, adapt=lambda spec: recipe.network(spec, data.num_classes))
    if recipe.zero_init_residual:  # every residual block, of every sub-network, starts as the identity (BigNAS)
        zero_init_residuals(supernet.net)
    supernet = supernet.to(device, memory_format=torch.channels_last)
    train_split, val_split = on_device(data.train, device, recipe), on_device(data.val, device, recipe)
    normalize = Normalize.of(train_split, supernet.spec.in_channels)
    return SupernetRun(supernet, recipe, data, device, normalize, train_split, val_split, [])


def load_supernet(run_dir: Path, data: DataSet, device: str = "cpu") -> SupernetRun:
    """The trained supernet of ``run_dir``, to score sub-networks on ``data`` (the data it was
    trained on: its digest must match the run's)."""
    settings = _read_settings(run_dir)
    record = dataset_record(data)
    if settings.get("data") != record:
        raise UsageError(f"{run_dir}: the supernet was trained on {settings.get('data')}, not on {record}: give "
                         "the data it was trained on")
    try:
        recipe = decode(Recipe, settings["recipe"])
    except SpecError as err:
        raise UsageError(f"{run_dir / SETTINGS}: its recipe is not valid ({err})") from None
    dev = resolve_device(device)
    run = _build(load_space(settings["space"]), data, recipe, dev)
    run.epochs = _restore(run_dir, {"state_dict": run.supernet}, random_state=False)
    if not run.epochs:
        raise UsageError(f"{run_dir}: no trained epoch ({CHECKPOINT} missing or unreadable): train the supernet first")
    return run


def describe_supernet(run_dir: Path) -> str:
    """The supernet of ``run_dir`` in words, with its checkpoint's content digest: what a study
    records, so that resuming it with other weights is refused."""
    settings = _read_settings(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise UsageError(f"{run_dir}: no {CHECKPOINT}: train the supernet first (scalesearch supernet train)")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{settings['space']}, {settings['recipe'].get('epochs')} epochs, sha256 {sha[:16]}"


def check_supernet(run_dir: Path, space: SearchSpace) -> None:
    """Refuse a supernet of another search space than the search's."""
    trained = _read_settings(run_dir)["space"]
    if trained != space.name:
        raise UsageError(f"{run_dir} holds a supernet of search space {trained!r}, and the search is over "
                         f"{space.name!r}: give --space {trained}, or train a supernet of {space.name!r}")
