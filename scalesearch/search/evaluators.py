"""How a candidate gets its accuracy: one choice of the search, the rest of which (driver,
samplers, objective, constraints, finalists, storage, resume) stays the same whatever it is.

* proxy training on data (``data``), with per-epoch pruning;
* a zero-cost score at initialisation (no data: a stand-in for accuracy, not an accuracy);
* ``table:FILE``: a benchmark's recorded accuracy (NAS-Bench-Macro), one training seed's result per
  query as a real training would vary, a fresh recorded seed for each finalist seed;
* ``surrogate:NAME_OR_FILE``: a model fitted on measured networks predicts it (Accel-NASBench);
* ``supernet:RUN_DIR``: inherited weights of a trained weight-sharing supernet score a search's
  candidates (:mod:`scalesearch.train.supernet`); finalists train stand-alone on the data.

Accuracies are fractions in [0, 1], as training reports them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import optuna

from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.search.config import PRUNE_AFTER, SearchConfig, prune_from, search_recipe
from scalesearch.search.space import SearchSpace, load_space
from scalesearch.search.trial_states import scored
from scalesearch.train.data import DataSet, load_data
from scalesearch.train.loop import train
from scalesearch.train.metrics_file import EpochMetrics
from scalesearch.train.recipes import Recipe
from scalesearch.train.zero_cost import data_batch, zero_cost_score


class Evaluator:
    """Accuracy (or, without data, a zero-cost stand-in) of a candidate under one study's settings."""

    #: The trial user attribute an evaluation is stored under.
    key = "val_top1"
    data: DataSet | None = None
    #: Whether an evaluation builds a network (then the trial collects garbage after it: 0.2 s,
    #: nothing next to a training, most of a lookup's cost).
    builds_networks = False

    def __init__(self, config: SearchConfig) -> None:
        self.config = config

    def __call__(self, spec: NetworkSpec, seed: int | None = None, epochs: int | None = None,
                 trial: optuna.Trial | None = None) -> float:
        """The accuracy of ``spec`` for ``seed`` (default: the study's); ``epochs`` and ``trial``
        (per-epoch reports and pruning) matter to training only."""
        raise NotImplementedError

    def prescreen_score(self, spec: NetworkSpec) -> float:
        raise UsageError("`prescreen` scores candidates on a batch of training data: it needs `data`")

    @staticmethod
    def may_prune(study: optuna.Study) -> bool:
        """Pruning starts once :data:`PRUNE_AFTER` candidates were evaluated to the end."""
        return len(scored(study.get_trials(deepcopy=False))) >= PRUNE_AFTER


class ProxyEvaluator(Evaluator):
    """Proxy training on ``config.data``, or without data a zero-cost score at initialisation."""

    builds_networks = True

    def __init__(self, config: SearchConfig) -> None:
        super().__init__(config)
        self.recipe: Recipe = search_recipe(config)
        self.data = load_data(config.data, train_images=config.train_images) if config.data else None
        self.num_classes = self.data.num_classes if self.data else 10
        channels = load_space(config.space).base_spec.in_channels
        self.batch = data_batch(self.data, self.recipe.resolution, channels=channels) if self.data else None
        self.key = config.accuracy_key

    def __call__(self, spec: NetworkSpec, seed: int | None = None, epochs: int | None = None,
                 trial: optuna.Trial | None = None) -> float:
        seed = self.config.seed if seed is None else seed
        if self.data is None:
            return zero_cost_score(self.recipe.network(spec, self.num_classes), self.config.zero_cost_metric,
                                   resolution=self.recipe.resolution, seed=seed)
        recipe = self.recipe if epochs is None else self.recipe.override(
            epochs=epochs, warmup_epochs=min(self.recipe.warmup_epochs, epochs))
        if trial is None:  # a finalist or a known network: one evaluation, after the last epoch
            return train(spec, self.data, recipe, seeds=[seed], device=self.config.device,
                         eval_from=recipe.epochs).val_top1
        on_epoch = None if self.config.multi_objective else self._reporter(trial)
        return train(spec, self.data, recipe, seeds=[seed], device=self.config.device, on_epoch=on_epoch,
                     eval_from=prune_from(self.config)).val_top1

    def prescreen_score(self, spec: NetworkSpec) -> float:
        """The zero-cost score of ``spec`` on a batch of the training data."""
        if self.batch is None:
            return super().prescreen_score(spec)
        images, labels = self.batch
        return zero_cost_score(self.recipe.network(spec, self.num_classes), self.config.zero_cost_metric,
                               images, labels)

    def _reporter(self, trial: optuna.Trial):
        may_prune = self.may_prune(trial.study)

        def report(metrics: EpochMetrics) -> None:
            if metrics.val_top1 is None:  # an epoch the recipe does not evaluate
                return
            trial.report(metrics.val_top1, metrics.epoch)
            if may_prune and trial.should_prune():
                trial.set_user_attr("val_top1", metrics.val_top1)
                raise optuna.TrialPruned(f"pruned at epoch {metrics.epoch}")

        return report


