"""Trained networks from disk: a ``train`` run folder, or a checkpoint file with the spec it was
trained as. Checkpoints are read as data only (``torch.load(weights_only=True)``: tensors and plain
containers, never pickled code), and must fit the spec tensor by tensor.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scalesearch.arch.io import load_spec
from scalesearch.arch.spec import NetworkSpec, Spec
from scalesearch.errors import UsageError
from scalesearch.files import refuse_special_entries, write_atomic
from scalesearch.nn import build_model

#: The spec a ``train`` run folder saves (the network as it was trained: classes, resolution, stem).
RUN_SPEC = "spec.yaml"


def write_tensors(path: Path, content: dict[str, Any]) -> Path:
    """``content`` (tensors, names, numbers) saved with ``torch.save`` and written atomically: a crash
    leaves the previous file whole, never a cut-off one; :func:`read_state_dict` reads it back."""
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return write_atomic(path, buffer.getvalue())


def run_checkpoint(run_dir: Path) -> Path:
    """The checkpoint of a ``train`` run folder: its lowest seed's ``seed{N}_last.pt``."""
    found = sorted(run_dir.glob("seed*_last.pt"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not found:
        raise UsageError(f"{run_dir}: no checkpoint (seed*_last.pt) in this run folder")
    return found[0]


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint: a state dict, or a dict holding one under ``state_dict``."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors alike mean "not a checkpoint"
        raise UsageError(f"{path}: not a readable checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(f"{path}: not a checkpoint (expected a state dict of tensors)")
    return state


def fit(model: nn.Module, state: dict[str, torch.Tensor], path: Path, spec: Spec) -> None:
    """Load ``state`` into ``model``, or say which tensor first differs from ``spec``'s network."""
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            raise UsageError(f"{path} does not fit {spec.name}: it has no tensor {name!r}{_norm_hint(state, expected)}")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise UsageError(f"{path} does not fit {spec.name}: tensor {name!r} is "
                             f"{list(state[name].shape)} in the checkpoint, {list(tensor.shape)} in the network")
    extra = [name for name in state if name not in expected]
    if extra:
        raise UsageError(f"{path} does not fit {spec.name}: the network has no tensor {extra[0]!r}"
                         f"{_norm_hint(state, expected)}")
    model.load_state_dict(state)


def _norm_hint(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> str:
    """Why tensors are missing or extra when the cause is the norm the checkpoint was trained with."""
    def keeps_statistics(tensors: dict) -> bool:
        return any(name.endswith(".running_mean") for name in tensors)

    if keeps_statistics(expected) and not keeps_statistics(state):
        return ("; its norms keep no running statistics: it was trained with --norm group, so pass the same "
                "--norm (group) with it")
    if keeps_statistics(state) and not keeps_statistics(expected):
        return "; its norms keep running statistics: it was trained with batch norm, so pass --norm batch with it"
    return ""


def checkpoint_of(source: Path, named: str = "") -> Path:
    """The checkpoint a ``train`` run folder (its lowest seed's) or a checkpoint file stands for;
    errors start with ``named`` (``"`init` "``) where given."""
    if source.is_dir():
        refuse_special_entries(source)  # its spec or checkpoint as a FIFO would block the read for ever
        if not (source / RUN_SPEC).is_file():
            raise UsageError(f"{named}{source}: not a train run folder (no {RUN_SPEC})")
        return run_checkpoint(source)
    if not source.exists():
        raise UsageError(f"{named}{source}: no such checkpoint file or run folder")
    if not source.is_file():  # a FIFO would block the read, a device never end
        raise UsageError(f"{named}{source}: not a regular file; a checkpoint is a file")
    return source


def load_trained(path: Path, spec: NetworkSpec | None = None) -> tuple[NetworkSpec, nn.Module]:
    """A trained network and the spec it was trained as: from a ``train`` run folder (its
    ``spec.yaml`` and lowest seed's checkpoint), or from a checkpoint file and ``spec``."""
    source = Path(path)
    path = checkpoint_of(source)
    if source.is_dir():
        spec = spec or load_spec(source / RUN_SPEC)
    elif spec is None:
        raise UsageError(f"{path}: a checkpoint file needs the spec it was trained as")
    model = build_model(spec)
    fit(model, read_state_dict(path), path, spec)
    return spec, model


#: BatchNorm's step counter: not a weight, and absent from frozen BatchNorm.
_COUNTER = "num_batches_tracked"


def _classifier_keys(model: nn.Module) -> tuple[str, ...]:
    """The state keys of the network's last linear layer (its classifier)."""
    name = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    return (f"{name}.weight", f"{name}.bias")


@dataclass
class InitialWeights:
    """Where ``train --init`` starts a network: the tensors of a trained network of the same
    architecture (a ``train`` run folder, its lowest seed, or a checkpoint file), checked against
    the network to train when read. A classifier for another number of classes stays freshly
    initialised; the norm may differ where the tensors fit (BatchNorm -> frozen BatchNorm);
    BatchNorm's step counters are not weights and are left out."""

    source: Path
    checkpoint: Path
    state: dict[str, torch.Tensor]
    record: dict[str, Any] = field(default_factory=dict)  # what the run writes to init.json

    @classmethod
    def read(cls, source: Path, spec: Spec, reset_head: bool = False) -> "InitialWeights":
        """The weights at ``source`` for ``spec`` (as the recipe trains it), or one line saying why not;
        ``reset_head`` starts the classifier fresh even where it fits (a new task with as many classes)."""
        source = Path(source)
        checkpoint = checkpoint_of(source, "`init` ")
        state = read_state_dict(checkpoint)
        model = build_model(spec)
        expected = model.state_dict()
        state = {k: v for k, v in state.items() if not (k.endswith(_COUNTER) and k not in expected)}
        state.update({k: v for k, v in expected.items() if k.endswith(_COUNTER) and k not in state})
        head = "loaded"
        keys = _classifier_keys(model)
        if all(k in state for k in keys) and tuple(state[keys[0]].shape) != tuple(expected[keys[0]].shape) \
                and state[keys[0]].shape[1:] == expected[keys[0]].shape[1:]:
            head = (f"re-initialised: the checkpoint's classifier has {state[keys[0]].shape[0]} classes, "
                    f"the network {expected[keys[0]].shape[0]}")
        elif reset_head:
            head = "re-initialised, as asked"
        if head != "loaded":
            state.update({k: expected[k] for k in keys})
        fit(model, state, checkpoint, spec)
        return cls(source, checkpoint, state, {"from": str(source), "checkpoint": str(checkpoint), "head": head})

    def load_into(self, model: nn.Module) -> None:
        """Copy the weights into ``model`` (a network of the spec they were read for), keeping its
        freshly initialised classifier where the checkpoint's has another class count."""
        fresh = set(_classifier_keys(model)) if self.record["head"] != "loaded" else set()
        own = model.state_dict()
        model.load_state_dict({k: own[k] if k in fresh else v for k, v in self.state.items()})
