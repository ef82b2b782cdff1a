"""``scalesearch self-train``: Noisy Student (Xie et al., 2020) along a scaled family.

A teacher trained on the labelled images labels the unlabelled ones without noise; the confident
ones, balanced per class (:mod:`scalesearch.train.pseudo_labels`), train a noised student of equal
or larger size beside the labelled images; the student then teaches the next round.

- Round 0 is the teacher: given (a ``train`` run folder, or a checkpoint with its spec), or trained
  here on the labelled images with the recipe as it stands.
- Round r >= 1 holds the teacher's labels, the kept index, the student's checkpoint and metrics.
  The student is ``student`` as given, or the round-0 teacher's network scaled by
  phi = r x ``student_phi`` with the current coefficients (so B0 teaches B1, which teaches B2).
  It trains at the teacher's resolution times its resolution multiplier.
- Noise is on the student only: RandAugment, dropout and stochastic depth, sized by the student's
  phi (:func:`noise_for`); the recipe's crop and flip stay in every run, and MixUp/CutMix are off
  (the pseudo-labels are already distributions).
- A step's batch holds the recipe's batch size: 1 / (1 + ``unlabeled_ratio``) of it labelled, the
  rest pseudo-labelled; the loss is the sum of both parts' cross-entropies over the labelled batch
  size, i.e. labelled mean + ratio x pseudo-labelled mean, as the official ``main.py`` weighs them,
  and the learning rate is the recipe's for a batch of the labelled share (the official code scales
  it by the labelled batch size). An epoch is one pass over the labelled images.
- Each seed is a chain of its own. Everything resumes: a finished round is skipped, and a round
  interrupted after labelling keeps its labels and trains its student again from the start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torchvision.transforms import v2

from scalesearch.arch.io import resolve_spec, save_spec
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.files import digest, folder_inside, run_lock, write_json
from scalesearch.measure.flops import analytic_count
from scalesearch.report import markdown
from scalesearch.resumable import ResultsFile
from scalesearch.runs import default_start
from scalesearch.train.augment import Normalize, to_channels
from scalesearch.train.checkpoints import load_trained, read_state_dict, write_tensors
from scalesearch.train.data import DataSet, Split, load_data, parse_data_arg
from scalesearch.train.device import resolve_device
from scalesearch.train.imagefolder import FileSplit, load_unlabeled_folder
from scalesearch.train.loop import evaluate, mean_std, train_seed
from scalesearch.train.pseudo_labels import (
    LabeledSplit,
    Selection,
    hide_labels,
    label,
    select,
    smoothed_one_hot,
    soft_cross_entropy,
    split_labeled,
    targets,
)
from scalesearch.train.recipes import Recipe

LABELS = ("soft", "hard")
#: Stochastic depth of a noised student: EfficientNet's drop-connect rate (survival 0.8), as the paper.
NOISE_DROP_PATH = 0.2


def noise_for(phi: float) -> tuple[int, float]:
    """A noised student's RandAugment magnitude (torchvision's 0..30 scale) and dropout, by size.

    Dropout is EfficientNet's per-size table (0.2 at B0 up to 0.5 at B7). The magnitude runs from
    15 at phi 0 (the official code's B0 setting, 5 on TF's 0..10 scale) by 3 per phi to
    torchvision's largest, 30, at phi 5 and above (the official large models use 27 on TF's scale,
    beyond torchvision's range)."""
    step = max(0, min(7, round(phi)))
    dropout = (0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5)[step]
    return min(30, 15 + 3 * step), dropout


#: Rounds of one self-training run (each trains a student; Noisy Student used 3).
MAX_ROUNDS = 16


