"""The LLM proposer: any OpenAI-compatible endpoint writes a new controller file.

It is shown the controller interface, the best candidates so far (their code and curves),
failure traces of the best one, and the gate's reasons for recent rejections, and asked for
one Python file with a single beta knob whose cost grows with beta. Whatever comes back --
an error, nothing, prose, broken code -- is recorded, never trusted: the file still has to
pass the gate before it runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from tts_proxy.discovery.curves import Curve

INTERFACE = """\
A controller is one Python file defining one subclass of Controller:

    from tts_proxy.actions import Answer, Branch, Continue, Probe, Prune
    from tts_proxy.controllers.base import Controller, Ramp, interpolate, geometric
    from tts_proxy.state import View

    class MyController(Controller):
        name = "my_controller"          # unique, lower case
        def decide(self, view: View) -> list:   # called once per round
            ...

self.beta in [0, 1] is the only knob: every setting must be a monotone function of it, so
that more beta never spends fewer tokens. self.limits.max_branches caps the width.
view.branches: list of branches with .id, .depth (chunks generated), .tokens, .finished,
.pruned, .active, .answer and .key (final answer once finished, and its canonical key:
equal keys are the same answer), .probes (list of records with .depth, .answer and .key),
.current_answer, .current_key, .probed_at_depth, .confidence (token confidence when measured:
.group, .lowest, .tail; None otherwise). view.final_votes() and view.current_votes()
are Counters of answer keys; view.can_branch is how many more branches may start;
view.tokens_used is the spend so far. Compare answers by their keys, never by their text.
Actions (all of one round run together): Branch(n, to_end=False, probe=False) starts n
branches; Continue(id, to_end=False, probe=False) generates one more chunk (to_end: until
the branch finishes; probe: probe it right after); Probe(id) reads the answer a branch would
give now; Prune(id) stops a branch; Answer() ends the search with the majority answer.
Only these imports are allowed: tts_proxy.actions, tts_proxy.state, tts_proxy.answers,
tts_proxy.controllers.base, tts_proxy.controllers.<built-in>, math, statistics, random,
collections, dataclasses, itertools, typing. No files, network, eval or dunder access.
"""

_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


class AgentError(Exception):
    """The endpoint gave no usable file (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the agent is shown of one earlier candidate."""

    name: str
    source: str
    curve: Curve | None
    value: float | None  # what it adds to the built-ins' objective, in points


@dataclass(slots=True)
class AgentContext:
    best: Sequence[Candidate]
    references: dict[str, Curve]
    failures: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    name: str = "agent_candidate"


def _table(curve: Curve) -> str:
    return ", ".join(
        f"beta {p.beta:g}: {p.accuracy * 100:.1f}% at {p.tokens / 1000:.1f}k tokens"
        for p in curve.points
    )


def build_prompt(context: AgentContext, max_chars: int) -> str:
    """The user message; later sections are cut first when it would exceed ``max_chars``."""
    parts = [INTERFACE]
    refs = "\n".join(f"- {name}: {_table(c)}" for name, c in context.references.items())
    parts.append("Built-in controllers on the search set (accuracy, tokens per question):\n" + refs)
    for cand in context.best:
        curve = _table(cand.curve) if cand.curve else "not measured"
        parts.append(
            f"Candidate {cand.name} (adds {cand.value} points to the built-ins' objective): "
            f"{curve}\n```python\n"
            f"{cand.source.strip()}\n```"
        )
    if context.failures:
        parts.append(
            "Where the best candidates answered wrongly (execution traces):\n"
            + "\n".join(json.dumps(f)[:1500] for f in context.failures)
        )
    if context.rejections:
        parts.append("Rejected earlier (fix these):\n" + "\n".join(context.rejections[-5:]))
    ask = (
        f'Write a new controller named "{context.name}" whose curve is above every curve '
        "above: at least as accurate for no more tokens. Reply with the whole file in one "
        "```python block."
    )
    prompt = ""
    for part in parts:
        if len(prompt) + len(part) + len(ask) > max_chars:
            break
        prompt += part + "\n\n"
    return prompt + ask


def extract_source(reply: str) -> str:
    """The Python file in a reply: its last fenced code block, else the reply itself."""
    blocks = _CODE_BLOCK.findall(reply)
    source = blocks[-1] if blocks else reply
    if "class " not in source:
        raise AgentError("the reply holds no class definition")
    return source.strip() + "\n"


class AgentProposer:
    """Asks one model on one OpenAI-compatible endpoint for controller files."""

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        max_tokens: int = 1500,
        max_prompt_chars: int = 12_000,
        temperature: float = 0.7,
    ) -> None:
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.max_prompt_chars = max_prompt_chars
        self.temperature = temperature

    def propose(self, context: AgentContext) -> str:
        """A controller file's source; ``AgentError`` when the endpoint gave none."""
        prompt = build_prompt(context, self.max_prompt_chars)
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[
                    {
                        "role": "system",
                        "content": "You write Python test-time-scaling "
                        "controllers for an LLM serving proxy.",
                    },
                    {"role": "user", "content": prompt},
                ],
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
        except openai.OpenAIError as exc:
            raise AgentError(f"the endpoint failed: {type(exc).__name__}: {exc}"[:500]) from exc
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:
            raise AgentError(f"malformed reply from the endpoint: {exc}") from exc
        if not content or not content.strip():
            raise AgentError("the endpoint replied with nothing")
        return extract_source(content)
