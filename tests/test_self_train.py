"""``self-train`` (Noisy Student): filtering and balancing, labels without noise and a noised student,
hidden labels that never reach a loss, resuming after labelling, the soft-label loss, bad input."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.nn import build_model
from scalesearch.train.augment import Normalize
from scalesearch.train.data import Split, load_data
from scalesearch.train.pseudo_labels import HIDDEN, label, select, soft_cross_entropy, split_labeled, targets
from scalesearch.train.recipes import load_recipe
from scalesearch.train.self_train import MixedBatches, SelfTrainConfig, noise_for, run, student_recipe


def _probabilities(rows: list[tuple[int, float]], classes: int = 10) -> torch.Tensor:
    """Planted predictions: each image's top class and its probability (the rest spread evenly)."""
    out = torch.zeros(len(rows), classes)
    for i, (c, p) in enumerate(rows):
        out[i] = (1 - p) / (classes - 1)
        out[i, c] = p
    return out


def test_filtering_and_balancing_give_exact_counts():
    # class 0: five images (two below the threshold); class 1: one image; class 2: none confident
    planted = [(0, 0.9), (0, 0.5), (0, 0.25), (0, 0.8), (0, 0.2), (1, 0.6), (2, 0.34), (0, 0.7)]
    probabilities = _probabilities(planted)
    chosen = select(probabilities, threshold=0.35, per_class=3, balance=True)
    assert chosen.kept_per_class == [3, 1] + [0] * 8  # class 0 capped at 3; image 6 (0.34) under the threshold
    assert chosen.trained_per_class == [3, 3] + [0] * 8  # class 1's one image repeated up to the cap
    assert chosen.index.tolist() == [0, 3, 7, 5, 5, 5]  # most confident first
    assert select(probabilities, 0.35, per_class=3, balance=False).index.tolist() == [0, 3, 7, 5]
    uncapped = select(probabilities, 0.0, per_class=None, balance=True)
    assert uncapped.kept_per_class == [6, 1, 1] + [0] * 7 and len(uncapped.index) == 8
    # a cap that does not divide evenly: 2 images up to 5 -> each twice, the more confident once more
    two = select(_probabilities([(1, 0.5), (1, 0.9)]), 0.3, per_class=5, balance=True)
    assert two.index.tolist() == [1, 0, 1, 0, 1] and two.trained_per_class == [0, 5] + [0] * 8


