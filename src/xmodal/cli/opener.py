"""Opening a file or its folder with the system's opener (``xdg-open``, ``open``)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

from xmodal.errors import UsageError


def opener_command() -> list[str]:
    """``$XMODAL_OPENER`` (a command line; the path is added last), else the platform's."""
    custom = os.environ.get("XMODAL_OPENER", "").strip()
    if custom:
        return shlex.split(custom)
    if sys.platform == "darwin":
        return ["open"]
    if sys.platform == "win32":
        return ["explorer"]
    return ["xdg-open"]


def open_path(path: str, reveal: bool = False) -> None:
    """Open ``path``, or with ``reveal`` the folder that holds it (on macOS's own opener,
    the folder with the file selected)."""
    command = opener_command()
    custom = bool(os.environ.get("XMODAL_OPENER", "").strip())
    if reveal and not custom and command == ["open"]:
        target = ["-R", path]
    else:
        target = [os.path.dirname(os.path.abspath(path)) if reveal else path]
    if shutil.which(command[0]) is None:
        raise UsageError(
            f"cannot open {path}: {command[0]!r} is not installed; set XMODAL_OPENER to the"
            " command that opens files"
        )
    try:
        # the opener's own chatter must not mix with the results (or the JSON) on stdout
        done = subprocess.run(
            [*command, *target], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False
        )
    except OSError as e:
        raise UsageError(f"cannot open {path} with {command[0]}: {e.strerror}") from None
    if done.returncode != 0:
        raise UsageError(f"{command[0]} could not open {target[-1]} (exit {done.returncode})")
