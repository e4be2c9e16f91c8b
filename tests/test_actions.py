"""Actions are values: frozen, equal by what they say, so one object may serve many rounds."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tts_proxy.actions import Continue, continue_and_probe


@given(st.integers(0, 4096))
def test_a_shared_probing_step_is_the_continue_it_stands_for(branch: int) -> None:
    step = continue_and_probe(branch)
    assert step == Continue(branch, probe=True) and repr(step) == repr(Continue(branch, probe=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.branch = branch + 1  # type: ignore[misc]
    assert continue_and_probe(branch) == Continue(branch, probe=True)  # still, after the try
