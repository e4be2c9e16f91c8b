"""The LLM-agent plan search (AgentTTS): a model on any OpenAI-compatible endpoint is shown
the workflow's options, the budget, AgentTTS's three regularities and the archive of tried
plans with their scores, and proposes the next plans -- starting from the insight search's
per-stage model preference, as the paper does.

Replies are constrained to the options with a JSON schema (vLLM's structured outputs), and
checked again here; an endpoint that fails or proposes nothing new only ends the round.
"""

from __future__ import annotations

import json
import random
from typing import Any, ClassVar

import openai

from tts_proxy.workflows.environment import Allocation, Choice
from tts_proxy.workflows.search import InsightWalk, Oracle

REGULARITIES = """\
What is known about such workflows (AgentTTS, arXiv 2508.00890):
1. Each stage has its own preferred model: a larger model is not better at every stage for
   the same compute; compare models at equal FLOPs, stage by stage.
2. Returns from more samples saturate past a stage-specific budget: beyond it, compute is
   better spent on another stage.
3. Stages interact: a later stage's best allocation depends on the earlier stages' quality.
"""


class AgentSearch:
    """``iterations`` rounds of up to ``candidates`` plans each from one endpoint."""

    name: ClassVar[str] = "agent"

    def __init__(self, client: openai.OpenAI, model: str, *, iterations: int = 5,
                 candidates: int = 10, archive_shown: int = 20, max_tokens: int = 1200,
                 temperature: float = 0.7) -> None:  # fmt: skip
        self.client = client
        self.model = model
        self.iterations = iterations
        self.candidates = candidates
        self.archive_shown = archive_shown
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.notes: list[str] = []  # what went wrong, per round

    def search(self, oracle: Oracle, rng: random.Random) -> None:
        InsightWalk(oracle, rng).prefer_models()  # the paper's insight-guided initial plans
        for round_ in range(self.iterations):
            try:
                proposed = self._ask(oracle)
            except openai.OpenAIError as exc:
                self.notes.append(f"round {round_}: the endpoint failed: {type(exc).__name__}")
                continue
            fresh = [p for p in proposed if not oracle.tried(p)]
            if not fresh:
                self.notes.append(f"round {round_}: nothing new proposed")
            for plan in fresh:
                oracle(plan)

    def _ask(self, oracle: Oracle) -> list[Allocation]:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": "You allocate compute to the stages of an LLM "
                 "workflow. Reply with JSON only."},
                {"role": "user", "content": prompt(oracle, self.candidates, self.archive_shown)},
            ],
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            response_format={"type": "json_schema",
                             "json_schema": {"name": "plans", "schema": schema(oracle)}},
        )  # fmt: skip
        content = response.choices[0].message.content if response.choices else None
        return parse_plans(content or "", oracle)


def prompt(oracle: Oracle, candidates: int, shown: int) -> str:
    table = oracle.table
    sizes = table.env.parameters
    lines = [f"Workflow {table.env.workflow!r}: stages in order {table.stages}.",
             f"Budget: at most {oracle.budget:.4g} FLOPs per run (2 x parameters x tokens).",
             "Options per stage (model with its parameters, and sample counts):"]  # fmt: skip
    for stage, options in zip(table.stages, table.space(), strict=True):
        by_model: dict[str, list[int]] = {}
        for c in options:
            by_model.setdefault(c.model, []).append(c.samples)
        listed = "; ".join(
            f"{m} ({sizes.get(m, 0):.3g} params): {ks}" for m, ks in by_model.items()
        )
        lines.append(f"- {stage}: {listed}")
    lines.append(REGULARITIES)
    tried = sorted(oracle.archive, key=lambda t: (t.feasible, t.score), reverse=True)[:shown]
    lines.append("Plans tried so far (best first):")
    for t in tried:
        plan = ", ".join(f"{s}={c}" for s, c in zip(table.stages, t.plan, strict=True))
        verdict = "within budget" if t.feasible else "OVER budget"
        lines.append(f"- {plan}: score {t.score:.4f}, {t.flops:.4g} FLOPs ({verdict})")
    shape = '{"plans": [{"<stage>": {"model": ..., "samples": ...}, ...}]}'
    lines.append(f"Propose up to {candidates} new plans, not tried yet, that may score higher "
                 f"within the budget, as {shape}.")  # fmt: skip
    return "\n".join(lines)


def schema(oracle: Oracle) -> dict[str, Any]:
    """Replies that name only recorded options, stage by stage."""
    stages = {}
    for stage, options in zip(oracle.table.stages, oracle.table.space(), strict=True):
        stages[stage] = {
            "type": "object",
            "properties": {"model": {"enum": sorted({c.model for c in options})},
                           "samples": {"enum": sorted({c.samples for c in options})}},
            "required": ["model", "samples"], "additionalProperties": False,
        }  # fmt: skip
    plan = {"type": "object", "properties": stages, "required": list(stages),
            "additionalProperties": False}  # fmt: skip
    return {"type": "object", "properties": {"plans": {"type": "array", "items": plan,
            "minItems": 1, "maxItems": 16}}, "required": ["plans"]}  # fmt: skip


def parse_plans(text: str, oracle: Oracle) -> list[Allocation]:
    """The plans in a reply that name recorded options for every stage (others dropped)."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    items = data.get("plans") if isinstance(data, dict) else None
    out: list[Allocation] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        plan = []
        for stage, options in zip(oracle.table.stages, oracle.table.space(), strict=True):
            raw = item.get(stage)
            try:
                choice = Choice.model_validate(raw)
            except ValueError:
                break
            if choice not in options:
                break
            plan.append(choice)
        else:
            out.append(tuple(plan))
    return out
