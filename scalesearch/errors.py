"""Typed errors raised where a problem is detected; the CLI turns each into one line and an exit code."""

from __future__ import annotations

import reprlib
import sys
from typing import Callable, Iterator


class ScalesearchError(Exception):
    """A failure the user should see as one line. Runtime failures exit with code 1."""

    exit_code = 1


class UsageError(ScalesearchError):
    """Bad input from the user (an option value, a name, a file). Exits with code 2."""

    exit_code = 2


class SpecError(UsageError):
    """An architecture spec that fails validation, naming the field path and, when known, the file."""

    def __init__(self, field: str, reason: str, source: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {reason}" if field else f"{where}{reason}")

    def within(self, prefix: str) -> "SpecError":
        """The same error seen from an enclosing object: ``prefix.field``."""
        if not self.field or self.field.startswith("["):
            field = f"{prefix}{self.field}"
        else:
            field = f"{prefix}.{self.field}"
        return SpecError(field, self.reason, self.source)

    def in_file(self, source: str) -> "SpecError":
        """The same error, naming the file it came from."""
        return SpecError(self.field, self.reason, source)


class TrainingError(ScalesearchError):
    """A run that cannot go on; the search records the trial as failed, grouped by ``kind``
    (``"loss not finite"`` or ``"out of memory"``)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # picklable, so that a worker process can hand it back
        return type(self), (str(self), self.kind)


class ExportError(ScalesearchError):
    """A model that could not be exported (ONNX, TorchScript, or a network timm cannot express)."""


#: Who hears :func:`notify`: the CLI prints each notice as a line on stderr; a library user may listen too.
listeners: list[Callable[[str], None]] = []


def notify(message: str) -> None:
    """Tell the user something the library did on their behalf (a journal repaired, say)."""
    for listener in listeners:
        listener(message)


class _Short(reprlib.Repr):
    """repr() cut short: data from a file can be a YAML alias bomb or a 5,000-digit integer, and an
    error message must neither expand the one nor choke on the other."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 3, 6, 6, 6, 6
        self.maxstring, self.maxother = 60, 60

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:
            return f"<an integer of {x.bit_length()} bits>"
        return repr(x)


def shown(value: object) -> str:
    """``value`` as an error message shows it: a repr of at most a few dozen characters."""
    return _Short().repr(value)


def is_out_of_memory(err: BaseException) -> bool:
    """An allocation that failed anywhere: Python's MemoryError, CUDA's ``torch.OutOfMemoryError``, or
    the CPU allocator's RuntimeError ("can't allocate memory", "out of memory")."""
    torch = sys.modules.get("torch")  # loaded wherever an allocation of torch's can have failed
    if isinstance(err, MemoryError) or (torch is not None and isinstance(err, torch.OutOfMemoryError)):
        return True
    return isinstance(err, RuntimeError) and ("can't allocate memory" in str(err) or "out of memory" in str(err))


def causes(err: BaseException | None) -> Iterator[BaseException]:
    """``err``, then what it was raised from or during (``__cause__``, else ``__context__``), in turn;
    each once, however the chain loops."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__
