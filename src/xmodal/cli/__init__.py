"""The ``xmodal`` command: a thin client that parses arguments and calls the library.

One module per command group; ``app`` builds the parser and runs the chosen command.
"""

from xmodal.cli.app import main

__all__ = ["main"]
