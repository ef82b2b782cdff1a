"""The weight-sharing supernet: every candidate of a space runs on the shared weights exactly as the
stand-alone network it extracts does; sandwich training resumes where it stopped; sub-networks
score with inherited weights."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import random
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from scalesearch.arch.spec import MBConv
from scalesearch.errors import UsageError
from scalesearch.measure.flops import analytic_count
from scalesearch.nn import build_model
from scalesearch.nn.supernet import Supernet
from scalesearch.search.space import load_space
from scalesearch.train.data import DataSet, Split, load_data, synthetic
from scalesearch.train.recipes import load_recipe
from scalesearch.train.supernet import CHECKPOINT, load_supernet, train_supernet


def _perturbed(supernet: Supernet) -> Supernet:
    """Norm statistics and scales that differ by channel, so that a wrong slice shows."""
    g = torch.Generator().manual_seed(0)
    for m in supernet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(c, generator=g) * 0.4 - 0.2)
    return supernet.eval()


@pytest.mark.parametrize("name, draws", [("nas-bench-macro", 12), ("accel-nasbench", 4), ("mnasnet", 3),
                                         ("mnasnet-cpu", 6), ("wide", 8)])
@pytest.mark.slow
def test_every_candidate_runs_on_the_shared_weights_as_its_extracted_network(name, draws, tiny_space, tmp_path):
    if name == "wide":  # a user's space whose stages are half or all of their base's width
        wide = yaml.safe_load(tiny_space.read_text())
        wide["choices"]["width_mult"] = [0.5, 1.0]
        (tmp_path / "wide.yaml").write_text(yaml.safe_dump({**wide, "name": "wide"}))
        name = str(tmp_path / "wide.yaml")
    space = load_space(name)
    torch.manual_seed(0)  # the supernet's initial weights: the same every run
    supernet = _perturbed(Supernet(space))
    rng = random.Random(1)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    specs = [space.sample(rng)[1] for _ in range(draws)]
    specs += [space.extreme(lambda s: analytic_count(s).macs)[1],
              space.extreme(lambda s: analytic_count(s).macs, largest=True)[1]]
    # A small space draws some networks twice (under two names: two choices may round to one width).
    specs = list({dataclasses.replace(s, name="x"): s for s in specs}.values())
    outputs = []
    for spec in specs:
        net = supernet.extract(spec).eval()
        fresh = build_model(spec)
        assert {k: v.shape for k, v in net.state_dict().items()} == {k: v.shape for k, v in fresh.state_dict().items()}
        with torch.no_grad():
            shared, alone = supernet(x, supernet.check(spec)), net(x)
        torch.testing.assert_close(shared, alone, rtol=1e-5, atol=1e-6)
        outputs.append(shared)
    # Different candidates compute different functions: the slices are not all the same weights. (Sums
    # rounded to 4 places collided once in 14 candidates: compare whole outputs.)
    assert not [(i, j) for i, j in itertools.combinations(range(len(outputs)), 2)
                if torch.equal(outputs[i], outputs[j])]


def test_the_supernet_holds_the_largest_option_of_each_layer():
    supernet = Supernet(load_space("nas-bench-macro"))
    assert [(o.repeats, len(o.blocks)) for o in supernet.options] == [(1, 3)] * 8
    assert all(s == dataclasses.replace(s, kernel=5, expand_ratio=6) for s in supernet.spec.stages)
    # An identity layer that strides or widens has its own 1x1 projection: the first of each stage.
    assert sorted(supernet.projections) == ["0_0", "2_0", "5_0"]
    # A candidate's layer takes the leading channels and the kernel's centre (expansion 3, kernel 3 of 6, 5).
    space = load_space("nas-bench-macro")
    spec = space.candidate({d: 1 for d in space.dimensions()})
    net = supernet.extract(spec)
    mine, shared = net.features[2][0].block, supernet.net.features[2][0].block
    hidden = spec.stages[1].hidden_channels(64)
    assert (hidden, shared[0][0].out_channels) == (192, 384)
    torch.testing.assert_close(mine[0][0].weight, shared[0][0].weight[:hidden])
    torch.testing.assert_close(mine[1][0].weight, shared[1][0].weight[:hidden, :, 1:4, 1:4])
    torch.testing.assert_close(mine[2][0].weight, shared[2][0].weight[:, :hidden])
    anb = Supernet(load_space("accel-nasbench"))
    assert [o.repeats for o in anb.options] == [3, 3, 3, 3, 3, 4, 3]
    assert {(s.kernel, s.expand_ratio, s.se_ratio) for s in anb.spec.stages} == {(5, 6, 0.25)}


def test_networks_and_spaces_it_cannot_share_are_refused_with_the_reason(tiny_space, tmp_path):
    space = load_space("nas-bench-macro")
    supernet = Supernet(space)
    spec = space.sample(random.Random(0))[1]
    wider = dataclasses.replace(spec, stages=(MBConv(out_channels=64, repeats=1, stride=2, kernel=7, expand_ratio=6),
                                              *spec.stages[1:]))
    with pytest.raises(UsageError, match="stage 0 of .* is not an option of search space 'nas-bench-macro'"):
        supernet.extract(wider)
    with pytest.raises(UsageError, match="differ in their number of stages"):
        supernet.check(dataclasses.replace(spec, stages=spec.stages[:-1]))
    for other in (dataclasses.replace(spec, resolution=spec.resolution // 2),  # below or above the space's own
                  dataclasses.replace(spec, resolution=spec.resolution * 2),
                  dataclasses.replace(spec, num_classes=spec.num_classes - 1)):
        with pytest.raises(UsageError, match="differ in stem, head, resolution, classes, activation or norm"):
            supernet.check(other)
    # A fused option without expansion that is wider than the largest fused block's first conv
    # (stage 0: 8 channels in, 2x expansion at most, up to 32 out).
    fused_wide = yaml.safe_load(tiny_space.read_text())
    fused_wide["name"] = "fused-wide"
    fused_wide["choices"].update(block=["fused_mbconv"], expand_ratio=[1, 2], width_mult=[0.5, 2.0])
    (tmp_path / "fused-wide.yaml").write_text(yaml.safe_dump(fused_wide))
    with pytest.raises(UsageError, match="fused-MBConv option without expansion wider than its largest fused"):
        Supernet(load_space(str(tmp_path / "fused-wide.yaml")))


def test_an_all_fused_space_whose_options_fit_makes_a_supernet_checking_each_stage_against_its_own(tiny_space,
                                                                                                     tmp_path):
    fused = yaml.safe_load(tiny_space.read_text())
    fused["name"] = "fused"  # stage 1's widest expansion-free option (32 out) fits its own first conv, not stage 0's
    fused["choices"].update(block=["fused_mbconv"], width_mult=[0.75, 1.25])
    (tmp_path / "fused.yaml").write_text(yaml.safe_dump(fused))
    space = load_space(str(tmp_path / "fused.yaml"))
    supernet = Supernet(space)
    spec = space.sample(random.Random(0))[1]
    assert supernet.extract(spec)(torch.zeros(1, 3, 16, 16)).shape == (1, spec.num_classes)


def test_mnasnet_blocks_share_by_kind_and_width():
    """Each layer of the MnasNet space holds a largest MBConv and a largest fused MBConv (a full conv
    shares nothing with a depthwise one); a narrower, fused, expansion-free, SE-free or shortcut-free
    choice takes the leading channels and the kernel's centre of its own kind's weights."""
    space = load_space("mnasnet")
    supernet = _perturbed(Supernet(space))
    assert len(supernet.fused) == sum(o.repeats for o in supernet.options) and not supernet.projections
    first, widest = supernet.spec.stages[0], max(o.out_channels for o in supernet.options[:1])
    assert (first.kernel, first.expand_ratio, first.se_ratio, first.out_channels) == (7, 6, 0.25, widest)
    base = space.base_params()
    choices = {**base, "s0_block": "fused_mbconv", "s0_expand_ratio": 1, "s0_se_ratio": 0.25,
               "s1_block": "fused_mbconv", "s1_expand_ratio": 3, "s1_se_ratio": 0.0, "s1_kernel": 5,
               "s2_width_mult": 0.75, "s2_skip": False, "s3_expand_ratio": 1, "s3_repeats_delta": -1}
    spec = space.candidate(choices)
    net = supernet.extract(spec).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(supernet(x, supernet.check(spec)), net(x), rtol=1e-5, atol=1e-6)
    mine, shared = net.features[2][0].block, supernet.fused["1_0"].block  # stage 1: fused, expansion 3, kernel 5
    hidden, out = spec.stages[1].hidden_channels(spec.stages[0].out_channels), spec.stages[1].out_channels
    torch.testing.assert_close(mine[0][0].weight, shared[0][0].weight[:hidden, :spec.stages[0].out_channels, 1:6, 1:6])
    torch.testing.assert_close(mine[1][0].weight, shared[2][0].weight[:out, :hidden])  # the projection, past SE
    assert [b.use_res_connect for b in net.features[3]] == [False, False]  # stage 2: no shortcut chosen
    assert [b.use_res_connect for b in net.features[5]] == [False, True, True]  # stage 4: B0's shortcuts


def _tiny_data() -> DataSet:
    train, val = synthetic(num_classes=4, size=16, train=96, test=48)
    return DataSet(name="synthetic", train=train, val=val, test=None, num_classes=4, synthetic=True)


RECIPE = load_recipe("proxy").override(epochs=2, warmup_epochs=0.5, resolution=16, batch_size=32,
                                       precise_bn_images=32)


@pytest.mark.slow
def test_sandwich_training_resumes_where_it_stopped_as_if_never_stopped(tmp_path):
    data = _tiny_data()
    whole = train_supernet("nas-bench-macro", data, RECIPE, tmp_path / "whole", random_subnets=1)
    assert [e.epoch for e in whole.epochs] == [1, 2] and all(e.img_per_s > 0 for e in whole.epochs)
    assert all(e.loss > 0 and e.distill_loss > 0 for e in whole.epochs)  # cross-entropies: positive

    class Stop(Exception):
        pass

    def stop_after_first(epoch) -> None:
        if epoch.epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train_supernet("nas-bench-macro", data, RECIPE, tmp_path / "cut", random_subnets=1, on_epoch=stop_after_first)
    seen = []
    resumed = train_supernet("nas-bench-macro", data, RECIPE, tmp_path / "cut", random_subnets=1,
                             on_epoch=seen.append)
    assert [e.epoch for e in seen] == [2] and [e.epoch for e in resumed.epochs] == [1, 2]
    for (name, a), b in zip(whole.supernet.state_dict().items(), resumed.supernet.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert resumed.epochs[1].loss == pytest.approx(whole.epochs[1].loss)

    # The trained weights, read back, score sub-networks; another recipe in the same folder is refused.
    loaded = load_supernet(tmp_path / "whole", data)
    for (name, a), b in zip(whole.supernet.state_dict().items(), loaded.supernet.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    space = load_space("nas-bench-macro")
    spec = space.sample(random.Random(3))[1]
    score = loaded.score(spec)
    assert 0.0 <= score <= 1.0 and score == loaded.score(spec)  # calibration is deterministic
    with pytest.raises(UsageError, match="already holds a supernet with other settings \\(recipe\\)"):
        train_supernet("nas-bench-macro", data, RECIPE.override(epochs=3), tmp_path / "whole", random_subnets=1)
    other = dataclasses.replace(data, train=Split(data.train.images.flip(0), data.train.labels.flip(0)))
    with pytest.raises(UsageError, match="the supernet was trained on"):
        load_supernet(tmp_path / "whole", other)


@pytest.mark.slow
def test_training_moves_the_shared_weights_toward_the_data(tmp_path):
    """The two networks every step trains, the largest on the labels and the smallest distilled from
    it, score above chance on learnable data after a short training."""
    train, val = synthetic(num_classes=4, size=16, train=256, test=96)
    data = DataSet(name="synthetic", train=train, val=val, test=None, num_classes=4, synthetic=True)
    run = train_supernet("nas-bench-macro", data, RECIPE.override(epochs=3, lr=0.02), tmp_path / "run",
                         random_subnets=0)
    space = load_space("nas-bench-macro")
    macs = lambda s: analytic_count(s).macs  # noqa: E731
    largest, smallest = run.score(space.extreme(macs, largest=True)[1]), run.score(space.extreme(macs)[1])
    # 4 classes: chance is 0.25 (standard deviation 0.044 over 96 images); the smallest, all identity
    # layers, learns only from the largest's predictions.
    assert largest > 0.9 and smallest > 0.4, (largest, smallest)


def test_a_damaged_run_folder_gives_one_line(tmp_path):
    data = _tiny_data()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "supernet.json").write_text("{not json")
    with pytest.raises(UsageError, match="not a supernet settings file"):
        load_supernet(tmp_path / "run", data)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds other files and no supernet.json"):
        train_supernet("nas-bench-macro", data, RECIPE, tmp_path / "other")
    with pytest.raises(UsageError, match="random_subnets"):
        train_supernet("nas-bench-macro", data, RECIPE, tmp_path / "new", random_subnets=-1)
    assert not (tmp_path / "new").exists()
    run = tmp_path / "untrained"
    train_supernet("nas-bench-macro", data, RECIPE.override(epochs=1), run, random_subnets=0)
    (run / CHECKPOINT).write_bytes(b"cut off")
    with pytest.raises(UsageError, match="no trained epoch"):
        load_supernet(run, data)


@pytest.mark.slow
def test_supernet_train_then_find_base_scores_trials_with_it_and_trains_the_finalists(tmp_path):
    from typer.testing import CliRunner

    from scalesearch.cli import app

    runner = CliRunner()
    data = ["--data", "synthetic", "--train-images", "64"]
    trained = runner.invoke(app, ["supernet", "train", *data, "--epochs", "1", "--resolution", "16", "--batch", "32",
                                  "--random-subnets", "1", "--run-dir", str(tmp_path / "sn"), "--json"])
    assert trained.exit_code == 0, trained.output
    record = json.loads(trained.stdout)
    assert record["epochs"] == 1 and record["evaluator"] == f"supernet:{tmp_path / 'sn'}"
    search = ["find-base", "--flops", "50M", "--constraint", "hard", "--space", "nas-bench-macro", "--evaluator",
              f"supernet:{tmp_path / 'sn'}", *data, "--epochs", "1", "--resolution", "16", "--n-trials", "4",
              "--finalists", "1", "--final-seeds", "1", "--no-seed-base", "--run-dir", str(tmp_path / "run"), "--json"]
    found = runner.invoke(app, search)
    assert found.exit_code == 0, found.output
    summary = json.loads(found.stdout)
    assert summary["evaluator"].startswith("supernet (nas-bench-macro, 1 epochs, sha256 ")
    assert summary["n_trials"] == 4 and summary["best"]["macs"] <= 50e6
    run = load_supernet(tmp_path / "sn", load_data("synthetic", train_images=64))
    with open(tmp_path / "run" / "trials.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["val_top1"] and r["finalist"] != "True"]
    space = load_space("nas-bench-macro")
    for row in rows:  # each trial's accuracy is the supernet's inherited score of its candidate
        spec = space.candidate({k: int(row[f"param_{k}"]) for k in space.dimensions()})
        assert float(row["val_top1"]) == pytest.approx(run.score(spec))
    assert summary["finalists"]["complete"] and len(summary["finalists"]["rows"]) == 1  # trained stand-alone

    # Bad input: one line, exit 2.
    no_data = runner.invoke(app, [a for a in search if a not in data])
    assert no_data.exit_code == 2 and "supernet scores candidates on the data it was trained on" in no_data.output
    swap = {"nas-bench-macro": "accel-nasbench", str(tmp_path / "run"): str(tmp_path / "r2")}
    other_space = runner.invoke(app, [swap.get(a, a) for a in search])
    assert other_space.exit_code == 2 and "holds a supernet of search space 'nas-bench-macro'" in other_space.output
    missing = runner.invoke(app, [a.replace(str(tmp_path / "sn"), str(tmp_path / "none")) for a in search])
    assert missing.exit_code == 2 and "no trained supernet here (no supernet.json)" in missing.output


def _torchrun_supernet(run_dir) -> subprocess.CompletedProcess:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
               "-m", "scalesearch", "supernet", "train", "--data", "synthetic", "--train-images", "64", "--epochs",
               "2", "--batch", "32", "--resolution", "16", "--random-subnets", "1", "--run-dir", str(run_dir), "--json"]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          timeout=600, check=False)


@pytest.mark.slow
def test_two_gloo_processes_train_one_supernet_reproducibly_and_rank_0_alone_writes(tmp_path):
    """Under torchrun each process takes half of every batch and the gradients are averaged before
    each step (the processes compare their weights after every step and stop if they differ)."""
    first = _torchrun_supernet(tmp_path / "first")
    assert first.returncode == 0, first.stderr[-2000:]
    record = json.loads(first.stdout)  # one JSON document: rank 1 printed nothing
    assert record["epochs"] == 2 and record["img_per_s"] > 0
    assert len((tmp_path / "first" / "metrics.csv").read_text().splitlines()) == 1 + 2  # rank 0 alone wrote
    second = _torchrun_supernet(tmp_path / "second")
    assert second.returncode == 0, second.stderr[-2000:]
    a, b = (torch.load(tmp_path / run / CHECKPOINT, weights_only=True)["state_dict"] for run in ("first", "second"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_with_widths_that_vary_every_identity_layer_has_its_projection(tiny_space, tmp_path):
    data = yaml.safe_load(tiny_space.read_text())
    data["choices"].update(block=["mbconv", "identity"], width_mult=[0.5, 1.0])
    (tmp_path / "varying.yaml").write_text(yaml.safe_dump({**data, "name": "varying"}))
    assert sorted(Supernet(load_space(str(tmp_path / "varying.yaml"))).projections) == ["0_0", "0_1", "1_0", "1_1"]
    data["choices"]["width_mult"] = [1.0]  # one width: only the layers that stride or widen project
    (tmp_path / "fixed.yaml").write_text(yaml.safe_dump({**data, "name": "fixed"}))
    assert sorted(Supernet(load_space(str(tmp_path / "fixed.yaml"))).projections) == ["0_0", "1_0"]
