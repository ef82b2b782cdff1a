"""Writing files so that a crash, a full disk or Ctrl-C never leaves a half-written one: each file
is written to a temporary file in the same folder, flushed to disk, then renamed over the old one
(a rename within one file system is atomic), so readers see the old version or the new, never a mix."""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from scalesearch.errors import UsageError


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Replace ``path`` with ``content`` atomically; a failed write leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_regular(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path``, a file a user pointed at: refused with one line (UsageError) if it is
    missing, not a regular file (a FIFO would block the read, a device never end) or larger than
    ``max_bytes``. ``what`` names the file kind in the message (e.g. "a NAS-Bench-Macro table")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise UsageError(f"{path}: cannot read {what} ({err.strerror or err})") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"{path}: not a regular file; {what} is a file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UsageError(f"{path}: larger than {max_bytes / 2**20:,.0f} MiB, more than {what} can be")
    return data


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def strict(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, so that it is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def write_json(path: Path, document: Any) -> Path:
    """``document`` as indented, strict JSON (NaN and infinities become null), written atomically."""
    return write_atomic(path, json.dumps(strict(document), indent=2, default=str) + "\n")


def digest(settings: Any) -> str:
    """The SHA-256 (hex) of ``settings`` as sorted-key JSON: the fingerprint that names a run folder
    after its settings, so that the same command finds its own run again."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
