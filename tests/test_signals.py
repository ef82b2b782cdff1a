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
    for signum, raised in ((signal.SIGTERM, signals.Terminated), (signal.SIGTERM, signals.Terminated),
                           (signal.SIGINT, KeyboardInterrupt)):
        with pytest.raises(raised):
            signals._handler(signum, None)
    with pytest.raises(KeyboardInterrupt) as caught:
        signals.check()
    assert type(caught.value) is KeyboardInterrupt  # the last (SIGINT), not the first or the second (SIGTERM)
    assert signals.received() and signals.interrupted() == ("terminated (SIGTERM)", 143)


def test_install_turns_both_signals_into_exceptions_and_once_ignores_every_signal_after_the_first(received):
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        signals.install()
        assert signal.getsignal(signal.SIGTERM) is signals._handler is signal.getsignal(signal.SIGINT)
        signals.install(once=True)
        handler = signal.getsignal(signal.SIGTERM)
        with pytest.raises(signals.Terminated):
            handler(signal.SIGTERM, None)
        handler(signal.SIGINT, None)  # a second signal: ignored
        assert received == [signal.SIGTERM]
    finally:
        for signum, old in before.items():
            signal.signal(signum, old)