def test_soft_label_loss_is_cross_entropy_against_the_teachers_softmax():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # student softmax: (1/4, 3/4)
    teacher = torch.tensor([[0.5, 0.5]])
    by_hand = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert soft_cross_entropy(logits, targets(teacher, "soft")).item() == pytest.approx(by_hand, abs=1e-6)
    # temperature 2 flattens (0.8, 0.2) to (2/3, 1/3): the softmax of log(p) / 2
    assert targets(torch.tensor([[0.8, 0.2]]), "soft", temperature=2.0)[0, 0].item() == pytest.approx(2 / 3)
    # hard labels: one-hot on the top class, smoothed
    assert targets(torch.tensor([[0.3, 0.7]]), "hard", label_smoothing=0.1).tolist() == [[pytest.approx(0.05),
                                                                                          pytest.approx(0.95)]]
    # a batch of 1 labelled + 3 pseudo-labelled images weighs as the official code: labelled mean + 3 x pseudo mean
    split = Split(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
    mixed = MixedBatches(split, split, torch.zeros(4, 2), 2, batch_size=4, ratio=3, label_smoothing=0.0)
    assert (mixed.labeled_batch, mixed.pseudo_batch) == (1, 3)
    per_image = torch.tensor([0.2, 0.4, 0.6, 0.8])
    logits4 = torch.stack([torch.tensor([0.0, 0.0])] * 4)
    target4 = torch.softmax(torch.stack([torch.tensor([0.0, float(v)]) for v in per_image]), dim=1)
    labelled, pseudo = soft_cross_entropy(logits4[:1], target4[:1]), soft_cross_entropy(logits4[1:], target4[1:])
    expected = labelled.mean() + 3 * pseudo.mean()
    assert mixed.loss(logits4, target4).item() == pytest.approx(expected.item())


def test_the_teacher_labels_without_noise_and_the_student_is_noised(tiny_base):
    data = load_data("synthetic")
    spec = load_recipe("standard").network(load_spec(tiny_base), 10)
    model = build_model(dataclasses.replace(spec, dropout=0.5, drop_path_rate=0.3))  # a noisy network, if trained
    normalize = Normalize.of(data.train)
    model.train()  # label() must switch to evaluation mode itself
    first = label(model, data.val, normalize, spec.resolution)
    second = label(model, data.val, normalize, spec.resolution)
    assert torch.equal(first, second)
    assert torch.allclose(first.sum(dim=1), torch.ones(len(data.val)))

    config = SelfTrainConfig(data="synthetic", recipe=load_recipe("standard"), seeds=[0], labeled_fraction=0.5)
    recipe, noised = student_recipe(config, spec, 32)
    assert (recipe.randaugment_magnitude, noised.dropout, recipe.drop_path_rate) == (15, 0.2, 0.2)
    assert recipe.lr == pytest.approx(0.1 * 32 / 128)  # the lr of its labelled share: 32 of a batch of 128
    student = build_model(recipe.network(noised, 10)).train()
    images = torch.randn(4, 3, 32, 32)
    assert not torch.equal(student(images), student(images))  # dropout and stochastic depth draw anew
    student.eval()
    assert torch.equal(student(images), student(images))
    quiet_recipe, quiet = student_recipe(SelfTrainConfig(data="synthetic", recipe=load_recipe("standard"), seeds=[0],
                                                         labeled_fraction=0.5, noise=False), spec, 32)
    assert (quiet_recipe.randaugment_magnitude, quiet.dropout, quiet_recipe.drop_path_rate) == (0, 0.0, 0.0)
    assert noise_for(1) == (18, 0.2) and noise_for(7) == (30, 0.5)


def _write_cifar(folder: Path, images: np.ndarray, labels: list[int]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data_batch_1").open("wb") as f:
        pickle.dump({b"data": images.reshape(len(images), -1), b"labels": labels}, f)
    return f"cifar10:{folder}"


def _learnable(n: int = 600, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """CIFAR-shaped images whose class is a colour pattern plus noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0, 255, (10, 3, 32, 32))
    labels = rng.integers(0, 10, n)
    images = 0.6 * prototypes[labels] + 0.4 * rng.uniform(0, 255, (n, 3, 32, 32))
    return images.clip(0, 255).astype(np.uint8), labels.tolist()


def _config(data: str, run_dir: Path, tiny_base: Path, **changes) -> SelfTrainConfig:
    recipe = load_recipe("standard").override(epochs=2, batch_size=32)
    settings = dict(data=data, recipe=recipe, seeds=[0], run_dir=run_dir, teacher_spec=str(tiny_base),
                    student_phi=0.0, labeled_fraction=0.3, threshold=0.0)
    return SelfTrainConfig(**{**settings, **changes})


@pytest.mark.slow
def test_hidden_labels_never_reach_the_loss(tmp_path, tiny_base):
    images, labels = _learnable()
    honest = _write_cifar(tmp_path / "honest", images, labels)
    hidden = split_labeled(load_data(honest).train, 0.3)
    assert (hidden.unlabeled.labels == HIDDEN).all()
    # relabel every hidden image at random in the files (found by content: the images are distinct)
    unlabeled_images = {hidden.unlabeled.images[i].numpy().tobytes() for i in range(len(hidden.unlabeled))}
    corrupted = [(y + 1 + i % 9) % 10 if images[i].tobytes() in unlabeled_images else y for i, y in enumerate(labels)]
    assert sum(a != b for a, b in zip(corrupted, labels)) == len(hidden.unlabeled)
    lying = _write_cifar(tmp_path / "lying", images, corrupted)
    first = run(_config(honest, tmp_path / "a", tiny_base))
    second = run(_config(lying, tmp_path / "b", tiny_base))
    state = [torch.load(d / "round-1/seed-0/student/seed0_last.pt", weights_only=True)["state_dict"]
             for d in (tmp_path / "a", tmp_path / "b")]
    assert all(torch.equal(state[0][k], state[1][k]) for k in state[0])
    assert first["rows"]["0/1"]["val_top1"] == second["rows"]["0/1"]["val_top1"]
    # only the separately named metric reads them
    assert first["rows"]["0/1"]["pseudo_label_accuracy_all"] != second["rows"]["0/1"]["pseudo_label_accuracy_all"]


@pytest.mark.slow
def test_a_killed_self_train_resumes_without_relabelling(tmp_path, tiny_base):
    images, labels = _learnable(1500)
    data = _write_cifar(tmp_path / "data", images, labels)
    command = [sys.executable, "-m", "scalesearch", "self-train", "--data", data, "--labeled-fraction", "0.2",
               "--teacher-spec", str(tiny_base), "--student-phi", "0", "--threshold", "0", "--epochs", "30",
               "--batch", "32", "--run-dir", "run", "--json"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    labels_file = tmp_path / "run/round-1/seed-0/labels.pt"
    deadline = time.monotonic() + 300
    while not labels_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the student's training
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert labels_file.exists()
    assert "0/1" not in json.loads((tmp_path / "run/self_train.json").read_text())["rows"]  # the student unfinished
    teacher = tmp_path / "run/round-0/seed-0/teacher/seed0_last.pt"
    before = (labels_file.stat().st_mtime_ns, teacher.stat().st_mtime_ns)
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (labels_file.stat().st_mtime_ns, teacher.stat().st_mtime_ns) == before  # neither relabelled nor retrained
    assert [r["round"] for r in json.loads(done.stdout)["rounds"]] == [0, 1]
    assert (tmp_path / "run/report.md").is_file() and (tmp_path / "run/rounds.png").is_file()


def test_a_teacher_checkpoint_that_does_not_fit_names_the_tensor(tmp_path, tiny_base, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = build_model(load_recipe("standard").network(load_spec(tiny_base), 3))  # 3 classes, not 10
    torch.save({"state_dict": model.state_dict()}, tmp_path / "teacher.pt")
    result = CliRunner().invoke(app, ["self-train", "--data", "synthetic", "--labeled-fraction", "0.1", "--teacher",
                                      "teacher.pt", "--teacher-spec", str(tiny_base)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "teacher.pt does not fit tiny-base: tensor 'classifier.1.weight' is [3, 64] in the checkpoint, " \
           "[10, 64] in the network" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.pt"]  # nothing written


@pytest.mark.slow
def test_a_teacher_run_folder_teaches(tmp_path, tiny_base, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trained = CliRunner().invoke(app, ["train", str(tiny_base), "--data", "synthetic", "--epochs", "1",
                                       "--run-dir", "teacher"])
    assert trained.exit_code == 0, trained.stderr
    result = CliRunner().invoke(app, ["self-train", "--data", "synthetic", "--labeled-fraction", "0.2", "--teacher",
                                      "teacher", "--epochs", "1", "--threshold", "0", "--run-dir", "st", "--json"])
    assert result.exit_code == 0, result.stderr
    rounds = json.loads(result.stdout)["rounds"]
    assert rounds[0]["network"] == "tiny-base" and rounds[1]["network"] == "tiny-base-phi1"
    assert rounds[1]["teacher_val_top1"] == rounds[0]["val_top1"] > 0.15  # the given teacher, evaluated


def test_an_unlabeled_folder_without_images_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/notes.txt").write_text("no image here")
    result = CliRunner().invoke(app, ["self-train", "--data", "synthetic", "--unlabeled", "imagefolder:empty"])
    assert (result.exit_code, result.stderr) == (2, f"error: {Path('empty')}: no readable image (of 1 files) to use "
                                                    f"as unlabelled data\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


@pytest.mark.parametrize("field, edges, past", [
    ("threshold", (0.0, 1.0), (-0.01, 1.01)),
    ("rounds", (1, 16), (0, 17)),
    ("temperature", (0.01,), (0.0,)),
    ("unlabeled_ratio", (0.01, 64.0), (0.0, 64.5)),
    ("per_class", (0,), (-1,)),
    ("dropout", (0.0, 0.99), (-0.01, 1.0)),
    ("drop_path_rate", (0.0, 0.99), (-0.01, 1.0)),
    ("randaugment_magnitude", (0, 30), (-1, 31)),
    ("labeled_fraction", (0.01, 0.99), (0.0, 1.0)),
])
def test_each_self_training_setting_takes_its_edges_and_refuses_past_them(field, edges, past, tmp_path, tiny_base):
    for value in edges:
        assert getattr(_config("synthetic", tmp_path, tiny_base, **{field: value}), field) == value
    for value in past:
        with pytest.raises(UsageError, match=f"`{field}`"):
            _config("synthetic", tmp_path, tiny_base, **{field: value})


def test_the_labelled_share_is_the_fraction_rounded_at_least_one_and_seeded():
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 3, 2, 2).contiguous()
    split = Split(images, torch.arange(40) % 10)
    cut = split_labeled(split, 0.25, seed=3)
    assert (len(cut.labeled), len(cut.unlabeled)) == (10, 30)
    seen = sorted(cut.labeled.images[:, 0, 0, 0].tolist() + cut.unlabeled.images[:, 0, 0, 0].tolist())
    assert seen == list(range(40))  # every image once, on one side
    assert torch.equal(cut.hidden_labels, cut.unlabeled.images[:, 0, 0, 0].long() % 10)
    assert torch.equal(split_labeled(split, 0.25, seed=3).labeled.images, cut.labeled.images)
    assert not torch.equal(split_labeled(split, 0.25, seed=4).labeled.images, cut.labeled.images)
    assert (len(split_labeled(split, 0.3).labeled), len(split_labeled(split, 0.01).labeled)) == (12, 1)
