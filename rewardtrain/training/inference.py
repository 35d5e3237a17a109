"""Scoring answers with a reward model and sampling answers from a causal LM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .chat import Message, Prompt, render_answer
from .data import Answer, encode_prompt, encode_prompt_answer, pad_left, pad_right
from .generate import Drawn
from .modeling import RewardModel


@torch.no_grad()
def score_texts(
    reward_model: RewardModel,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    answers: Sequence[Answer],
    batch_size: int = 16,
    max_length: int = 1024,
) -> list[float]:
    """Reward of each (prompt, answer) pair, encoded exactly as during training."""
    if len(prompts) != len(answers):
        raise ValueError("prompts and answers must have the same length")
    device = next(reward_model.parameters()).device
    was_training = reward_model.training
    reward_model.eval()
    scores: list[float] = []
    try:
        for i in range(0, len(prompts), batch_size):
            seqs = [
                encode_prompt_answer(tokenizer, p, a, max_length)[0]
                for p, a in zip(prompts[i : i + batch_size], answers[i : i + batch_size], strict=True)
            ]
            ids, mask = pad_right(seqs, tokenizer.pad_token_id)
            scores.extend(reward_model(ids.to(device), mask.to(device)).tolist())
    finally:
        reward_model.train(was_training)
    return scores


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end an answer: the model's/tokenizer's EOS plus the chat template's end-of-turn
    token (e.g. ``<|im_end|>``, ``<|eot_id|>``) when that is a special token."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    stops = {ids} if isinstance(ids, int) else set(ids or [])
    if tokenizer.eos_token_id is not None:
        stops.add(tokenizer.eos_token_id)
    end_of_turn = render_answer(tokenizer, [{"role": "user", "content": "x"}], "")
    first = tokenizer(end_of_turn, add_special_tokens=False)["input_ids"][:1]
    if first and first[0] in getattr(tokenizer, "added_tokens_decoder", {}):
        stops.add(first[0])
    return sorted(stops)


def sample(
    model: Any,
    tokenizer: Any,
    messages_batch: Sequence[Prompt | list[Message]],
    n: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = 0,
) -> list[list[str]]:
    """``n`` completions per conversation, as texts (see :func:`sample_drawn`)."""
    drawn = sample_drawn(model, tokenizer, messages_batch, n, temperature, top_p, max_new_tokens, seed)
    return [[d.text for d in row] for row in drawn]


@torch.no_grad()
def sample_drawn(
    model: Any,
    tokenizer: Any,
    messages_batch: Sequence[Prompt | list[Message]],
    n: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = 0,
) -> list[list[Drawn]]:
    """``n`` completions per conversation (left-padded batch); ``temperature <= 0`` means greedy. An answer
    with no stop token within ``max_new_tokens`` is marked truncated.

    The global RNG is left untouched (sampling runs under ``fork_rng`` seeded with ``seed``).
    """
    device = next(model.parameters()).device
    encoded = [encode_prompt(tokenizer, prompt) for prompt in messages_batch]
    ids, mask = pad_left(encoded, tokenizer.pad_token_id)
    # Repeat each prompt n times (rather than num_return_sequences, which greedy decoding rejects).
    ids, mask = ids.repeat_interleave(n, dim=0), mask.repeat_interleave(n, dim=0)
    eos = stop_token_ids(model, tokenizer)
    greedy = temperature <= 0
    gen_kwargs: dict[str, Any] = {
        "do_sample": not greedy,
        "max_new_tokens": max_new_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": eos or None,
    }
    if not greedy:
        gen_kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
    was_training = model.training
    model.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **gen_kwargs)
    finally:
        model.train(was_training)
    texts: list[Drawn] = []
    for row in out[:, ids.shape[1] :].tolist():
        cut = next((i for i, t in enumerate(row) if t in eos), None)
        # No stop token: the row ran to the limit (rows are only shorter when every row stopped earlier).
        truncated = cut is None and len(row) >= max_new_tokens
        texts.append(Drawn(tokenizer.decode(row[:cut], skip_special_tokens=True), truncated))
    return [texts[i * n : (i + 1) * n] for i in range(len(messages_batch))]
