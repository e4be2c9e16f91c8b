"""Exploration: run every branch to its end, probing after every chunk, then majority vote.

It spends the whole width on purpose: the trace it leaves holds, for every branch and depth,
the answer a probe read, so it is a complete replay environment for discovery. beta is
ignored (the width is the request's ``max_branches``).
"""

from __future__ import annotations

from collections.abc import Sequence

from tts_proxy.actions import Action, Answer, Branch, Continue, Probe
from tts_proxy.controllers.base import Controller
from tts_proxy.state import View


class Explore(Controller):
    name = "explore"

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(self.limits.max_branches)]
        active = view.active
        unprobed = [Probe(b.id) for b in active if b.depth > 0 and not b.probed_at_depth]
        if unprobed:
            return unprobed
        return [Continue(b.id) for b in active] or [Answer()]
