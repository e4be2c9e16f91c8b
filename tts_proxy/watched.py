"""Files a running proxy re-reads when they change (controllers, plans): their versions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

FileVersion = tuple[str, int, int]  # path, mtime in ns, size


def file_versions(paths: Iterable[Path]) -> list[FileVersion]:
    """Each file's version, in path order; a file gone since it was listed is left out."""
    out = []
    for path in sorted(paths):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return out
