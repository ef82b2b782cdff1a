"""SIGTERM, what schedulers and ``kill`` send, is handled like Ctrl-C: the trial in flight is
abandoned and queued again, what finished is reported, and the command ends with one line and
exit code 143 (128 + 15), as Ctrl-C ends with 130."""

from __future__ import annotations

import os
import signal
from types import FrameType


class Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler; every ``except KeyboardInterrupt`` path handles it."""


_received: list[int] = []


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    raise _exception(signum)


def _handle_once(signum: int, frame: FrameType | None) -> None:
    if not _received:
        _handler(signum, frame)


def install(once: bool = False) -> None:
    """Turn SIGTERM into :class:`Terminated` and SIGINT into KeyboardInterrupt in this process (the
    main thread only), each remembered so that :func:`check` can raise it again. With ``once``, a
    signal after the first is ignored (a worker process that Ctrl-C reaches both from the terminal
    and from its main process records its abandoned trial without being cut short)."""
    handler = _handle_once if once else _handler
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if not _fork_guarded:
        # A signal raised inside another module's fork handlers (logging's releases its lock there)
        # is dropped half-way and can leave that lock held: the next log line then waits for ever.
        # The signals wait until the fork is done; `check` raises one whose exception was lost.
        os.register_at_fork(before=_hold, after_in_parent=_release, after_in_child=_release)
        _fork_guarded.append(True)


_fork_guarded: list[bool] = []
_mask_before_fork: list[set[signal.Signals]] = []


def _hold() -> None:
    _mask_before_fork.append(signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}))


def _release() -> None:
    """The signal mask as it was before the fork (a caller that blocked them keeps them blocked)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, _mask_before_fork.pop())


def check() -> None:
    """Raise again a signal that came and whose exception was lost: a handler's exception raised
    inside a callback that ignores exceptions (the fork handlers run while a DataLoader starts its
    workers) is printed and dropped, and the run would go on as if never stopped. Long loops call
    this once a step."""
    if _received:
        raise _exception(_received[-1])


def received() -> bool:
    """Whether SIGINT or SIGTERM came (an error after one is its consequence, e.g. a DataLoader
    worker that the same signal ended)."""
    return bool(_received)


def interrupted() -> tuple[str, int]:
    """The line and exit code for an interruption: SIGTERM's if it came, else Ctrl-C's."""
    if signal.SIGTERM in _received:
        return "terminated (SIGTERM)", 128 + signal.SIGTERM
    return "interrupted", 130


def stop_reason(err: BaseException) -> str:
    """What an abandoned trial records: ``interrupted (Ctrl-C)`` or ``terminated (SIGTERM)``."""
    return "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"
