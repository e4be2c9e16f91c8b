"""Exploration: run every branch to its end, probing after every chunk, then majority vote.

It spends the whole width on purpose: the trace it leaves holds, for every branch and depth,
the answer a probe read, so it is a complete replay environment for discovery. beta is
ignored (the width is the request's ``max_branches``). The answer is the majority of the
branches' final answers -- self-consistency's rule, so a replay of the trace with ``sc`` at
the same width answers the same; when no branch wrote an answer there is none.
"""

from __future__ import annotations

from collections.abc import Sequence

from tts_proxy.actions import Action, Answer, Branch, continue_and_probe
from tts_proxy.controllers.base import Controller, unprobed
from tts_proxy.state import View, majority


class Explore(Controller, decides_by_settings=True):
    name = "explore"

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(self.limits.max_branches, probe=True)]
        active = view.active
        probes = unprobed(view)
        if probes:
            return probes
        return [continue_and_probe(b.id) for b in active] or [Answer()]

    def aggregate(self, view: View) -> str | None:
        return majority((b.answer, b.key) for b in view.branches if b.finished)
