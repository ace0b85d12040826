"""Reading an engine's log file for the admin: the last lines, and a live follow.

The file is the one `EngineLog` writes (rotated at 10 MB). Reading never holds it open
between calls and never loads more than the end of it, so a huge log costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

MAX_TAIL_LINES: Final = 5000
_TAIL_BYTES_PER_LINE: Final = 512  # read this much per requested line (long lines are cut)
FOLLOW_POLL_S: Final = 0.25


def read_tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of the file ([] when there is none yet)."""
    lines = max(0, min(lines, MAX_TAIL_LINES))
    if lines == 0:
        return []
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            start = max(0, size - lines * _TAIL_BYTES_PER_LINE)
            file.seek(start)
            data = file.read()
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", "replace").splitlines()
    if start > 0 and text:
        text = text[1:]  # the first line was cut in the middle
    return text[-lines:]


def _size(path: Path) -> int | None:
    # A stat() is a few microseconds: not worth a thread, and the loop polls anyway.
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _read_from(path: Path, start: int, end: int) -> bytes:
    with contextlib.suppress(FileNotFoundError), path.open("rb") as file:
        file.seek(start)
        return file.read(end - start)
    return b""


async def follow(path: Path, *, poll: float = FOLLOW_POLL_S) -> AsyncIterator[str]:
    """Yield lines appended to the file from now on, across rotations, until cancelled."""
    position = _size(path) or 0
    partial = b""
    while True:
        await asyncio.sleep(poll)
        size = _size(path)
        if size is None:
            continue
        if size < position:  # rotated: the new file starts from the beginning
            position, partial = 0, b""
        if size == position:
            continue
        data = _read_from(path, position, size)
        position += len(data)
        *complete, partial = (partial + data).split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace").rstrip("\r")
