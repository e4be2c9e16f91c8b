"""What crosses the pipe to a sandboxed controller: views as deltas, actions as checked JSON.

Each round the proxy sends only what changed since the last round of that search (new
branches, changed fields, new probes); the sandboxed side keeps a mirror of the state and
builds the same ``View`` the controller would see in process. Actions come back as JSON and
are validated here (pydantic) before the engine sees them: a sandboxed controller can send
anything, and anything malformed is its fault, not a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tts_proxy.actions import Action, Answer, Branch, Continue, Probe, Prune
from tts_proxy.confidence import ConfidenceSignals
from tts_proxy.state import BranchState, ProbeRecord, View

_SCALARS = ("depth", "tokens", "finished", "pruned", "active", "finish_reason", "answer", "key")


class DeltaEncoder:
    """The proxy's side: what of a search's state the sandbox has not seen yet."""

    def __init__(self) -> None:
        self._sent: dict[int, tuple[tuple[Any, ...], int]] = {}  # branch id -> (scalars, probes)

    def encode(self, view: View) -> dict[str, Any]:
        branches = []
        for b in view.branches:
            c = b.confidence
            confidence = None if c is None else (c.group, c.lowest, c.tail)
            scalars = (*(getattr(b, f) for f in _SCALARS), confidence)
            seen = self._sent.get(b.id)
            if seen is not None and seen == (scalars, len(b.probes)):
                continue
            done = 0 if seen is None else seen[1]
            new = [[p.depth, p.answer, p.key, p.tokens, p.confidence] for p in b.probes[done:]]
            branches.append({"id": b.id, "fields": list(scalars), "probes": new})
            self._sent[b.id] = (scalars, len(b.probes))
        return {
            "branches": branches,
            "round": view.round,
            "tokens_used": view.tokens_used,
            "budget": view.budget,
            "max_branches": view.max_branches,
        }


class Mirror:
    """The sandbox's side: the state rebuilt from deltas, as ``BranchState`` objects."""

    def __init__(self) -> None:
        self.branches: list[BranchState] = []

    def apply(self, delta: dict[str, Any]) -> View:
        for item in delta["branches"]:
            bid = int(item["id"])
            while len(self.branches) <= bid:
                self.branches.append(BranchState(id=len(self.branches)))
            branch = self.branches[bid]
            *fields, confidence = item["fields"]
            for name, value in zip(_SCALARS, fields, strict=True):
                setattr(branch, name, value)
            branch.confidence = None if confidence is None else ConfidenceSignals(*confidence)
            for depth, answer, key, tokens, confidence in item["probes"]:
                branch.probes.append(ProbeRecord(depth, answer, key, tokens, confidence))
        return View(self.branches, int(delta["round"]), int(delta["tokens_used"]),
                    delta["budget"], int(delta["max_branches"]))  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Branch(_Strict):
    type: Literal["Branch"]
    n: int = Field(ge=0, le=1 << 16)
    to_end: bool = False
    probe: bool = False


class _Continue(_Strict):
    type: Literal["Continue"]
    branch: int
    to_end: bool = False
    probe: bool = False


class _Probe(_Strict):
    type: Literal["Probe"]
    branch: int


class _Prune(_Strict):
    type: Literal["Prune"]
    branch: int


class _Answer(_Strict):
    type: Literal["Answer"]
    answer: str | None = Field(None, max_length=4096)


_ACTIONS = TypeAdapter(
    list[Annotated[_Branch | _Continue | _Probe | _Prune | _Answer, Field(discriminator="type")]]
)
_KINDS = {"Branch": Branch, "Continue": Continue, "Probe": Probe, "Prune": Prune, "Answer": Answer}


def encode_actions(actions: Sequence[Action]) -> list[dict[str, Any]]:
    """Actions as JSON objects (the sandbox's side)."""
    out = []
    for a in actions:
        fields = {f: getattr(a, f) for f in a.__dataclass_fields__}
        out.append({"type": type(a).__name__, **fields})
    return out


def decode_actions(data: object) -> list[Action]:
    """Checked actions from JSON (the proxy's side); ``ValueError`` on anything malformed."""
    checked = _ACTIONS.validate_python(data)
    return [_KINDS[a.type](**a.model_dump(exclude={"type"})) for a in checked]
