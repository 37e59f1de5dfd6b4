"""Writing files so that a killed process never leaves half of one (answers, catalogs, indexes)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Our temp files, and only ours, match TEMP_GLOB: cleanup must never touch a user's own ``.*.tmp``.
TEMP_PREFIX = ".scientist-"
TEMP_SUFFIX = ".tmp"
TEMP_GLOB = f"{TEMP_PREFIX}*{TEMP_SUFFIX}"


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yields a temp path in the target's folder; on success it replaces the target in one step,
    so a killed process leaves the old file or the new one, never half of one.

    The temp file is created with mode 0o666 for the kernel to apply the umask (and any default
    ACL), so the result gets the usual mode (0644 under umask 022), not mkstemp's 0600. That needs
    no reading of the umask, which ``os.umask`` can only do by setting it, racing other threads.
    """
    tmp = target.parent / f"{TEMP_PREFIX}{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    tmp.touch(mode=0o666, exist_ok=False)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
