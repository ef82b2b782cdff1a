"""scalesearch.signals in this process: which exception a signal becomes, and which one a lost
exception is raised as again (the process-level behaviour is in test_faults.py and test_cli.py)."""

from __future__ import annotations

import signal

import pytest

from scalesearch import signals


@pytest.fixture
def received(monkeypatch):
    fresh: list[int] = []
    monkeypatch.setattr(signals, "_received", fresh)
    return fresh


def test_check_raises_the_last_signal_again_and_nothing_without_one(received):
    signals.check()  # none came: nothing to raise
    for signum, raised in ((signal.SIGTERM, signals.Terminated), (signal.SIGINT, KeyboardInterrupt)):
        with pytest.raises(raised):
            signals._handler(signum, None)
    with pytest.raises(KeyboardInterrupt) as caught:
        signals.check()
    assert type(caught.value) is KeyboardInterrupt  # the last (SIGINT), not the first (SIGTERM)
    assert signals.received() and signals.interrupted() == ("terminated (SIGTERM)", 143)
