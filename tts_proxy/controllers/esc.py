"""Early-stopping self-consistency (Li et al. 2024): sample windows of w = 5 branches in
parallel; stop as soon as one window is unanimous, else sample the next window; answer by
majority of everything sampled.

beta maps the number of windows allowed: 1 + 11 beta for 64 branches, scaled to the
request's width (a branch count). The stopping rule does not depend on beta, so on the same
ordering of samples more beta can only draw more windows, never fewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Continue
from tts_proxy.controllers.base import Controller, Ramp, Setting
from tts_proxy.state import View

WINDOW = 5


class EarlyStoppingSC(Controller, decides_by_settings=True):
    name = "esc"
    whole_branches = True
    schedule: ClassVar[dict[str, Setting]] = {
        "windows": Setting(Ramp(1, 12), 1, 1, 16, integer=True, per_width=True),
    }

    @property
    def window(self) -> int:
        return min(WINDOW, self.limits.max_branches)

    @property
    def max_samples(self) -> int:
        return self.window * int(self.value("windows"))

    def decide(self, view: View) -> Sequence[Action]:
        branches = view.branches
        w = self.window
        last = branches[(len(branches) - 1) // w * w :] if branches else []
        running = [
            Continue(b.id, to_end=True) for b in last if b.active
        ]  # only the newest window runs
        if running:
            return running
        if last:
            keys = {b.key for b in last}
            if len(last) == w and len(keys) == 1 and None not in keys:
                return [Answer()]
        room = min(view.can_branch, self.max_samples - len(branches))
        return [Branch(min(w, room), to_end=True)] if room > 0 else [Answer()]
