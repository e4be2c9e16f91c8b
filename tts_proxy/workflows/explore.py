"""``tts-proxy collect --workflow``: explore a workflow's stages on each candidate model, so
the planner has real outcomes to plan on.

A workflow file (``tts-workflow/1``) names the stages in order, each with a prompt template
and its candidate models. Templates hold ``{question}`` and, from the second stage on, the
previous stage's name (``{draft}``), replaced by that stage's answer. For each question,
stage 1 runs on every model in explore mode (W branches to the end); each later stage runs
on every model once per upstream answer -- the ``upstream_answers`` most voted answers of
the stage before, over all its explorations. Every request is tagged with the workflow,
stage and run, and labelled with the gold answer; the exploration log (one line per request)
says what each request was, so the planner can compose the stages again for any plan.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import openai
from pydantic import BaseModel, Field, ValidationError
from tqdm import tqdm

from tts_proxy.answers import answer_key
from tts_proxy.collect import Item, read_dataset
from tts_proxy.errors import PlanError
from tts_proxy.workflows.definition import WorkflowSpec, fill

NO_ANSWER = "(no answer)"


class Exploration(BaseModel):
    """One line of the exploration log: which request explored what."""

    index: int
    stage: str
    model: str
    upstream: str | None  # the previous stage's answer it was given (None: first stage)
    request_id: str
    gold: str
    votes: dict[str, int] = Field(default_factory=dict)


def spec_beside(log: Path) -> Path:
    """Where the workflow file is kept beside its exploration log."""
    return log.with_name(log.name.removesuffix(".jsonl") + ".workflow.json")


def read_log(path: Path) -> list[Exploration]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(Exploration.model_validate_json(line))
        except ValidationError:
            continue  # a torn line from an interrupted run
    return out


async def explore(spec: WorkflowSpec, dataset: Path, *, base_url: str, log: Path,
                  limit: int | None = None, concurrency: int = 1,
                  api_key: str = "x") -> list[Exploration]:  # fmt: skip
    """Explore every (remaining) question; the log holds every exploration, old and new."""
    items = read_dataset(dataset)[:limit]
    log.parent.mkdir(parents=True, exist_ok=True)
    spec_beside(log).write_text(spec.model_dump_json(by_alias=True, indent=2) + "\n")
    root = base_url.rstrip("/").removesuffix("/v1")
    client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key=api_key, max_retries=2)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=root, timeout=60) as http:
        runner = _Runner(spec, client, http, log)
        with tqdm(total=len(items), desc=f"explore {spec.workflow}") as bar:

            async def one(item: Item) -> None:
                async with gate:
                    await runner.question(item)
                bar.update(1)

            await asyncio.gather(*(one(it) for it in items))
    await client.close()
    return read_log(log)


class _Runner:
    """Explores one question after another; what the log already holds is not asked again."""

    def __init__(self, spec: WorkflowSpec, client: openai.AsyncOpenAI, http: httpx.AsyncClient,
                 log: Path) -> None:  # fmt: skip
        self.spec, self.client, self.http, self.log = spec, client, http, log
        self.previous = {(e.index, e.stage, e.model, e.upstream): e for e in read_log(log)}

    async def question(self, item: Item) -> None:
        upstreams: list[str | None] = [None]
        for i, stage in enumerate(self.spec.stages):
            votes: Counter[str] = Counter()  # by answer key: equal answers vote together
            texts: dict[str, str] = {}
            for upstream in upstreams:
                for model in stage.models:
                    e = await self._one(item, i, model, upstream)
                    for text, n in e.votes.items():
                        key = answer_key(text) or text
                        texts.setdefault(key, text)
                        votes[key] += n
            top = [texts[k] for k, _ in votes.most_common(self.spec.upstream_answers)]
            upstreams = list(top) or [NO_ANSWER]

    async def _one(self, item: Item, i: int, model: str, upstream: str | None) -> Exploration:
        stage = self.spec.stages[i]
        key = (item.index, stage.name, model, upstream)
        if key in self.previous:
            return self.previous[key]
        given = None if upstream is None else (self.spec.stages[i - 1].name, upstream)
        response = await self.client.chat.completions.create(
            model=model, max_tokens=self.spec.max_tokens,
            messages=[{"role": "user", "content": fill(stage.prompt, item.question, given)}],
            extra_body={"tts": {"mode": "explore", "max_branches": self.spec.width,
                                "workflow": self.spec.workflow, "stage": stage.name,
                                "run": f"{self.spec.workflow}-{item.index}"}},
        )  # fmt: skip
        summary = (response.model_extra or {}).get("tts") or {}
        if not summary.get("request_id"):
            raise PlanError("the server returned no tts summary: is it tts-proxy?")
        if summary.get("model") not in (None, model) or summary.get("controller") != "explore":
            raise PlanError(f"the proxy ran {summary.get('controller')} on "
                            f"{summary.get('model')} instead of exploring {model}")  # fmt: skip
        label = {"request_id": summary["request_id"], "answer": item.gold}
        r = await self.http.post("/v1/tts/feedback", json=label)
        r.raise_for_status()
        e = Exploration(index=item.index, stage=stage.name, model=model, upstream=upstream,
                        request_id=summary["request_id"], gold=item.gold,
                        votes=summary.get("votes") or {})  # fmt: skip
        with self.log.open("a") as f:
            f.write(e.model_dump_json() + "\n")
        self.previous[key] = e
        return e