@dataclass(frozen=True)
class SelfTrainConfig:
    """One self-training run: data, teacher, student, filtering and noise (see the module docstring)."""

    data: str
    recipe: Recipe
    seeds: list[int]
    run_dir: Path | None = None  # None: runs/self-train-<digest of the settings>
    teacher: Path | None = None  # a train run folder or a checkpoint file; None: round 0 trains one
    teacher_spec: str | None = None  # a checkpoint's spec, or round 0's network; None: the newest found base
    student: str | None = None  # None: the teacher's network scaled by round x student_phi
    student_phi: float = 1.0
    coefficients: Coefficients | None = None  # None: the current ones (newest grid run, else EfficientNet's)
    labeled_fraction: float | None = None
    unlabeled: str | None = None
    threshold: float = 0.3
    per_class: int | None = None  # None: labelled images per class x unlabeled_ratio; 0: no cap
    balance: bool = True
    labels: str = "soft"
    temperature: float = 1.0
    unlabeled_ratio: float = 3.0
    rounds: int = 1
    noise: bool = True
    randaugment_magnitude: int | None = None  # None: noise_for(phi)
    dropout: float | None = None  # None: noise_for(phi)
    drop_path_rate: float = NOISE_DROP_PATH
    device: str = "cpu"
    train_images: int | None = None
    val_fraction: float = 0.1
    data_seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, value: Any, reason: str) -> UsageError:
            return UsageError(f"`{name}` {value}: {reason}")

        if not 0 <= self.threshold <= 1:
            raise bad("threshold", f"{self.threshold:g}", "must be in [0, 1] (a probability)")
        if not isinstance(self.rounds, int) or not 1 <= self.rounds <= MAX_ROUNDS:
            raise bad("rounds", self.rounds, f"must be in [1, {MAX_ROUNDS}] (one student a round; Noisy Student "
                                             "used 3)")
        if self.labels not in LABELS:
            raise bad("labels", self.labels, f"must be one of {', '.join(LABELS)}")
        if not self.temperature > 0:
            raise bad("temperature", f"{self.temperature:g}", "must be positive")
        if not 0 < self.unlabeled_ratio <= 64:
            raise bad("unlabeled_ratio", f"{self.unlabeled_ratio:g}", "must be in (0, 64]")
        if self.per_class is not None and self.per_class < 0:
            raise bad("per_class", self.per_class, "must be >= 0 (0: no cap)")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise bad("dropout", f"{self.dropout:g}", "must be in [0, 1)")
        if not 0 <= self.drop_path_rate < 1:
            raise bad("drop_path_rate", f"{self.drop_path_rate:g}", "must be in [0, 1)")
        if self.randaugment_magnitude is not None and not 0 <= self.randaugment_magnitude <= 30:
            raise bad("randaugment_magnitude", self.randaugment_magnitude, "must be in [0, 30]")
        if self.labeled_fraction is not None and not 0 < self.labeled_fraction < 1:
            raise bad("labeled_fraction", f"{self.labeled_fraction:g}", "must be in (0, 1): some images labelled, "
                                                                        "some not")
        if (self.labeled_fraction is None) == (self.unlabeled is None):
            raise UsageError("give one of `unlabeled` KIND:DIR (images without labels) or `labeled_fraction` F "
                             "(hide the labels of the rest of the training split)")
        if self.unlabeled is not None:
            parse_data_arg(self.unlabeled)
        if not self.seeds:
            raise UsageError("at least one seed is needed")
        if self.teacher is not None and not self.teacher.exists():
            raise UsageError(f"`teacher` {self.teacher}: no such run folder or checkpoint file")
        if self.teacher is not None and self.teacher.is_file() and self.teacher_spec is None:
            raise UsageError(f"`teacher` {self.teacher} is a checkpoint file: give the spec it was trained as "
                             f"with `teacher_spec`")

    def settings(self) -> dict[str, Any]:
        """What identifies the run's results (the device does not)."""
        chosen = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("run_dir", "device")}
        return json.loads(json.dumps(chosen, default=str))


def default_run_dir(config: SelfTrainConfig) -> Path:
    """``runs/self-train-<digest of the settings>``: the same command finds its own run again."""
    return Path("runs") / f"self-train-{digest(config.settings())[:10]}"


