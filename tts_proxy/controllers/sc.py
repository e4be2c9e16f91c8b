"""Self-consistency (Wang et al. 2022): N branches run to the end, majority vote.

beta maps linearly onto the width: N = 1 + 63 beta for 64 branches, scaled to the request's
width (a branch count), so beta 0 is one sample and beta 1 is SC@max_branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Continue
from tts_proxy.controllers.base import Controller, Ramp, Setting
from tts_proxy.state import View


class SelfConsistency(Controller, decides_by_settings=True):
    name = "sc"
    whole_branches = True
    schedule: ClassVar[dict[str, Setting]] = {
        "width": Setting(Ramp(1, 64), 1, 1, 64, integer=True, geometric=True, per_width=True),
    }

    @property
    def width(self) -> int:
        return min(self.limits.max_branches, int(self.value("width")))

    def decide(self, view: View) -> Sequence[Action]:
        actions: list[Action] = []
        missing = self.width - len(view.branches)
        if missing > 0:
            actions.append(Branch(missing, to_end=True))
        actions += [Continue(b.id, to_end=True) for b in view.branches if b.active]
        return actions or [Answer()]
