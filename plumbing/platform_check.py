"""Warnings about the platform the kit runs on, one line each: ``python -m plumbing.platform_check``.

The Makefile calls it at set-up time and ``corelab doctor`` shows the same lines; it always exits 0
(a warning is advice, not a failure). Standard library only: it runs before the venv exists.

WSL: a checkout under /mnt/c (the Windows drive, reached through a 9P file server) makes venv
creation and pip take minutes instead of seconds; the same checkout under ~ (WSL's own ext4) is fast.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# /mnt/c, /mnt/d, ...: WSL's mounts of the Windows drives.
_WINDOWS_DRIVE = re.compile(r"^/mnt/[A-Za-z](/|$)")


def running_under_wsl(release: str | None = None, proc_version: str | None = None) -> bool:
    """WSL 1 and 2 say "microsoft" (or "WSL") in the kernel release and in /proc/version."""
    release = platform.release() if release is None else release
    if proc_version is None:
        try:
            proc_version = Path("/proc/version").read_text(errors="replace")
        except OSError:
            proc_version = ""
    text = f"{release} {proc_version}".lower()
    return "microsoft" in text or "wsl" in text


def on_windows_drive(path: str | os.PathLike[str]) -> bool:
    return bool(_WINDOWS_DRIVE.match(str(path)))


def platform_warnings(
    root: str | os.PathLike[str] | None = None, *, release: str | None = None, proc_version: str | None = None
) -> list[str]:
    """One line per thing worth knowing about this platform before set-up (about the checkout at
    ``root``, default the kit's own); empty when nothing is."""
    root = PROJECT_ROOT if root is None else root
    warnings = []
    if running_under_wsl(release, proc_version) and on_windows_drive(root):
        warnings.append(
            f"WSL with the checkout on a Windows drive ({root}): the venv and pip will be very slow there; "
            "clone the kit under your Linux home instead (cd ~ && git clone ...)"
        )
    return warnings


def main() -> int:
    for line in platform_warnings():
        print(f"warning: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
