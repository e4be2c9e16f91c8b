"""``tts-proxy collect``: send a dataset through the proxy in explore mode, labelled with gold.

Each question goes out as a chat request with ``tts.mode = "explore"`` (W branches run to the
end, probed every chunk), and its gold answer is attached with ``POST /v1/tts/feedback``, so
the proxy's trace directory becomes a labelled replay set. Progress is kept in a state file
(one line per finished question), so a stopped run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
from tqdm import tqdm

from tts_proxy.errors import CollectError, ReplayDataError

INSTRUCTION = "\nPut the final answer in \\boxed{}."


@dataclass(frozen=True, slots=True)
class Item:
    index: int
    question: str
    gold: str


def gold_of(record: dict[str, Any]) -> str:
    answer = str(record.get("answer", "")).strip()
    if "####" in answer:  # GSM8K: the worked solution ends in "#### N"
        answer = answer.rsplit("####", 1)[1].strip()
    return re.sub(r"(?<=\d),(?=\d{3})", "", answer)


def read_dataset(path: Path) -> list[Item]:
    """GSM8K / MATH-500 / AIME style JSONL: ``question`` or ``problem``, and ``answer``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayDataError(f"cannot read {path}: {exc}") from exc
    items = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            question = rec.get("question") or rec["problem"]
        except (ValueError, KeyError, AttributeError) as exc:
            raise ReplayDataError(f"{path}:{i + 1}: no question/problem field") from exc
        items.append(Item(i, str(question), gold_of(rec)))
    return items


def done_indices(state: Path) -> set[int]:
    if not state.exists():
        return set()
    done = set()
    for line in state.read_text().splitlines():
        try:
            done.add(int(json.loads(line)["index"]))
        except (ValueError, KeyError, TypeError):
            continue  # a torn line from an interrupted run
    return done


async def collect(
    dataset: Path,
    *,
    base_url: str,
    model: str,
    width: int,
    concurrency: int = 1,
    limit: int | None = None,
    max_tokens: int | None = None,
    chunk_tokens: int | None = None,
    state: Path | None = None,
    api_key: str = "x",
    confidence: bool = False,
) -> list[dict[str, Any]]:
    """Collect every (remaining) question; returns the summaries of this run's requests."""
    items = read_dataset(dataset)[:limit]
    state = state or Path(f"collect-{dataset.stem}.progress.jsonl")
    done = done_indices(state)
    todo = [it for it in items if it.index not in done]
    root = base_url.rstrip("/").removesuffix("/v1")
    client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key=api_key, max_retries=2)
    gate = asyncio.Semaphore(concurrency)
    results: list[dict[str, Any]] = []
    tts: dict[str, Any] = {"mode": "explore", "max_branches": width}
    if chunk_tokens:
        tts["chunk_tokens"] = chunk_tokens
    if confidence:
        tts["confidence"] = True  # token confidence recorded per chunk (DeepConf replays it)

    async with httpx.AsyncClient(base_url=root, timeout=60) as http:

        async def one(item: Item, bar: tqdm) -> None:
            async with gate:
                response = await client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": item.question + INSTRUCTION}],
                    max_tokens=max_tokens,
                    extra_body={"tts": tts},
                )
                summary = (response.model_extra or {}).get("tts") or {}
                request_id = summary.get("request_id")
                if not request_id:
                    raise CollectError(f"{root} returned no tts summary: is it tts-proxy?")
                label = {"request_id": request_id, "answer": item.gold}
                r = await http.post("/v1/tts/feedback", json=label)
                r.raise_for_status()
                entry = {"index": item.index, "request_id": request_id, "gold": item.gold,
                         "answer": summary.get("answer")}  # fmt: skip
                results.append(entry)
                with state.open("a") as f:
                    f.write(json.dumps(entry) + "\n")
                bar.update(1)

        with tqdm(total=len(items), initial=len(items) - len(todo), desc="collect") as bar:
            tasks = [asyncio.ensure_future(one(it, bar)) for it in todo]
            try:
                await asyncio.gather(*tasks)
            except (openai.APIError, httpx.HTTPError) as exc:
                why = str(exc).rstrip(".")
                raise CollectError(f"collect stopped at {root} ({why}); what was collected is in "
                                   f"{state}: run it again to resume") from exc  # fmt: skip
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await client.close()
    return results
