"""The ``scalesearch`` entry point. Loading torch and the other libraries takes seconds; Ctrl-C
(or SIGTERM) during that time ends like at any other time: one line on stderr and exit code 130
(143 for SIGTERM)."""

from __future__ import annotations

import sys

from scalesearch import signals


def main() -> None:
    if sys.stdout is None:  # started with stdout closed (`>&-`): every result printed would be lost
        if sys.stderr is not None:
            sys.stderr.write("error: standard output is closed: redirect it instead (> FILE, or > /dev/null to "
                             "keep only what the command writes to files)\n")
        sys.exit(2)
    signals.install()
    try:
        from scalesearch.cli import main as run
    except KeyboardInterrupt:
        line, code = signals.interrupted()
        sys.stderr.write(f"error: {line}\n")
        sys.exit(code)
    run()
