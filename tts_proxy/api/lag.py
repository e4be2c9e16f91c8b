"""Event-loop lag: how late a timer that should fire every ``interval`` seconds wakes up.

A proxy whose event loop is blocked (CPU work on it, a blocking call) answers nobody while it
is; this is the symptom to watch (``tts_event_loop_lag_seconds``). The sampler is one
background task, so its own cost is one wake-up per interval.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

DEFAULT_INTERVAL = 0.25


async def sample_lag(histogram: Histogram, interval: float = DEFAULT_INTERVAL) -> None:
    """Observe each wake-up's delay past ``interval`` into ``histogram``, until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        histogram.observe(max(0.0, loop.time() - start - interval))
