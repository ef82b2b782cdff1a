"""SIGTERM, what schedulers and ``kill`` send, is handled like Ctrl-C: the trial in flight is
abandoned and queued again, what finished is reported, and the command ends with one line and
exit code 143 (128 + 15), as Ctrl-C ends with 130."""

from __future__ import annotations

import signal
from types import FrameType


class Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler; every ``except KeyboardInterrupt`` path handles it."""


_received: list[int] = []


def _handler(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    raise Terminated()


def install() -> None:
    """Turn SIGTERM into :class:`Terminated` in this process (the main thread only)."""
    signal.signal(signal.SIGTERM, _handler)


def interrupted() -> tuple[str, int]:
    """The line and exit code for an interruption: SIGTERM's if it came, else Ctrl-C's."""
    if _received:
        return "terminated (SIGTERM)", 128 + signal.SIGTERM
    return "interrupted", 130


def stop_reason(err: BaseException) -> str:
    """What an abandoned trial records: ``interrupted (Ctrl-C)`` or ``terminated (SIGTERM)``."""
    return "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"
