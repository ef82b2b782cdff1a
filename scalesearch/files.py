"""Writing files so that a crash, a full disk or Ctrl-C never leaves a half-written one: each file
is written to a temporary file in the same folder, flushed to disk, then renamed over the old one
(a rename within one file system is atomic), so readers see the old version or the new, never a mix."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import socket
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator

from scalesearch.errors import UsageError

_SPECIAL = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def _refuse_special(path: Path, what: str) -> None:
    """Refuse an existing ``path`` that is not a regular file (or a link): a rename would replace a
    device node or a FIFO with a regular file, and a folder cannot be replaced."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there to replace (a file above it is checked apart)
        return
    except OSError as err:
        raise UsageError(f"{path}: cannot write {what} here ({err.strerror or err})") from None
    for test, kind in _SPECIAL:
        if test(mode):
            raise UsageError(f"{path} is {kind}, not a regular file: {what} is written only to a regular file; "
                             "give another path")


def refuse_special_entries(folder: Path) -> None:
    """Refuse a run folder holding a FIFO, socket or device where its own files go: reading one
    back would block for ever (a FIFO) or read what is not the run's."""
    if not Path(folder).is_dir():
        return
    for entry in sorted(Path(folder).iterdir()):
        mode = entry.lstat().st_mode
        for test, kind in _SPECIAL[1:]:  # folders are fine
            if test(mode):
                raise UsageError(f"{entry} is {kind}, not a regular file: a run folder holds only its own files; "
                                 "remove it, or use another run folder")


def refuse_link(path: Path, what: str) -> None:
    """Refuse a symbolic link where a run folder keeps its own file: written through, it would
    truncate or overwrite whatever the link leads to, outside the run folder."""
    if Path(path).is_symlink():
        raise UsageError(f"{path} is a symbolic link (to {os.readlink(path)}): {what} is a file of its run folder "
                         "and is never written through a link; put the file itself there, or use another run folder")


def folder_inside(root: Path, path: Path) -> Path:
    """``path``, a folder of the run folder ``root``, made where missing. A symbolic link at any level
    below ``root`` is refused: written or emptied through it, whatever it leads to outside the run
    folder would be. Returns ``path``."""
    root, path = Path(root), Path(path)
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise UsageError(f"{current} is a symbolic link (to {os.readlink(current)}): a folder of the run "
                             f"folder {root} is never written or emptied through a link; remove the link, or use "
                             "another run folder")
        current.mkdir(parents=True, exist_ok=True)
    return path


#: The file whose exclusive lock marks a run folder's one live writer.
RUN_LOCK = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the duration: one live writer per run folder. A second process
    is refused with one line naming the first; the lock goes with its process (flock), however it
    ends, so a crashed run never leaves it behind."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    path = Path(run_dir) / RUN_LOCK
    refuse_link(path, "a run folder's lock")
    _refuse_special(path, "a run folder's lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise UsageError(f"cannot use {path}: {err.strerror or err}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise UsageError(f"run folder {run_dir} is in use by {holder}: wait for it to end, or use another "
                             "run folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"scalesearch pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def check_destination(path: Path, what: str, folder: bool = False) -> Path:
    """Refuse, before any work starts, a destination that cannot take ``what``: a file path (or with
    ``folder``, a folder) that exists as something else, or whose nearest existing folder is a file
    or cannot be written in. Returns ``path``."""
    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path} is a file, not a folder: give a folder for {what}")
    else:
        _refuse_special(path, what)
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{path}: {existing} is a file, not a folder; give another path for {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot write in {existing} (permission denied); give another path for {what}")
    return path


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Replace ``path`` with ``content`` atomically; a failed write leaves the previous file intact.
    A ``path`` that is a device, FIFO, socket or folder is refused, never replaced."""
    path = Path(path)
    _refuse_special(path, "this file")
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


def read_json_object(path: Path, max_bytes: int, what: str, hint: str = "") -> tuple[dict[str, Any], str]:
    """The JSON object in ``path``, a file a user pointed at (checked as :func:`read_regular` does),
    and the SHA-256 of its bytes: one line (UsageError) if it is not valid JSON or not an object.
    ``what`` names the file kind, ``hint`` (e.g. " (the benchmark's table.json)") says where a right
    one comes from."""
    data = read_regular(path, max_bytes, what)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as err:  # RecursionError: deep nesting
        raise UsageError(f"{path}: not valid JSON ({str(err).splitlines()[0][:120]}); not {what}{hint}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: must be a JSON object, got {type(document).__name__}; not {what}{hint}")
    return document, hashlib.sha256(data).hexdigest()


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
