"""Multi-process training on PyTorch's own engine (torch.distributed and DistributedDataParallel).

Started by ``torchrun``, every process runs the same ``scalesearch train`` command; torchrun's
environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``) says which one
it is. Processes talk over gloo on the CPU and NCCL on CUDA (one GPU per process: ``cuda:LOCAL_RANK``).

* The recipe's ``batch_size`` stays the global batch (so a recipe and its learning rate mean the same
  run on any number of processes): every process takes its ``batch_size / world`` share of each
  batch of the one seeded epoch order that all processes draw alike.
* BatchNorm normalises over each process's share; ``norm: sync_batch`` over the whole batch (CUDA).
* After every step the processes compare a checksum of their parameters and stop if they differ.
* Only rank 0 writes files and prints; every rank evaluates the whole validation split.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from scalesearch.errors import UsageError


@dataclass(frozen=True)
class Processes:
    """This process's place among the ones training together (rank 0 of 1 alone)."""

    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def writer(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    def seed(self, seed: int, epoch: int = 0) -> int:
        """This process's seed for the random draws of a run of ``seed`` (augmentation, dropout, drop
        path), from ``epoch`` on: distinct per rank, the run's own on rank 0 at epoch 0."""
        return seed + 104_729 * self.rank + 7_919 * epoch

    def device(self, name: str) -> str:
        """The device this process trains on: ``cuda`` becomes this process's GPU."""
        return f"cuda:{self.local_rank}" if self.world > 1 and name == "cuda" else name

    def check(self, batch_size: int, images: int) -> None:
        """Refuse a split that leaves a process without images."""
        if self.world > images:
            raise UsageError(f"{self.world} processes but only {images} training images: use at most {images}")
        if batch_size % self.world:
            raise UsageError(f"batch size {batch_size} does not split over {self.world} processes: "
                             f"use a multiple of {self.world}")

    def shard(self, order: torch.Tensor, batch_size: int) -> torch.Tensor:
        """This process's part of an epoch ``order`` of whole batches: its ``batch_size / world``
        images of each batch, in order."""
        if self.world == 1:
            return order
        return order.view(-1, batch_size)[:, self.rank::self.world].reshape(-1)


def processes() -> Processes:
    """Where torchrun's environment puts this process (alone without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes()
    return Processes(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"])), world)


@contextlib.contextmanager
def process_group(procs: Processes, device: torch.device):
    """Join the other processes (gloo on the CPU, NCCL on CUDA) for the duration; nothing alone."""
    if procs.world == 1 or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def check_norm(norm: str, device: torch.device) -> None:
    """SyncBatchNorm has no CPU kernels: ``sync_batch`` trains on CUDA only."""
    if norm == "sync_batch" and device.type != "cuda":
        raise UsageError("norm sync_batch needs CUDA (SyncBatchNorm has no CPU implementation); "
                         "on the CPU use batch or group")


def wrap(model: nn.Module, norm: str, procs: Processes, device: torch.device) -> nn.Module:
    """The module that training steps call: ``model`` itself alone, else DistributedDataParallel
    over it (with SyncBatchNorm for ``sync_batch``), which starts every rank from rank 0's weights."""
    if procs.world == 1:
        return model
    if norm == "sync_batch":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def total(value: torch.Tensor, procs: Processes) -> torch.Tensor:
    """``value`` summed over every process."""
    if procs.world > 1:
        value = value.clone()
        dist.all_reduce(value)
    return value


def average_gradients(model: nn.Module, procs: Processes) -> None:
    """Every parameter's gradient averaged over the processes, in one all-reduce (a parameter no
    network of the step used counts as zero), for steps that run several networks through shared
    weights, which DistributedDataParallel's one-forward-per-step bookkeeping does not follow."""
    if procs.world == 1:
        return
    params = list(model.parameters())
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= procs.world
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset:offset + p.numel()].view_as(p.grad))
        offset += p.numel()


def ranks_agree(model: nn.Module, procs: Processes) -> bool:
    """Whether every process holds the same parameters (compared by a float64 checksum)."""
    if procs.world == 1:
        return True
    with torch.no_grad():
        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
    low, high = checksum.clone(), checksum.clone()
    dist.all_reduce(low, dist.ReduceOp.MIN)
    dist.all_reduce(high, dist.ReduceOp.MAX)
    return bool(low == high)
