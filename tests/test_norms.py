"""Norms as data (batch, group, sync_batch, frozen_batch; weight standardisation), starting a run from
a checkpoint (``train --init``) and longer schedules (``--schedule``)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d
from typer.testing import CliRunner

from scalesearch.arch.io import resolve_spec, save_spec, spec_from_dict, spec_to_dict
from scalesearch.arch.spec import (
    NORMS,
    BasicBlock,
    Bottleneck,
    DepthwiseSeparable,
    FusedMBConv,
    Head,
    MBConv,
    NetworkSpec,
    Stem,
)
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.export import export_onnx
from scalesearch.measure.flops import analytic_count, fvcore_count
from scalesearch.nn import build_model
from scalesearch.nn.builder import with_norm
from scalesearch.nn.norms import StdConv2d, group_count
from scalesearch.runs import spec_digest
from scalesearch.train.checkpoints import InitialWeights
from scalesearch.train.data import load_data
from scalesearch.train.loop import train
from scalesearch.train.recipes import load_recipe, parse_schedule

#: One stage of every block kind, with widths (24, 40, 112) that 32 groups do not divide.
EVERY_KIND = NetworkSpec(
    name="every-kind", resolution=32, num_classes=10, stem=Stem(out_channels=16),
    stages=(MBConv(out_channels=24, repeats=2, stride=2, kernel=3, expand_ratio=4, se_ratio=0.25),
            FusedMBConv(out_channels=40, repeats=1, stride=1, kernel=3, expand_ratio=1, se_ratio=0.25),
            DepthwiseSeparable(out_channels=48, repeats=1, stride=2),
            BasicBlock(out_channels=64, repeats=2, stride=1),
            Bottleneck(out_channels=112, repeats=1, stride=2, expansion=4)),
    head=Head(out_channels=128))
VARIANTS = [(norm, ws) for norm in NORMS for ws in (False, True)]


def test_group_count_is_the_largest_divisor_up_to_the_maximum():
    assert [group_count(c, 32) for c in (24, 40, 112, 1280)] == [24, 20, 28, 32]
    assert group_count(96, 8) == 8 and group_count(7, 32) == 7


@pytest.mark.parametrize("norm, ws", VARIANTS, ids=[f"{n}{'-ws' if w else ''}" for n, w in VARIANTS])
@pytest.mark.slow
def test_every_block_kind_builds_trains_a_step_and_exports_with_every_norm(norm, ws, tmp_path):
    spec = dataclasses.replace(EVERY_KIND, norm=norm, weight_standardization=ws)
    torch.manual_seed(0)
    model = build_model(spec)
    expected = {"batch": nn.BatchNorm2d, "sync_batch": nn.BatchNorm2d, "group": nn.GroupNorm,
                "frozen_batch": FrozenBatchNorm2d}[norm]
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, FrozenBatchNorm2d))]
    assert norms and all(type(m) is expected for m in norms)
    assert any(isinstance(m, StdConv2d) for m in model.modules()) == ws
    # Norms are not multiply-adds: the counters agree with each other and with the BatchNorm network.
    assert analytic_count(spec).macs == fvcore_count(model, 32).macs == analytic_count(EVERY_KIND).macs
    assert analytic_count(spec).params == sum(p.numel() for p in model.parameters())

    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    assert not torch.equal(before["features.0.0.weight"], after["features.0.0.weight"])
    if norm == "frozen_batch":  # statistics and affine terms stay as they were
        assert all(torch.equal(before[k], after[k]) for k in before if "running_" in k or k.endswith(".bias")
                   and k.replace(".bias", ".running_mean") in before)

    model.eval()
    x = torch.randn(2, 3, 32, 32)
    path = export_onnx(model, x, tmp_path / "model.onnx")
    (onnx_out,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(onnx_out, model(x).numpy(), atol=1e-4, rtol=1e-4)


def test_weight_standardization_standardises_each_filter_and_keeps_parameter_names():
    plain, std = (build_model(dataclasses.replace(EVERY_KIND, weight_standardization=ws)) for ws in (False, True))
    assert list(plain.state_dict()) == list(std.state_dict())
    conv = std.features[0][0]
    w = conv.weight
    standardised = (w - w.mean((1, 2, 3), keepdim=True)) / torch.sqrt(w.var((1, 2, 3), unbiased=False, keepdim=True)
                                                                      + 1e-5)
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(conv(x), nn.functional.conv2d(x, standardised, None, conv.stride, conv.padding))
    # Squeeze-excite gates keep plain convolutions: no norm follows them.
    gates = [m for m in std.modules() if type(m).__name__ == "SqueezeExcitation"]
    assert gates and all(type(c) is nn.Conv2d for g in gates for c in g.modules() if isinstance(c, nn.Conv2d))


def test_a_spec_without_norm_fields_encodes_as_before_and_a_norm_round_trips():
    b0 = resolve_spec("efficientnet-b0")
    assert "norm" not in spec_to_dict(b0) and "weight_standardization" not in spec_to_dict(b0)
    assert spec_digest(b0) == "8edeedee30de"  # as before norms existed: grid runs still match their bases
    grouped = dataclasses.replace(b0, norm="group", norm_groups=16, weight_standardization=True)
    data = spec_to_dict(grouped)
    assert (data["norm"], data["norm_groups"], data["weight_standardization"]) == ("group", 16, True)
    assert spec_from_dict(data) == grouped
    assert spec_digest(grouped) != spec_digest(b0)


def test_a_group_count_that_fits_no_width_is_refused():
    with pytest.raises(UsageError, match="`norm_groups`: 13 divides none of efficientnet-b0's normalised widths"):
        with_norm(resolve_spec("efficientnet-b0"), "group", 13)
    with pytest.raises(UsageError, match="`norm`: must be one of"):
        with_norm(resolve_spec("efficientnet-b0"), "layer")
    with pytest.raises(UsageError, match="is a ViT"):
        with_norm(resolve_spec("vit-s16"), "group")


def test_schedules_multiply_epochs_and_warm_up():
    rsb = load_recipe("rsb-a3")
    doubled = rsb.scheduled(2)
    assert (doubled.epochs, doubled.warmup_epochs) == (2 * rsb.epochs, 2 * rsb.warmup_epochs)
    assert (rsb.schedule_name, doubled.schedule_name, doubled.scheduled(3).schedule_name) == ("1x", "2x", "6x")
    assert [parse_schedule(s) for s in ("1x", "2x", "3X", "6x", "0.5x", "2")] == [1, 2, 3, 6, 0.5, 2]
    for bad in ("0x", "-1x", "twice", "infx"):
        with pytest.raises(UsageError, match="`schedule` must be a positive multiplier"):
            parse_schedule(bad)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny network trained for one epoch on 10-class synthetic data, and its run folder."""
    folder = tmp_path_factory.mktemp("pretrained")
    recipe = load_recipe("standard").override(epochs=1, batch_size=32, precise_bn_images=64)
    data = load_data("synthetic", train_images=128)
    train(EVERY_KIND, data, recipe, [0], run_dir=folder)
    return folder, recipe, data