def load_unlabeled(text: str, like: Split | FileSplit) -> Split | FileSplit:
    """Unlabelled images from ``KIND:DIR``: a data set's training split with its labels dropped, or
    every readable image under an ``imagefolder:DIR`` (class folders or none)."""
    kind, folder = parse_data_arg(text)
    if kind == "imagefolder":
        split, _ = load_unlabeled_folder(folder)
        size = like.sample_images(1).shape[-1]
        return split.at_size(size)
    return hide_labels(load_data(text).train)


def labelled_share(batch_size: int, ratio: float) -> int:
    """The labelled images in a student's batch of ``batch_size``: 1 / (1 + ratio) of it, at least one
    of each kind."""
    return max(1, min(batch_size - 1, round(batch_size / (1 + ratio))))


class MixedBatches:
    """Batches of labelled and pseudo-labelled images side by side (see the module docstring)."""

    def __init__(self, labeled: Split | FileSplit, pseudo: Split | FileSplit, pseudo_targets: torch.Tensor,
                 num_classes: int, batch_size: int, ratio: float, label_smoothing: float) -> None:
        self.labeled, self.pseudo, self.pseudo_targets = labeled, pseudo, pseudo_targets
        self.num_classes, self.label_smoothing = num_classes, label_smoothing
        self.labeled_batch = labelled_share(batch_size, ratio)
        self.pseudo_batch = batch_size - self.labeled_batch
        self.steps_per_epoch = max(1, len(labeled) // self.labeled_batch)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        steps = self.steps_per_epoch
        labeled_order = _cycled(len(self.labeled), steps * self.labeled_batch, generator)
        pseudo_order = _cycled(len(self.pseudo), steps * self.pseudo_batch, generator)
        pairs = zip(self.labeled.batches(labeled_order, self.labeled_batch),
                    self.pseudo.batches(pseudo_order, self.pseudo_batch), pseudo_order.split(self.pseudo_batch))
        for (images, labels), (pseudo_images, _), index in pairs:
            pseudo_images = to_channels(pseudo_images, images.shape[1])
            if pseudo_images.shape[-2:] != images.shape[-2:]:
                pseudo_images = v2.functional.resize(pseudo_images, list(images.shape[-2:]), antialias=True)
            yield (torch.cat([images, pseudo_images]),
                   torch.cat([smoothed_one_hot(labels, self.num_classes, self.label_smoothing),
                              self.pseudo_targets[index.to(self.pseudo_targets.device)]]))

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return soft_cross_entropy(logits, target).sum() / self.labeled_batch


def _cycled(n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``length`` indices of fresh permutations of ``range(n)``, one after another."""
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-length // n))])[:length]


@dataclass
class _Chain:
    """What every round of every seed shares."""

    config: SelfTrainConfig
    data: DataSet  # the labelled images as its training split
    parts: LabeledSplit
    normalize: Normalize
    teacher_spec: NetworkSpec  # round 0's network, as given (before the recipe)
    teacher_resolution: int
    coefficients: Coefficients
    results: ResultsFile
    run_dir: Path
    given: tuple[NetworkSpec, torch.nn.Module] | None  # the teacher given, as trained, and its network
    students: dict[int, NetworkSpec] = field(default_factory=dict)


def _student(chain: _Chain, round_: int) -> NetworkSpec:
    """The student of ``round_``: the given spec, or round 0's network scaled by round x student_phi."""
    if round_ not in chain.students:
        c = chain.config
        if c.student is not None:
            chain.students[round_] = resolve_spec(c.student)
        else:
            chain.students[round_] = scale(chain.teacher_spec, round_ * c.student_phi, chain.coefficients)
    return chain.students[round_]


def _phi(spec: NetworkSpec) -> float:
    return spec.scaling.phi if spec.scaling is not None and spec.scaling.phi is not None else 0.0


def student_recipe(config: SelfTrainConfig, spec: NetworkSpec, resolution: int) -> tuple[Recipe, NetworkSpec]:
    """The recipe and spec a student trains with: noised (or not), no MixUp/CutMix, and the learning
    rate of a batch of its labelled share (the official code scales it by the labelled batch size;
    the loss, summed over the whole batch and divided by the labelled count, is that many times a
    mean, so a step moves the weights as the recipe's does)."""
    magnitude, dropout = noise_for(_phi(spec))
    if config.randaugment_magnitude is not None:
        magnitude = config.randaugment_magnitude
    if config.dropout is not None:
        dropout = config.dropout
    if not config.noise:
        magnitude, dropout = 0, 0.0
    base = config.recipe
    lr = base.lr * labelled_share(base.batch_size, config.unlabeled_ratio) / base.batch_size
    recipe = dataclasses.replace(base, resolution=resolution, randaugment_magnitude=magnitude, lr=lr,
                                 drop_path_rate=config.drop_path_rate if config.noise else 0.0,
                                 mixup_alpha=0.0, cutmix_alpha=0.0)
    return recipe, dataclasses.replace(spec, dropout=dropout)


#: What every round's row in ``self_train.json`` holds (read back to summarise the run).
ROW_SCHEMA = {"seed": "an integer", "round": "an integer", "network": "text", "val_top1": "a number"}


def _folder(chain: _Chain, round_: int, seed: int) -> Path:
    """``round-<r>/seed-<s>``: the teacher's labels and the kept index of a round (made, never a link)."""
    return folder_inside(chain.run_dir, chain.run_dir / f"round-{round_}" / f"seed-{seed}")


def _network_folder(chain: _Chain, round_: int, seed: int) -> Path:
    """Where a round's network trains: round 0's teacher, or a round's ``student/`` (never a link)."""
    return folder_inside(chain.run_dir, _folder(chain, round_, seed) / ("teacher" if round_ == 0 else "student"))


def _fresh(folder: Path) -> Path:
    """An empty folder for a training that did not finish before (its partial files removed)."""
    shutil.rmtree(folder)  # a folder of the run folder, checked not to be a link
    folder.mkdir()
    return folder


def _train(chain: _Chain, spec: NetworkSpec, recipe: Recipe, seed: int, folder: Path,
           source: MixedBatches | None = None) -> float:
    """Train ``spec`` into ``folder`` (spec.yaml, metrics.csv, seed{N}_last.pt); validation top-1."""
    _fresh(folder)
    save_spec(recipe.network(spec, chain.data.num_classes), folder / "spec.yaml")
    write_json(folder / "recipe.json", dataclasses.asdict(recipe))
    return train_seed(spec, chain.data, recipe, seed, chain.normalize, chain.config.device, folder,
                      source=source).val_top1


def _teacher(chain: _Chain, seed: int) -> dict[str, Any]:
    """Round 0: the given teacher's validation top-1, or a teacher trained on the labelled images."""
    c, folder = chain.config, _network_folder(chain, 0, seed)
    row = {"seed": seed, "round": 0, "network": chain.teacher_spec.name, "resolution": chain.teacher_resolution}
    if chain.given is not None:
        spec, model = chain.given
        val_split = chain.data.val.on(resolve_device(c.device))
        row["val_top1"] = evaluate(model.to(resolve_device(c.device)), val_split, chain.normalize, spec.resolution)
        row["source"] = str(c.teacher)
    else:
        recipe = c.recipe.override(resolution=chain.teacher_resolution)
        row["val_top1"] = _train(chain, chain.teacher_spec, recipe, seed, folder)
        row["source"] = "trained on the labelled images"
    return row


def _teacher_of(chain: _Chain, round_: int, seed: int):
    """The trained network that labels round ``round_``'s images: round r-1's student (or teacher)."""
    if round_ == 1 and chain.given is not None:
        return chain.given
    return load_trained(_network_folder(chain, round_ - 1, seed))


def _labels(chain: _Chain, round_: int, seed: int) -> torch.Tensor:
    """The teacher's probabilities over the unlabelled images, computed once and kept."""
    path = _folder(chain, round_, seed) / "labels.pt"
    if path.is_file():
        return read_state_dict(path)["probabilities"]
    spec, model = _teacher_of(chain, round_, seed)
    device = resolve_device(chain.config.device)
    probabilities = label(model.to(device), chain.parts.unlabeled.on(device), chain.normalize, spec.resolution)
    write_tensors(path, {"probabilities": probabilities})
    return probabilities


def per_class_cap(config: SelfTrainConfig, labeled: Split | FileSplit, classes: int) -> int | None:
    """Images kept per class: given, or the labelled images per class times the unlabelled ratio."""
    if config.per_class is not None:
        return config.per_class or None
    return max(1, round(len(labeled) / classes * config.unlabeled_ratio))


def _student_round(chain: _Chain, round_: int, seed: int) -> dict[str, Any]:
    """Label, filter, balance, then train the noised student of ``round_``."""
    c, folder = chain.config, _folder(chain, round_, seed)
    probabilities = _labels(chain, round_, seed)
    selection = select(probabilities, c.threshold, per_class_cap(c, chain.parts.labeled, chain.data.num_classes),
                       c.balance)
    if len(selection.index) == 0:
        raise UsageError(f"round {round_}: no unlabelled image reached `threshold` {c.threshold:g} "
                         f"(the teacher's highest confidence was {float(probabilities.max()):.2f})")
    write_json(folder / "kept.json", {"index": selection.index.tolist(), "kept_per_class": selection.kept_per_class,
                                      "trained_per_class": selection.trained_per_class})
    spec = _student(chain, round_)
    multiplier = spec.scaling.resolution_mult if spec.scaling is not None and c.student is None else 1.0
    resolution = c.recipe.override(resolution=chain.teacher_resolution).scaled_resolution(spec, multiplier)
    recipe, noised = student_recipe(c, spec, resolution)
    device = resolve_device(c.device)
    kept_targets = targets(probabilities[selection.index], c.labels, c.temperature, recipe.label_smoothing)
    source = MixedBatches(chain.data.train.on(device), chain.parts.unlabeled.subset(selection.index).on(device),
                          kept_targets.to(device), chain.data.num_classes, recipe.batch_size, c.unlabeled_ratio,
                          recipe.label_smoothing)
    val_top1 = _train(chain, noised, recipe, seed, _network_folder(chain, round_, seed), source)
    return {"seed": seed, "round": round_, "network": spec.name, "resolution": resolution,
            "macs": analytic_count(recipe.network(spec, chain.data.num_classes)).macs, "val_top1": val_top1,
            **_label_quality(probabilities, selection, chain.parts.hidden_labels),
            "randaugment_magnitude": recipe.randaugment_magnitude, "dropout": noised.dropout,
            "drop_path_rate": recipe.drop_path_rate}


def _label_quality(probabilities: torch.Tensor, selection: Selection, hidden: torch.Tensor | None) -> dict[str, Any]:
    """Images kept per class, the mean confidence of those kept and, where the true labels are
    known (hidden), the accuracy of the pseudo-labels: kept images, and all unlabelled images."""
    unique = selection.index.unique()
    confidence, predicted = probabilities.max(dim=1)
    quality: dict[str, Any] = {"kept_per_class": selection.kept_per_class,
                               "trained_per_class": selection.trained_per_class,
                               "mean_confidence": float(confidence[unique].mean()),
                               "pseudo_label_accuracy": None, "pseudo_label_accuracy_all": None}
    if hidden is not None:
        quality["pseudo_label_accuracy"] = float((predicted[unique] == hidden[unique]).float().mean())
        quality["pseudo_label_accuracy_all"] = float((predicted == hidden).float().mean())
    return quality


def _prepare(config: SelfTrainConfig, held: contextlib.ExitStack) -> _Chain:
    """Load the data, cut it, take the run folder's lock (into ``held``) and open (or resume) the
    run's results."""
    resolve_device(config.device)
    dataset = load_data(config.data, val_fraction=config.val_fraction, seed=config.data_seed,
                        train_images=config.train_images)
    if config.labeled_fraction is not None:
        parts = split_labeled(dataset.train, config.labeled_fraction, config.data_seed)
    else:
        parts = LabeledSplit(dataset.train, load_unlabeled(config.unlabeled, dataset.train), None)
    data = dataclasses.replace(dataset, train=parts.labeled)
    start, given = default_start(), None
    if config.teacher is not None:  # loaded (and checked against its spec) before anything is written
        spec = None
        if config.teacher_spec is not None:
            spec = config.recipe.network(resolve_spec(config.teacher_spec), data.num_classes)
        given = load_trained(config.teacher, spec)
        teacher_spec, resolution = given[0], given[0].resolution
        if teacher_spec.num_classes != data.num_classes:
            raise UsageError(f"`teacher` {config.teacher} predicts {teacher_spec.num_classes} classes and the data "
                             f"has {data.num_classes}: give a teacher trained on this data's classes")
    else:
        teacher_spec = resolve_spec(config.teacher_spec) if config.teacher_spec else start.base
        resolution = config.recipe.resolution
    coefficients = config.coefficients or start.coefficients
    if config.student is None:  # the last round's student, before any work: its phi must be in bounds
        try:
            scale(teacher_spec, config.rounds * config.student_phi, coefficients)
        except UsageError as err:
            raise UsageError(f"the last round's student, at phi = `rounds` {config.rounds} x `student_phi` "
                             f"{config.student_phi:g}: {err}") from None
    run_dir = config.run_dir or default_run_dir(config)
    held.enter_context(run_lock(run_dir))
    results = ResultsFile(run_dir / "self_train.json", config.settings(), header={"kind": "self-train"},
                          row_schema=ROW_SCHEMA)
    results.update(teacher=teacher_spec.name, coefficients=dataclasses.asdict(coefficients),
                   coefficients_source="given" if config.coefficients else start.coefficients_source,
                   labeled_images=len(parts.labeled), unlabeled_images=len(parts.unlabeled),
                   per_class=per_class_cap(config, parts.labeled, data.num_classes),
                   val_images=len(data.val), data=data.name)
    normalize = Normalize.of(parts.labeled.on(resolve_device(config.device)), teacher_spec.in_channels)
    return _Chain(config, data, parts, normalize, teacher_spec, resolution, coefficients, results, run_dir, given)


def run(config: SelfTrainConfig, on_done: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Every round of every seed not yet in the results; returns the results document. One process
    at a time works on a run folder: a second is refused with one line naming the first."""
    with contextlib.ExitStack() as held:
        return _run(_prepare(config, held), on_done)


def _run(chain: _Chain, on_done: Callable[[int, int, str], None] | None) -> dict[str, Any]:
    config = chain.config
    jobs = [(s, r) for s in config.seeds for r in range(config.rounds + 1)]
    for done, (seed, round_) in enumerate(jobs, start=1):
        key = f"{seed}/{round_}"
        if key not in chain.results:
            row = _teacher(chain, seed) if round_ == 0 else _student_round(chain, round_, seed)
            chain.results.add(key, row)
        if on_done:
            on_done(done, len(jobs), f"seed {seed} round {round_}")
    chain.results.update(summary=summarise(chain.results.rows, config.rounds), run_dir=str(chain.run_dir),
                         report=str(chain.run_dir / "report.md"))
    markdown.write_self_train_report(chain.run_dir, chain.results.document)
    return chain.results.document


def summarise(rows: dict[str, Any], rounds: int) -> list[dict[str, Any]]:
    """Per round, over seeds: the network, teacher and student top-1 (mean, std), images kept per
    class, mean confidence and pseudo-label accuracy."""
    table = []
    for r in range(rounds + 1):
        these = [row for row in rows.values() if row["round"] == r]
        before = [row for row in rows.values() if row["round"] == r - 1]
        if not these:
            continue
        entry = {"round": r, "network": these[0]["network"], "seeds": len(these)}
        entry["val_top1"], entry["val_top1_std"] = mean_std([row["val_top1"] for row in these])
        entry["teacher_val_top1"], _ = mean_std([row["val_top1"] for row in before]) if r else (None, None)
        for key in ("mean_confidence", "pseudo_label_accuracy", "pseudo_label_accuracy_all"):
            entry[key], _ = mean_std([row[key] for row in these if row.get(key) is not None])
        if r:
            entry["kept_per_class"] = [statistics.fmean(k) for k in zip(*(row["kept_per_class"] for row in these))]
        table.append(entry)
    return table
