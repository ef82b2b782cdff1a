"""Multi-process training on torch.distributed: torchrun runs the same `scalesearch train` command in
every process (gloo on the CPU here), which trains one network with DistributedDataParallel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from typer.testing import CliRunner

from scalesearch.arch.io import save_spec
from scalesearch.arch.spec import Head, MBConv, NetworkSpec, Stem
from scalesearch.cli import app
from scalesearch.nn import build_model
from scalesearch.train.distributed import Processes, ranks_agree

TINY = NetworkSpec(name="tiny", resolution=16, num_classes=10, stem=Stem(out_channels=8),
                   stages=(MBConv(out_channels=16, repeats=2, stride=2, kernel=3, expand_ratio=3),),
                   head=Head(out_channels=32))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(tmp_path, run: str, *more: str) -> subprocess.CompletedProcess:
    spec = save_spec(TINY, tmp_path / "tiny.yaml")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
               str(_free_port()), "-m", "scalesearch", "train", str(spec), "--data", "synthetic", "--train-images",
               "96", "--epochs", "2", "--batch", "16", "--resolution", "16", "--run-dir", str(tmp_path / run),
               "--json", *more]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.mark.slow
def test_two_gloo_processes_train_together_reproducibly_and_rank_0_alone_writes(tmp_path):
    first = _torchrun(tmp_path, "first")
    assert first.returncode == 0, first.stderr[-2000:]
    record = json.loads(first.stdout)  # one JSON document: rank 1 printed nothing
    assert (record["processes"], record["epochs"]) == (2, 2)
    rows = (tmp_path / "first" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 2  # header and one row per epoch: had rank 1 written too, each epoch twice
    # Every step ended with the ranks comparing their weights (a difference stops the run), and the
    # same command gives the same run.
    second = _torchrun(tmp_path, "second")
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads(second.stdout)["val_top1"] == record["val_top1"]
    a, b = (torch.load(tmp_path / run / "seed0_last.pt", weights_only=True)["state_dict"]
            for run in ("first", "second"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def _agreement(rank: int, port: int, perturb: bool, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = build_model(TINY)
    if perturb and rank == 1:
        with torch.no_grad():
            model.classifier[1].bias[0] += 1e-6
    results[rank] = ranks_agree(model, Processes(rank, rank, 2))
    dist.destroy_process_group()


@pytest.mark.parametrize("perturb", [False, True])
@pytest.mark.slow
def test_the_weight_check_sees_a_difference_between_ranks(perturb):
    results = mp.Manager().dict()
    mp.spawn(_agreement, args=(_free_port(), perturb, results), nprocs=2)
    assert dict(results) == {0: not perturb, 1: not perturb}


def test_each_process_takes_its_share_of_every_batch():
    order = torch.randperm(24, generator=torch.Generator().manual_seed(0))
    shards = [Processes(rank, rank, 2).shard(order, 8) for rank in range(2)]
    for step in range(3):  # three batches of 8: each rank's step holds 4 of that batch's images, none of the other's
        batch = order[step * 8:(step + 1) * 8]
        parts = [shard.view(3, 4)[step] for shard in shards]
        assert sorted(torch.cat(parts).tolist()) == sorted(batch.tolist())


def test_more_processes_than_training_images_is_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(app, ["train", "efficientnet-b0", "--data", "synthetic", "--train-images", "3"])
    assert (result.exit_code, result.stderr) == (2, "error: 4 processes but only 3 training images: use at most 3\n")
    assert list(tmp_path.iterdir()) == []


def test_each_rank_and_epoch_draws_its_own_seed_that_torch_takes():
    seeds = {(rank, epoch): Processes(rank=rank, world=256).seed(2**31, epoch)
             for rank in (0, 1, 255) for epoch in (0, 1, 9999)}
    assert seeds[0, 0] == 2**31  # rank 0 at epoch 0: the run's own seed
    assert len(set(seeds.values())) == len(seeds)
    for seed in seeds.values():
        torch.manual_seed(seed)  # within the 64 bits torch takes
        assert 0 <= seed < 2**63
