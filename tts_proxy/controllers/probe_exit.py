"""Probe-and-exit (Dynasor-CoT's certaindex, Fu et al. 2024).

One branch; after every chunk it is probed for the answer it would give now, and the search
answers as soon as the last k probes agree. beta maps onto k from 2 to 8 (patience before
trusting agreement), so more beta never stops earlier. A finished branch answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Probe, continue_and_probe
from tts_proxy.controllers.base import Controller, Ramp, Setting
from tts_proxy.state import BranchState, ProbeRecord, View


def agreeing_tail(branch: BranchState, k: int) -> ProbeRecord | None:
    """The branch's last probe if its last ``k`` probes all read the same answer."""
    if len(branch.probes) < k:
        return None
    tail = branch.probes[-k:]
    key = tail[0].key
    if key is None or any(p.key != key for p in tail[1:]):
        return None
    return tail[-1]


class ProbeExit(Controller, decides_by_settings=True):
    name = "probe_exit"
    schedule: ClassVar[dict[str, Setting]] = {
        "k": Setting(Ramp(2, 8), 1, 1, 32, integer=True, geometric=True),
    }

    @property
    def k(self) -> int:
        return int(self.value("k"))

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(1, probe=True)]
        finished = [b for b in view.branches if b.finished and b.answer is not None]
        if finished:
            return [Answer(finished[0].answer)]
        actions: list[Action] = []
        for b in view.active:
            if not b.probed_at_depth:
                actions.append(Probe(b.id))
                continue
            agreed = agreeing_tail(b, self.k)
            if agreed is not None:
                return [Answer(agreed.answer)]
            actions.append(continue_and_probe(b.id))
        return actions or [Answer()]
