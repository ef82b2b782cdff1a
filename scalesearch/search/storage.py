"""The storage a study's workers meet in: a journal file (safe for several processes on one
machine), repaired first where a crash left it torn or a dead writer its lock, or an RDB
(PostgreSQL for workers on many machines), checked to be reachable, whose running trials beat
every :data:`HEARTBEAT_S`; a trial silent for three beats is failed and its candidate queued again
(:func:`~scalesearch.search.workers.requeue_silent`).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import time
import warnings
from pathlib import Path

import optuna
import sqlalchemy.exc

from scalesearch.errors import UsageError, causes, notify
from scalesearch.files import refuse_link
from scalesearch.search.workers import requeue_silent

#: Seconds between an RDB worker's heartbeats; a trial silent for three of them is failed and retried.
HEARTBEAT_S = 30


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check_heartbeat(seconds: int) -> None:
    """Refuse a heartbeat interval under one second."""
    if seconds < 1:
        raise UsageError(f"`heartbeat_s` must be >= 1 second, got {seconds}")


def open_storage(run_dir: Path, url: str | None, heartbeat_s: int = HEARTBEAT_S) -> optuna.storages.BaseStorage:
    """A study's storage: the journal file ``run_dir/study.journal`` (default; safe for several
    processes on one machine; repaired first if a crash left its last record torn) or the RDB at
    ``url``, checked to be reachable."""
    if url is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        # Absolute: Optuna's lock is a symbolic link to the journal, and a relative target resolves
        # from inside the run folder to nothing, so a stale lock could never be told stale.
        path = (run_dir / "study.journal").absolute()
        refuse_link(path, "a study journal")
        break_dangling_lock(path)
        repair_journal(path)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return open_storage_url(url, heartbeat_s)


#: How long a journal lock whose link leads nowhere may stand before it is taken for a dead writer's:
#: Optuna holds the lock for one append (milliseconds), and breaks a stale one after 30 s itself.
STALE_LOCK_S = 30.0


def break_dangling_lock(path: Path) -> bool:
    """Remove the journal lock a dead writer left when its link leads nowhere (a lock made with a
    relative path, before this version), so that it cannot hold the study forever; one older than
    :data:`STALE_LOCK_S` only, with a notice. Returns whether it did."""
    lock = Path(f"{path}.lock")  # Optuna's JournalFileSymlinkLock: a link named after the journal
    try:
        made = lock.lstat().st_mtime
    except FileNotFoundError:
        return False
    if not lock.is_symlink() or lock.exists() or time.time() - made < STALE_LOCK_S:
        return False
    lock.unlink(missing_ok=True)
    notify(f"{lock}: removed a lock left by a writer that is gone (it led nowhere for "
           f"{time.time() - made:,.0f} s)")
    return True


def repair_journal(path: Path) -> int:
    """Mend the end of a journal file that a crash or a full disk left: a torn last record (bytes
    without their line end, which the next append would fuse with a new record) is dropped, a
    complete one that only lacks its line end gets it; either is said with a notice
    (:func:`~scalesearch.errors.notify`). Returns the bytes dropped. A record that is not valid
    elsewhere in the file is an error naming its line: that file cannot be repaired safely."""
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    lock = optuna.storages.journal.JournalFileSymlinkLock(str(path))  # the lock Optuna's writers take
    lock.acquire()
    try:
        data = path.read_bytes()
        *lines, last = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            try:
                json.loads(line)
            except ValueError as err:
                raise UsageError(f"{path}: line {number} is not a journal record ({err}); the study cannot be "
                                 f"read: restore the file from a copy, or start another `study`") from None
        torn = last if last and not _is_record(last) else b""
        if last:
            with path.open("r+b") as f:
                if torn:
                    f.truncate(len(data) - len(torn))
                else:
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
            notify(f"{path}: dropped a torn last record ({len(torn)} bytes, what a crash or a full disk leaves); "
                   "every complete record is kept" if torn else
                   f"{path}: its last record was complete but lacked its line end; added it, every record is kept")
    finally:
        lock.release()
    return len(torn)


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


#: The RDB storage's keyword for the stale-trial callback (renamed in optuna 4.9).
_STALE_CALLBACK = ("heartbeat_stale_trial_callback"
                   if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
                   else "failed_trial_callback")


#: Tries at opening an RDB storage while other workers create its tables in a new database.
SCHEMA_ATTEMPTS = 5


def _lost_creation_race(err: BaseException) -> bool:
    """Whether ``err`` (or what it was raised from) is the database refusing a duplicate: workers
    starting together on a new database each create Optuna's tables and its version row, and all but
    one may be refused (PostgreSQL: a unique violation on pg_type, or a table that already exists);
    the tables are then there to open."""
    return any(isinstance(e, sqlalchemy.exc.IntegrityError) or (
        isinstance(e, sqlalchemy.exc.DBAPIError) and "already exists" in str(e.orig)) for e in causes(err))


def open_storage_url(url: str, heartbeat_s: int = HEARTBEAT_S) -> optuna.storages.BaseStorage:
    """An RDB storage (PostgreSQL for workers on many machines, SQLite, MySQL), checked to be reachable.
    Every worker's running trial beats every ``heartbeat_s``; one silent for three beats (its worker
    was killed, or its machine died) is failed by a surviving worker and its candidate queued again."""
    if not url.startswith(("postgresql://", "postgresql+", "sqlite:///", "mysql://", "mysql+")):
        raise UsageError(f"`storage` must be an RDB URL (postgresql://USER:PASS@HOST/DB or sqlite:///FILE), "
                         f"got {url!r}")
    # The driver the 'postgres' extra installs, whatever SQLAlchemy's default for postgresql:// is.
    engine_url = "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url
    shown = redact(url)
    try:
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(engine_url, heartbeat_interval=heartbeat_s,
                                                      grace_period=3 * heartbeat_s, **{_STALE_CALLBACK: requeue_silent})
            except Exception as err:
                if attempt == SCHEMA_ATTEMPTS - 1 or not _lost_creation_race(err):
                    raise
                time.sleep(0.1 * (attempt + 1))
    except ImportError:  # optuna re-raises a missing driver as a bare ImportError, without the module's name
        hint = ("pip install 'scalesearch[postgres]'" if url.startswith("postgresql")
                else "install the driver the URL names (SQLAlchemy's dialect+driver)")
        raise UsageError(f"cannot open storage {shown}: its database driver is not installed; {hint}") from None
    except Exception as err:  # SQLAlchemy/driver errors of every kind
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"cannot open storage {shown}: {reason}") from None