@lru_cache(maxsize=8)
def _table(path: str):
    from scalesearch.groundtruth.nas_bench_macro import MacroTable

    return MacroTable.load(path)


@lru_cache(maxsize=8)
def _surrogate(name_or_path: str):
    from scalesearch.groundtruth.surrogate import Surrogate

    return Surrogate.load(name_or_path)


class TableEvaluator(Evaluator):
    """A benchmark's recorded accuracy: one recorded seed per query, picked by (network, seed)."""

    def __init__(self, config: SearchConfig) -> None:
        super().__init__(config)
        self.table = _table(config.evaluator_source)

    def __call__(self, spec: NetworkSpec, seed: int | None = None, epochs: int | None = None,
                 trial: optuna.Trial | None = None) -> float:
        key = self.table.key(spec)
        if trial is not None:
            trial.set_user_attr("table_key", key)
        return self.table.accuracy(key, self.config.seed if seed is None else seed) / 100


class SurrogateEvaluator(Evaluator):
    """A fitted model's prediction (the same for every seed)."""

    def __init__(self, config: SearchConfig) -> None:
        super().__init__(config)
        self.surrogate = _surrogate(config.evaluator_source)
        self.space: SearchSpace = load_space(config.space)

    def __call__(self, spec: NetworkSpec, seed: int | None = None, epochs: int | None = None,
                 trial: optuna.Trial | None = None) -> float:
        return self.surrogate.predict_spec(self.space, spec) / 100


class SupernetEvaluator(ProxyEvaluator):
    """A search trial's candidate scored with a trained supernet's weights (validation top-1 after
    BatchNorm re-estimation); finalists and known networks (no trial) train stand-alone, as with
    proxy training."""

    def __init__(self, config: SearchConfig) -> None:
        super().__init__(config)
        from scalesearch.train.supernet import load_supernet

        self.run = load_supernet(Path(config.evaluator_source), self.data, config.device)

    def __call__(self, spec: NetworkSpec, seed: int | None = None, epochs: int | None = None,
                 trial: optuna.Trial | None = None) -> float:
        if trial is None:
            return super().__call__(spec, seed, epochs)
        return self.run.score(spec)


def make_evaluator(config: SearchConfig) -> Evaluator:
    """The evaluator ``config`` names."""
    if config.evaluator_kind == "table":
        return TableEvaluator(config)
    if config.evaluator_kind == "surrogate":
        return SurrogateEvaluator(config)
    if config.evaluator_kind == "supernet":
        return SupernetEvaluator(config)
    return ProxyEvaluator(config)


def describe_evaluator(config: SearchConfig) -> str:
    """The evaluator in words, with the content digest of its file: what a study records so that a
    resume with another table or model is refused."""
    if config.evaluator_kind == "table":
        table = _table(config.evaluator_source)
        return f"table (NAS-Bench-Macro {Path(table.source).name}, sha256 {table.digest[:16]})"
    if config.evaluator_kind == "surrogate":
        model = _surrogate(config.evaluator_source)
        return f"surrogate ({model.space}, {model.target}, sha256 {model.digest[:16]})"
    if config.evaluator_kind == "supernet":
        from scalesearch.train.supernet import describe_supernet

        return f"supernet ({describe_supernet(Path(config.evaluator_source))})"
    return "proxy-training" if config.data else f"zero-cost ({config.zero_cost_metric})"


def check_evaluator(config: SearchConfig) -> None:
    """Load the table or model now and check that it knows the search space's networks."""
    if config.evaluator_kind == "table":
        _table(config.evaluator_source).check_space(load_space(config.space))
    elif config.evaluator_kind == "surrogate":
        _surrogate(config.evaluator_source).check_space(load_space(config.space))
    elif config.evaluator_kind == "supernet":
        from scalesearch.train.supernet import check_supernet

        check_supernet(Path(config.evaluator_source), load_space(config.space))