def _eval_logits(model: nn.Module, seed: int = 1) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(seed)))


def test_init_loads_weights_exactly_and_refits_bn_as_frozen_bn(trained_run):
    folder, recipe, data = trained_run
    spec = recipe.network(EVERY_KIND, data.num_classes)
    trained = build_model(spec)
    trained.load_state_dict(torch.load(folder / "seed0_last.pt", weights_only=True)["state_dict"])
    for norm in ("batch", "frozen_batch"):
        target = dataclasses.replace(spec, norm=norm)
        start = InitialWeights.read(folder, target)
        model = build_model(target)
        start.load_into(model)
        assert start.record["head"] == "loaded"
        torch.testing.assert_close(_eval_logits(model), _eval_logits(trained), rtol=1e-5, atol=1e-5)


def test_init_reinitialises_a_classifier_of_another_class_count(trained_run):
    folder, recipe, _ = trained_run
    target = recipe.network(EVERY_KIND, 5)
    start = InitialWeights.read(folder, target)
    assert start.record["head"] == ("re-initialised: the checkpoint's classifier has 10 classes, the network 5")
    torch.manual_seed(7)
    model = build_model(target)
    fresh = model.classifier[1].weight.detach().clone()
    start.load_into(model)
    assert torch.equal(model.classifier[1].weight, fresh)
    saved = torch.load(folder / "seed0_last.pt", weights_only=True)["state_dict"]
    assert torch.equal(model.features[0][0].weight, saved["features.0.0.weight"])


