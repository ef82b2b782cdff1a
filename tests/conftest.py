"""Shared fixtures: random valid specs covering every block kind; tiny bases and a tiny search space;
where the real Fashion-MNIST files are; a run folder's study as another process reads it."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import optuna
import pytest
import yaml

from scalesearch.arch.io import save_spec
from scalesearch.arch.spec import (
    ACTIVATIONS,
    BasicBlock,
    Bottleneck,
    DepthwiseSeparable,
    FusedMBConv,
    Head,
    Identity,
    MBConv,
    NetworkSpec,
    Stem,
)

#: Debian's dataset-fashion-mnist package puts the IDX files here (.ci/run installs it, and sets
#: SCALESEARCH_REQUIRE_FASHION=1 so that the tests that read it fail rather than skip without it).
FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.needs_fashion


ROOT = Path(__file__).resolve().parent.parent


def journal_study(run_dir: Path, name: str) -> optuna.Study:
    """Study ``name`` of the journal in ``run_dir``, as a second process reads it."""
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run_dir / "study.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def journal_trials(run_dir: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    """The trials so far of a run that may be starting: none while its journal, or the study in
    it, is not written yet (the file is created a moment before the study)."""
    if not (run_dir / "study.journal").exists():
        return []
    try:
        return journal_study(run_dir, name).trials
    except KeyError:
        return []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_fashion: reads the real Fashion-MNIST files in " + str(FASHION))


def require_fashion() -> None:
    """Skip without the Fashion-MNIST files; fail instead where CI promised them."""
    if not FASHION.is_dir():
        if os.environ.get("SCALESEARCH_REQUIRE_FASHION"):
            pytest.fail(f"Fashion-MNIST is required here (SCALESEARCH_REQUIRE_FASHION) but {FASHION} is missing")
        pytest.skip("Debian package dataset-fashion-mnist not installed (.ci/run installs it)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_fashion"):
        require_fashion()


def random_block(rng: random.Random):
    kind = rng.choice(["mbconv", "fused_mbconv", "depthwise_separable", "basic", "bottleneck", "identity"])
    common = {"out_channels": rng.randint(4, 96), "repeats": rng.randint(1, 3), "stride": rng.choice([1, 2])}
    if kind in ("mbconv", "fused_mbconv"):
        cls = MBConv if kind == "mbconv" else FusedMBConv
        return cls(**common, kernel=rng.choice([1, 3, 5, 7]), expand_ratio=rng.choice([1, 2.5, 3, 4, 6]),
                   se_ratio=rng.choice([0.0, 0.25, 0.5]), skip=rng.random() < 0.8)
    if kind == "depthwise_separable":
        return DepthwiseSeparable(**common, kernel=rng.choice([3, 5]))
    if kind == "basic":
        return BasicBlock(**common)
    if kind == "identity":
        return Identity(**common)
    expansion = rng.choice([2, 4])
    return Bottleneck(**{**common, "out_channels": expansion * rng.randint(2, 24)}, expansion=expansion)


def random_spec(rng: random.Random) -> NetworkSpec:
    """A valid spec with 1-5 stages of random kinds, small enough to trace in well under a second."""
    return NetworkSpec(
        name=f"random-{rng.randrange(10**6)}",
        resolution=rng.randint(16, 64),
        stem=Stem(out_channels=rng.randint(8, 48), kernel=rng.choice([3, 5, 7]), stride=rng.choice([1, 2]),
                  pool=rng.random() < 0.3),
        stages=tuple(random_block(rng) for _ in range(rng.randint(1, 5))),
        head=Head(out_channels=rng.randint(16, 256)) if rng.random() < 0.6 else None,
        num_classes=rng.randint(2, 20),
        in_channels=rng.choice([1, 3]),
        activation=rng.choice(ACTIVATIONS),
        dropout=rng.choice([0.0, 0.2]),
        drop_path_rate=rng.choice([0.0, 0.1]),
    )


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt in this process for the test's length, as at a terminal: a
    shell that runs pytest in the background has it ignored."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def random_specs() -> list[NetworkSpec]:
    rng = random.Random(20261123)
    return [random_spec(rng) for _ in range(200)]


@pytest.fixture(scope="session")
def tiny_space(tmp_path_factory) -> Path:
    """A user space file over a two-stage skeleton small enough to train in seconds."""
    folder = tmp_path_factory.mktemp("space")
    base = NetworkSpec(name="tiny-base", resolution=16, stem=Stem(out_channels=8),
                       stages=(MBConv(out_channels=16, repeats=1, stride=2, kernel=3, expand_ratio=3),
                               MBConv(out_channels=24, repeats=1, stride=2, kernel=3, expand_ratio=3)),
                       head=Head(out_channels=64))
    save_spec(base, folder / "tiny-base.yaml")
    (folder / "tiny.yaml").write_text(yaml.safe_dump({
        "name": "tiny", "base": str(folder / "tiny-base.yaml"),
        "choices": {"expand_ratio": [1, 3], "kernel": [3, 5], "se_ratio": [0.0], "width_mult": [0.75, 1.0],
                    "repeats_delta": [0, 1]}}))
    return folder / "tiny.yaml"


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    base = NetworkSpec(name="tiny-base", resolution=32, stem=Stem(out_channels=8),
                       stages=(MBConv(out_channels=16, repeats=1, stride=2, kernel=3, expand_ratio=3),
                               MBConv(out_channels=24, repeats=2, stride=2, kernel=3, expand_ratio=3)),
                       head=Head(out_channels=64))
    return save_spec(base, tmp_path_factory.mktemp("base") / "tiny-base.yaml")


@pytest.fixture
def tiny_search(tiny_space):
    """Builds the arguments of a proxy-training find-base over ``tiny_space`` on synthetic data
    (seconds per trial): ``tiny_search(n_trials, *more_args, epochs=2)``. The finalist stage is
    one candidate and the base, one seed each, unless ``more_args`` say otherwise (the last wins)."""
    def arguments(n_trials: int, *more: str, epochs: int = 2) -> list[str]:
        return ["find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space), "--data",
                "synthetic", "--epochs", str(epochs), "--resolution", "16", "--n-trials", str(n_trials),
                "--finalists", "1", "--final-seeds", "1", *more]
    return arguments
