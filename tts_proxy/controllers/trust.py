"""Which controller files may run in the proxy's own process.

Trust is explicit and pinned to content: a file is *trusted* only if the SHA-256 of its bytes
is in the operator's trust list (a text file: one hex digest per line, anything after it a
comment; ``#`` lines ignored) -- so a reviewed file that changes is untrusted again. Data
documents (``*.json``, ``document``) need no trust: nothing of theirs runs. Every other
Python file is *sandboxed* (served from an OS sandbox, ``remote``) or *refused*.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from pathlib import Path

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class Trust(StrEnum):
    """How a controller is served."""

    BUILTIN = "builtin"  # the project's own code
    DATA = "data"  # a document interpreted by built-in code
    TRUSTED = "trusted"  # a file pinned in the trust list: runs in process
    SANDBOXED = "sandboxed"  # runs in the OS sandbox, behind a pipe
    REFUSED = "refused"  # not served (the reason is logged and listed)


def digest(path: Path) -> str:
    """The SHA-256 of a file, as the trust list holds it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TrustList:
    """The SHA-256 digests of the files an operator reviewed."""

    def __init__(self, digests: frozenset[str] = frozenset()) -> None:
        self.digests = digests

    @classmethod
    def read(cls, path: Path | None) -> TrustList:
        """The list in ``path`` (none: trust nothing); ``ValueError`` on a malformed line."""
        if path is None:
            return cls()
        digests = set()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            first = text.split()[0].lower()
            if not _DIGEST.match(first):
                raise ValueError(f"{path}:{number}: not a SHA-256 hex digest: {first[:80]!r}")
            digests.add(first)
        return cls(frozenset(digests))

    def trusts(self, data: bytes) -> bool:
        """Whether these bytes (a file's, read once) are pinned in the list."""
        return hashlib.sha256(data).hexdigest() in self.digests
