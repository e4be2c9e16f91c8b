"""Token confidence (DeepConf): per token, per group, lowest and tail."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tts_proxy.confidence import ConfidenceMeter, token_confidence
from tts_proxy.state import TokenLogprob


def test_a_token_is_as_confident_as_its_alternatives_are_unlikely() -> None:
    sure = TokenLogprob("a", -0.01, (("a", -0.01), ("b", -6.0), ("c", -7.0)))
    torn = TokenLogprob("a", -0.7, (("a", -0.7), ("b", -0.8), ("c", -3.0)))
    assert token_confidence(sure) > token_confidence(torn)
    assert token_confidence(TokenLogprob("a", -0.5)) == 0.5  # no alternatives: its own
    masked = TokenLogprob("a", 0.0, (("a", 0.0), ("b", -math.inf)))
    assert math.isfinite(token_confidence(masked))


def test_groups_slide_the_lowest_holds_and_the_tail_is_recent() -> None:
    meter = ConfidenceMeter(window=2, tail_tokens=3)
    assert meter.signals() is None
    meter.add([4.0])
    one = meter.signals()
    assert one is not None and (one.group, one.lowest, one.tail) == (4.0, 4.0, 4.0)
    meter.add([2.0, 6.0, 6.0])
    s = meter.signals()
    assert s is not None
    assert s.group == 6.0  # the last two tokens
    assert s.lowest == 3.0  # the window (4, 2) or (2, 6) was the lowest: 3.0
    assert s.tail == (2.0 + 6.0 + 6.0) / 3


@given(st.lists(st.floats(0, 20), min_size=1, max_size=200), st.integers(1, 50))
def test_the_lowest_group_is_never_above_the_current_one(values: list[float], window: int) -> None:
    meter = ConfidenceMeter(window=window, tail_tokens=window)
    meter.add(values)
    s = meter.signals()
    assert s is not None
    if len(values) >= window:
        assert s.lowest <= s.group + 1e-9
