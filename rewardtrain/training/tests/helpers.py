"""Test data builders (importable from the tests; fixtures live in conftest.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rewardtrain.training.tiny import DEFAULT_CORPUS

FRUITS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"]
FILLER = ["the", "a", "is", "of", "and", "to", "in", "it", "on", "for", "you", "that", "with", "was"]
FILLER += ["one", "two", "three", "four", "five", "six", "seven", "eight"]
CORPUS = [*DEFAULT_CORPUS, " ".join(FRUITS), " ".join(FILLER), "count number even odd question answer"]


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def sft_records(n: int = 8) -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"count {i}"},
                {"role": "assistant", "content": f"number {i} is {'even' if i % 2 == 0 else 'odd'}"},
            ],
            "demo_id": i,
        }
        for i in range(n)
    ]


def planted_kwise_records(n: int, seed: int, k: int = 3) -> list[dict[str, Any]]:
    """K-wise rankings where the best answer (tier 0) mentions "apple" and the others do not."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        question = f"{rng.choice(FILLER)} {rng.choice(FILLER)} question {seed}-{i}?"
        cands = []
        for j in range(k):
            words = rng.sample(FILLER, 4)
            if j == 0:
                words.insert(rng.randrange(5), "apple")
            else:
                words.insert(rng.randrange(5), rng.choice(FRUITS[1:]))
            cands.append({"id": f"{i}-{j}", "text": " ".join(words), "tier": 0 if j == 0 else 1})
        rng.shuffle(cands)
        records.append(
            {"prompt": [{"role": "user", "content": question}], "prompt_id": i, "candidates": cands}
        )
    return records


def planted_pairwise_records(n: int, seed: int) -> list[dict[str, Any]]:
    """TRL conversational pairwise records where the chosen answer mentions "apple" and the rejected one
    another fruit; otherwise both answers are random filler."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        question = f"{rng.choice(FILLER)} {rng.choice(FILLER)} question {seed}-{i}?"
        sides = {}
        for side, fruit in (("chosen", "apple"), ("rejected", rng.choice(FRUITS[1:]))):
            words = rng.sample(FILLER, 4)
            words.insert(rng.randrange(5), fruit)
            sides[side] = [{"role": "assistant", "content": " ".join(words)}]
        records.append({"prompt": [{"role": "user", "content": question}], "prompt_id": i, **sides})
    return records
