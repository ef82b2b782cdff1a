"""How a training run fails: out of memory (CUDA's, or the CPU allocator's) and a loss that is no
longer finite, each as one :class:`~scalesearch.errors.TrainingError` line a search can group."""

from __future__ import annotations

import contextlib
import re

import torch

from scalesearch.errors import TrainingError, is_out_of_memory


@contextlib.contextmanager
def out_of_memory_ends_the_run(device: torch.device, batch_size: int):
    """CUDA's OutOfMemoryError, or the CPU allocator's failure, becomes one line naming the batch size."""
    try:
        yield
    except (MemoryError, RuntimeError) as err:  # torch.OutOfMemoryError is a RuntimeError
        if not is_out_of_memory(err):
            raise
        message = str(err)
        # CPU: "... you tried to allocate 822083584 bytes ..."; CUDA: "... Tried to allocate 2.00 GiB ..."
        size = re.search(r"(?i)tried to allocate ([\d.]+) ?(\w+)", message)
        failed = ""
        if size:
            amount = f"{int(size[1]) / 2**20:,.0f} MiB" if size[2] == "bytes" else f"{size[1]} {size[2]}"
            failed = f"an allocation of {amount} failed; "
        raise TrainingError(f"out of memory on {device.type} at batch size {batch_size} "
                            f"({failed}try a smaller `batch_size`)", "out of memory") from None


def check_finite(loss_sum: torch.Tensor, epoch: int, step: int) -> None:
    """A loss sum that is NaN or infinite ends the run, naming where it turned."""
    if not torch.isfinite(loss_sum):
        raise TrainingError(f"loss became {float(loss_sum)} by epoch {epoch}, step {step} "
                            f"(try a lower `lr` or another recipe)", "loss not finite")