def test_init_of_another_architecture_is_one_line_naming_the_tensor(trained_run):
    folder, recipe, data = trained_run
    other = recipe.network(resolve_spec("resnet18"), data.num_classes)
    with pytest.raises(UsageError, match=r"does not fit resnet18: tensor 'features.0.0.weight' is \[16, 3, 3, 3\] "
                                         r"in the checkpoint, \[64, 3, 7, 7\] in the network"):
        InitialWeights.read(folder, other)
    result = CliRunner().invoke(app, ["train", "resnet18", "--data", "synthetic", "--init", str(folder)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "does not fit resnet18" in result.stderr


def test_train_init_records_where_its_weights_came_from(trained_run, tmp_path):
    folder, _, _ = trained_run
    spec_file = save_spec(EVERY_KIND, tmp_path / "every-kind.yaml")
    run = tmp_path / "finetune"
    result = CliRunner().invoke(app, ["train", str(spec_file), "--data", "synthetic", "--train-images", "64",
                                      "--epochs", "2", "--batch", "32", "--schedule", "2x", "--norm",
                                      "frozen_batch", "--init", str(folder), "--run-dir", str(run), "--json"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["epochs"], record["schedule"], record["norm"]) == (4, "2x", "frozen_batch")
    assert record["init"] == {"from": str(folder), "checkpoint": str(folder / "seed0_last.pt"), "head": "loaded"}
    assert json.loads((run / "init.json").read_text()) == record["init"]
    assert json.loads((run / "recipe.json").read_text())["schedule"] == 2


def _train_command(spec_file, *more: str) -> list[str]:
    return [sys.executable, "-m", "scalesearch", "train", str(spec_file), "--data", "synthetic", "--train-images",
            "512", "--epochs", "6", "--batch", "32", "--resolution", "16", "--json", *more]


@pytest.mark.slow
def test_a_killed_run_resumes_with_the_same_command_and_ends_as_an_uninterrupted_one(tmp_path):
    """The default run folder is a digest of the settings: the same command finds it, continues
    from the last checkpoint (weights, optimiser, schedule, random state) and ends bit for bit where
    a run that was never stopped ends."""
    spec_file = save_spec(EVERY_KIND, tmp_path / "every-kind.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir()
    whole.mkdir()
    proc = subprocess.Popen(_train_command(spec_file), cwd=killed, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        rows = [p.read_text().count("\n") - 1 for p in killed.glob("runs/train/*/metrics.csv")]
        if rows and rows[0] >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.kill()
    proc.wait()
    (folder,) = killed.glob("runs/train/*")
    # The kill may fall between an epoch's metrics row and its checkpoint: the run resumes from the
    # checkpoint, so the rows up to its epoch are the finished ones.
    checkpointed = torch.load(folder / "seed0_last.pt", weights_only=True)["epoch"]
    rows_before = (folder / "metrics.csv").read_text().splitlines()[:1 + checkpointed]
    assert 1 <= checkpointed < 6

    resumed = subprocess.run(_train_command(spec_file), cwd=killed, env=env, capture_output=True, text=True,
                             check=True)
    uninterrupted = subprocess.run(_train_command(spec_file), cwd=whole, env=env, capture_output=True, text=True,
                                   check=True)
    a, b = json.loads(resumed.stdout), json.loads(uninterrupted.stdout)
    assert a["run_dir"] == b["run_dir"] == str(folder.relative_to(killed))
    assert a["val_top1"] == b["val_top1"]
    rows = list(csv.DictReader((folder / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]  # no epoch twice, none lost
    # The finished epochs were kept, not trained again (their measured img/s would differ).
    assert (folder / "metrics.csv").read_text().splitlines()[:len(rows_before)] == rows_before
    assert [r["train_loss"] for r in rows] == [r["train_loss"] for r in
                                               csv.DictReader((whole / a["run_dir"] / "metrics.csv").open())]
    x, y = (torch.load(root / a["run_dir"] / "seed0_last.pt", weights_only=True)["state_dict"]
            for root in (killed, whole))
    assert all(torch.equal(x[k], y[k]) for k in x)
