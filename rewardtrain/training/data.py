"""Reading the exported JSONL files, tokenising, packing, collating and deterministic batching.

Formats (one JSON object per line; unknown keys are ignored):

* SFT: ``{"messages": [{"role", "content"}, ...]}``; the last message is the assistant answer to learn, and in a
  written dialogue (``"metadata": {"source": "dialogue"}``) every assistant message (see ``turns.py``).
* pairwise (TRL): ``{"prompt": str | [messages], "chosen": str | [assistant msgs], "rejected": ...,
  "margin": float?, "prompt_id"?, "chosen_id"?, "rejected_id"?}``.
* K-wise: ``{"prompt": str | [messages], "prompt_id", "candidates": [{"id", "text", "tier"}, ...]}``,
  tier 0 = best, equal tiers = tie (no pair).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .chat import Prompt, has_chat_template, render_answer, render_prompt, split_conversation
from .distributed import shard_indices
from .turns import LAST_TURN_FALLBACK, NotPrefixPreserving, encode_turns, learns_all_turns, truncate

IGNORE_INDEX = -100
Answer = str | list[dict[str, str]]


# --------------------------------------------------------------------------- files


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    records = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc})") from exc
    return records


def resolve_data_files(data: str, eval_data: str | None = None) -> tuple[Path, Path | None]:
    """``data`` is a JSONL file or a directory with ``train.jsonl`` (+ optional ``validation.jsonl``)."""
    path = Path(data)
    if path.is_dir():
        train = path / "train.jsonl"
        if not train.is_file():
            raise FileNotFoundError(f"{path} has no train.jsonl")
        val = path / "validation.jsonl"
        default_eval = val if val.is_file() else None
    elif path.is_file():
        train, default_eval = path, None
    else:
        raise FileNotFoundError(f"training data not found: {data}")
    return train, Path(eval_data) if eval_data else default_eval


# --------------------------------------------------------------------------- tokenising


def encode_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Prompt token ids. Chat-template text already holds its special tokens; a raw or plain-template
    prompt gets the tokenizer's own special tokens (e.g. Llama's BOS)."""
    templated = not isinstance(prompt, str) and has_chat_template(tokenizer)
    return list(tokenizer(render_prompt(tokenizer, prompt), add_special_tokens=not templated)["input_ids"])


