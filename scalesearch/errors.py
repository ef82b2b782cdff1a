"""Typed errors raised where a problem is detected; the CLI turns each into one line and an exit code."""

from __future__ import annotations


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


class ExportError(ScalesearchError):
    """A model that could not be exported (ONNX or TorchScript)."""
