"""``python -m envctl`` and the ``envctl`` command's entry point.

The CLI module is imported inside a guard: a Ctrl-C that lands while Python is still
importing (the first ~0.1 s) ends in one line and exit 130, not a traceback. Once
:func:`envctl.cli.main` runs, it handles interrupts itself.
"""

from __future__ import annotations

import sys


def run() -> None:
    try:
        from envctl.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("envctl: interrupted\n")
        raise SystemExit(130) from None
    main()


if __name__ == "__main__":
    run()