def encode_ranking(
    tokenizer: Any, prompt: Prompt, answers: list[Answer], max_length: int
) -> tuple[list[int], list[list[int]]]:
    """Token ids of the prompt and of each answer, tokenised separately so that every boundary is exact.

    When the prompt and the longest answer exceed ``max_length``, the prompt is cut from the left (down to
    ``max_length // 2`` tokens) and then every answer from the right, so that each prompt + answer fits and
    all answers of a prompt are read with the same context.
    """
    prompt_ids = encode_prompt(tokenizer, prompt)
    answer_ids = [
        list(tokenizer(render_answer(tokenizer, prompt, a), add_special_tokens=False)["input_ids"])
        for a in answers
    ]
    longest = max((len(a) for a in answer_ids), default=0)
    if len(prompt_ids) + longest > max_length:
        keep = max(max_length - longest, min(len(prompt_ids), max_length // 2))
        prompt_ids = prompt_ids[len(prompt_ids) - keep :]
        answer_ids = [a[: max_length - len(prompt_ids)] for a in answer_ids]
    return prompt_ids, answer_ids


def encode_prompt_answer(
    tokenizer: Any, prompt: Prompt, answer: Answer, max_length: int
) -> tuple[list[int], int]:
    """Token ids of prompt + answer and the prompt length (the boundary used for loss masking); cut to
    ``max_length`` as ``encode_ranking`` does."""
    prompt_ids, [answer_ids] = encode_ranking(tokenizer, prompt, [answer], max_length)
    return prompt_ids + answer_ids, len(prompt_ids)


@dataclass
class SFTExample:
    """One training row. Packed rows hold several examples; ``position_ids`` restart at each example."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


def encode_all_turns(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> SFTExample | None:
    """A conversation whose every assistant turn carries loss (see ``turns.py``); None when it cannot be split
    into turns (then the caller learns the final turn only)."""
    try:
        ids, spans = encode_turns(tokenizer, messages)
    except NotPrefixPreserving:
        warnings.warn(LAST_TURN_FALLBACK, stacklevel=3)
        return None
    labels = [IGNORE_INDEX] * len(ids)
    for start, end in spans:
        labels[start:end] = ids[start:end]
    ids, labels = truncate(ids, labels, spans[-1][0], max_length)
    return SFTExample(ids, labels, list(range(len(ids))))


def tokenize_sft(
    records: Iterable[dict[str, Any]], tokenizer: Any, max_length: int, assistant_turns: str = "auto"
) -> list[SFTExample]:
    """Records whose every assistant turn is learnt (``turns.learns_all_turns``) and that have several carry
    loss on each; every other record on its final assistant message only."""
    learns_all_turns({}, assistant_turns)  # refuses an unknown mode before any work
    examples = []
    for rec in records:
        prompt, answer = split_conversation(rec["messages"])
        several = sum(m.get("role") == "assistant" for m in rec["messages"]) > 1
        if several and learns_all_turns(rec, assistant_turns):
            example = encode_all_turns(tokenizer, rec["messages"], max_length)
            if example is not None:
                if any(label != IGNORE_INDEX for label in example.labels):
                    examples.append(example)
                continue
        ids, n_prompt = encode_prompt_answer(tokenizer, prompt, answer, max_length)
        if n_prompt >= len(ids):
            continue  # nothing left to learn after truncation
        labels = [IGNORE_INDEX] * n_prompt + ids[n_prompt:]
        examples.append(SFTExample(ids, labels, list(range(len(ids)))))
    return examples


def pack_sft(examples: list[SFTExample], max_length: int) -> list[SFTExample]:
    """Greedy first-fit packing (in data order, so it is deterministic) into rows of <= max_length."""
    rows: list[SFTExample] = []
    for ex in examples:
        for row in rows:
            if len(row.input_ids) + len(ex.input_ids) <= max_length:
                break
        else:
            row = SFTExample([], [], [])
            rows.append(row)
        row.input_ids.extend(ex.input_ids)
        row.labels.extend(ex.labels)
        row.position_ids.extend(ex.position_ids)
    return rows


def pad_right(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest sequence; returns (ids, attention_mask)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def pad_left(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad (for generation); returns (ids, attention_mask)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s) :] = 1
    return ids, mask


def collate_sft(rows: list[SFTExample], pad_id: int, packed: bool = False) -> dict[str, Any]:
    """Batch of right-padded rows. ``num_items`` = number of label tokens that carry loss.

    Packed rows get no attention mask but restarting ``position_ids``: transformers then builds a
    block-diagonal causal mask so examples sharing a row do not attend to each other.
    """
    input_ids, attention_mask = pad_right([r.input_ids for r in rows], pad_id)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    position_ids = torch.zeros_like(input_ids)
    for i, r in enumerate(rows):
        labels[i, : len(r.labels)] = torch.tensor(r.labels, dtype=torch.long)
        position_ids[i, : len(r.position_ids)] = torch.tensor(r.position_ids, dtype=torch.long)
        # padding forms its own "sequence" so it never joins the last example's attention block
        position_ids[i, len(r.position_ids) :] = torch.arange(input_ids.shape[1] - len(r.position_ids))
    return {
        "input_ids": input_ids,
        "attention_mask": None if packed else attention_mask,
        "position_ids": position_ids,
        "labels": labels,
        "num_items": int((labels[:, 1:] != IGNORE_INDEX).sum()),
        "num_tokens": int(attention_mask.sum()),
    }


# --------------------------------------------------------------------------- rankings


@dataclass
class Comparison:
    better: int
    worse: int
    margin: float = 0.0
    gap: float | None = None
    """Rank (tier) gap, used to break down validation accuracy; ``None`` when unknown."""


@dataclass
class RankedPrompt:
    """One reward-model batch element: a prompt, its distinct answers and the comparisons among them."""

    prompt: Prompt
    answers: list[Answer] = field(default_factory=list)
    pairs: list[Comparison] = field(default_factory=list)
    prompt_id: Any = None


def _kwise_to_ranked(rec: dict[str, Any]) -> RankedPrompt:
    cands = rec["candidates"]
    tiers = [int(c["tier"]) for c in cands]
    pairs = [
        Comparison(i, j, float(tiers[j] - tiers[i]), float(tiers[j] - tiers[i]))
        for i in range(len(cands))
        for j in range(len(cands))
        if tiers[i] < tiers[j]
    ]
    return RankedPrompt(rec["prompt"], [c["text"] for c in cands], pairs, rec.get("prompt_id"))


def _answer_key(rec: dict[str, Any], side: str) -> str:
    if rec.get(f"{side}_id") is not None:
        return "id:" + json.dumps(rec[f"{side}_id"], sort_keys=True)
    return "text:" + json.dumps(rec[side], sort_keys=True)


def records_to_ranked_prompts(records: Iterable[dict[str, Any]]) -> list[RankedPrompt]:
    """K-wise records map to one element each. Pairwise records sharing a ``prompt_id`` are merged into
    one element (answers deduplicated by ``chosen_id``/``rejected_id``, else by text); pairwise records
    without ``prompt_id`` are one element per pair. Elements without any strict preference are dropped."""
    elements: list[RankedPrompt] = []
    groups: dict[str, tuple[RankedPrompt, dict[str, int]]] = {}
    for rec in records:
        if "candidates" in rec:
            elements.append(_kwise_to_ranked(rec))
            continue
        if "chosen" not in rec or "rejected" not in rec:
            raise ValueError(f"not a pairwise or K-wise record (keys: {sorted(rec)})")
        pid = rec.get("prompt_id")
        if pid is None:
            elem, index = RankedPrompt(rec["prompt"]), {}
            elements.append(elem)
        else:
            gkey = json.dumps(pid, sort_keys=True)
            if gkey not in groups:
                groups[gkey] = (RankedPrompt(rec["prompt"], prompt_id=pid), {})
                elements.append(groups[gkey][0])
            elem, index = groups[gkey]
        ids = []
        for side in ("chosen", "rejected"):
            key = _answer_key(rec, side)
            if key not in index:
                index[key] = len(elem.answers)
                elem.answers.append(rec[side])
            ids.append(index[key])
        margin = rec.get("margin")
        elem.pairs.append(
            Comparison(ids[0], ids[1], float(margin or 0.0), None if margin is None else float(margin))
        )
    return [e for e in elements if any(p.better != p.worse for p in e.pairs)]


# --------------------------------------------------------------------------- batching


class MicroBatchPlan:
    """Deterministic, resumable stream of micro-batches for one rank.

    Micro-batch ``g`` (counted from the start of training, across epochs) is a pure function of
    (seed, epoch, rank, world size), so resuming only needs ``g = step * grad_accum``. Each epoch is a
    fresh seeded permutation sharded like ``DistributedSampler`` (padded by wrapping so that every rank
    gets the same number of micro-batches).
    """

    def __init__(self, n_items: int, batch_size: int, world_size: int, rank: int, seed: int) -> None:
        if n_items == 0:
            raise ValueError("no training examples")
        self.n_items, self.batch_size = n_items, batch_size
        self.world_size, self.rank, self.seed = world_size, rank, seed
        self.per_rank = math.ceil(n_items / world_size)
        self.per_epoch = math.ceil(self.per_rank / batch_size)
        self._cache: tuple[int, list[int]] | None = None

    def indices(self, micro_batch: int) -> list[int]:
        epoch, k = divmod(micro_batch, self.per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            self._cache = (epoch, shard_indices(self.n_items, self.world_size, self.rank, self.seed, epoch))
        return self._cache[1][k * self.batch_size : (k + 1) * self.batch_size]

    def epoch_of(self, micro_batch: int) -> float:
        return micro_batch / self.per_epoch
