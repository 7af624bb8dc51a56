"""The ``autoflats`` command: the command line, which opens the desktop app on ``gui``.

The command line and the GUI are independent siblings (neither imports the other);
this launcher, above both, joins them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli.main import EXIT_FAILED
from app.cli.main import main as cli_main


def open_gui(args: argparse.Namespace) -> int:
    """Open the desktop app (Qt is imported only when the window is wanted)."""
    try:
        from app.gui.app import run_gui
    except ImportError as error:
        print(f"autoflats: error: the desktop app cannot start ({error}); install Qt's "
              "system libraries (see README) or use 'autoflats flats' in a terminal",
              file=sys.stderr, flush=True)
        return EXIT_FAILED
    return int(run_gui(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``autoflats`` console script."""
    return cli_main(argv, open_gui=open_gui)
