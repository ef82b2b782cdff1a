"""A results document that grows row by row and resumes: what long jobs (compare-scaling,
finalists, benchmarks) keep on disk so that an interrupted run goes on where it stopped.

The document records the settings it was made with; rows measured under other settings are never
mixed with new ones. A setting that is None in one and absent from the other is no difference: an
optional field added to a recipe since a file was written (``patch: None``) does not strand it.
Every change is written atomically (:mod:`scalesearch.files`). Several processes may fill one document
side by side, each with its own rows: every write takes a lock, reads the rows on disk again and
changes only its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scalesearch.errors import UsageError
from scalesearch.files import write_json


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: What a field of a row may hold, by the name a row schema gives it.
FIELD_KINDS: dict[str, Callable[[Any], bool]] = {
    "a number": _is_number,
    "a number or null": lambda v: v is None or _is_number(v),
    "an integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "a bool": lambda v: isinstance(v, bool),
    "text": lambda v: isinstance(v, str),
    "a mapping": lambda v: isinstance(v, dict),
    "a list": lambda v: isinstance(v, list),
}


class ResultsFile:
    """Rows keyed by a string, saved after every change, under fixed ``settings``.

    An existing file with other settings is refused, never overwritten: finished work is only
    ever removed by hand. ``words`` names settings in that message as a person knows them. Rows are
    read back like user input: ``row_schema`` (field: a kind of :data:`FIELD_KINDS`) gives the fields
    every row must hold, and a row without them is an error naming the file, the row and the field."""

    def __init__(self, path: Path, settings: dict[str, Any], header: dict[str, Any] | None = None,
                 words: dict[str, str] | None = None, row_schema: dict[str, str] | None = None) -> None:
        unknown = set((row_schema or {}).values()) - set(FIELD_KINDS)
        if unknown:
            raise ValueError(f"unknown field kinds {sorted(unknown)}")
        self.path, self.settings = Path(path), json.loads(json.dumps(settings, default=str))
        self.row_schema = row_schema or {}
        self.document: dict[str, Any] = {**(header or {}), "settings": self.settings, "rows": {}}
        if not self.path.exists():
            return
        earlier = self._read()
        stored = earlier.get("settings")
        if _set(stored) != _set(self.settings):
            stored = stored if isinstance(stored, dict) else {}
            changed = sorted(k for k in set(self.settings) | set(stored) if stored.get(k) != self.settings.get(k))
            named = ", ".join((words or {}).get(k, k) for k in changed)
            raise UsageError(f"{self.path} holds results made with another {named}: use another run folder, "
                             f"or remove it to start again")
        self.document["rows"] = dict(earlier.get("rows", {}))
        for key, value in earlier.items():
            if key not in ("settings", "rows"):
                self.document.setdefault(key, value)

    def _read(self) -> dict[str, Any]:
        try:
            earlier = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise UsageError(f"{self.path}: not a readable results file ({type(err).__name__}); use another run "
                             f"folder, or remove it to start again") from None
        rows = earlier.get("rows", {}) if isinstance(earlier, dict) else None
        if not isinstance(rows, dict):
            what = "rows are" if isinstance(earlier, dict) else "document is"
            raise UsageError(f"{self.path}: not a results file (its {what} not a mapping); use another run folder, "
                             "or remove it to start again")
        for key, row in rows.items():
            self._check_row(key, row)
        return earlier

    def _check_row(self, key: str, row: Any) -> None:
        if not self.row_schema:
            return
        fix = "remove that row (it is made again) or the file, then run the same command"
        if not isinstance(row, dict):
            raise UsageError(f"{self.path}: row {key!r} is not a mapping; {fix}")
        for field, kind in self.row_schema.items():
            if field not in row:
                raise UsageError(f"{self.path}: row {key!r} has no field {field!r}; {fix}")
            if not FIELD_KINDS[kind](row[field]):
                raise UsageError(f"{self.path}: row {key!r}: field {field!r} must be {kind}, got "
                                 f"{json.dumps(row[field])[:60]}; {fix}")

    @property
    def rows(self) -> dict[str, Any]:
        return self.document["rows"]

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def add(self, key: str, row: Any) -> None:
        """Record ``row`` under ``key`` and save, keeping the rows other processes saved meanwhile."""
        with self._locked():
            self.rows[key] = row
            write_json(self.path, self.document)

    def change(self, key: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """``edit`` the row under ``key`` as saved (another process's changes to it kept) and save."""
        with self._locked():
            row = self.rows.setdefault(key, {})
            edit(row)
            write_json(self.path, self.document)
        return row

    def update(self, **fields: Any) -> None:
        """Set top-level fields (summaries) and save, keeping the rows other processes saved meanwhile."""
        with self._locked():
            self.document.update(fields)
            write_json(self.path, self.document)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the folder's lock, with the rows on disk read again into this document."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            if self.path.exists():
                self.document["rows"] = {**self.rows, **self._read().get("rows", {})}
            yield
        finally:
            os.close(folder)  # closing releases the lock


def _set(value: Any) -> Any:
    """``value`` with every None-valued key of every mapping in it dropped (for comparing settings)."""
    if isinstance(value, dict):
        return {k: _set(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_set(v) for v in value]
    return value
