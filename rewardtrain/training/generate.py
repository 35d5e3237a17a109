"""K distinct answers per prompt, and best-of-N with a reward model.

The resample loop (:func:`collect_distinct`) is backend-agnostic: it drops empty answers and exact duplicates
and asks the backend again for what is missing, so local sampling and an OpenAI-compatible endpoint behave the
same. torch is imported only by the local sampler, so the HTTP backend can use this module without it.

A backend says of each answer whether it was cut at ``max_new_tokens`` (:class:`Drawn`): a local model that
emitted no stop token within the limit, or an endpoint whose choice ended with ``finish_reason == "length"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .chat import Prompt


@dataclass(frozen=True)
class Drawn:
    """One sampled answer, and whether it was cut at the token limit rather than ended by the model."""

    text: str
    truncated: bool = False


# backend(prompt indices, how many answers each still needs, round number) -> answers per asked prompt
# (a plain str counts as an answer that was not cut off)
Backend = Callable[[list[int], list[int], int], list[list[Drawn | str]]]

DEFAULT_MAX_ROUNDS = 6


@dataclass
class Distinct:
    """The answers of one prompt: up to ``k`` distinct non-empty texts, and how many samples it took;
    ``truncated[i]`` says whether ``answers[i]`` was cut at the token limit."""

    answers: list[str] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    drawn: int = 0
    dropped_empty: int = 0
    dropped_duplicate: int = 0


def collect_distinct(
    backend: Backend, n_prompts: int, k: int, max_rounds: int = DEFAULT_MAX_ROUNDS
) -> list[Distinct]:
    """Ask ``backend`` for answers until each prompt has ``k`` distinct non-empty ones (or rounds run out).

    Texts are compared after stripping surrounding whitespace and NUL characters (which no database text
    column holds; a byte-level tokenizer can emit them), and kept that way. A prompt still short of
    ``k`` after ``max_rounds`` keeps fewer; the caller decides what to do with it.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    out = [Distinct() for _ in range(n_prompts)]
    for round_no in range(max_rounds):
        todo = [i for i in range(n_prompts) if len(out[i].answers) < k]
        if not todo:
            break
        got = backend(todo, [k - len(out[i].answers) for i in todo], round_no)
        if len(got) != len(todo):
            raise ValueError(f"backend returned answers for {len(got)} prompts, asked for {len(todo)}")
        for i, texts in zip(todo, got, strict=True):
            row = out[i]
            for drawn in texts:
                text, cut = (drawn.text, drawn.truncated) if isinstance(drawn, Drawn) else (drawn, False)
                row.drawn += 1
                clean = text.replace("\x00", "").strip()
                if not clean:
                    row.dropped_empty += 1
                elif clean in row.answers:
                    row.dropped_duplicate += 1
                elif len(row.answers) < k:
                    row.answers.append(clean)
                    row.truncated.append(cut)
    return out


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0


def local_backend(
    model: Any, tokenizer: Any, prompts: Sequence[Prompt], settings: SamplingSettings, batch_size: int = 8
) -> Backend:
    """A backend sampling from a loaded causal LM, ``batch_size`` prompts per ``generate`` call.

    Prompts that need the same number of answers go in one batch; every round uses a fresh seed derived from
    ``settings.seed``, so a re-sample does not repeat the draw it replaces.
    """
    from .inference import sample_drawn

    def backend(indices: list[int], counts: list[int], round_no: int) -> list[list[Drawn | str]]:
        answers: dict[int, list[Drawn]] = {}
        by_count: dict[int, list[int]] = {}
        for i, n in zip(indices, counts, strict=True):
            by_count.setdefault(n, []).append(i)
        for n, group in sorted(by_count.items()):
            for start in range(0, len(group), batch_size):
                chunk = group[start : start + batch_size]
                texts = sample_drawn(
                    model,
                    tokenizer,
                    [prompts[i] for i in chunk],
                    n=n,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    max_new_tokens=settings.max_new_tokens,
                    seed=settings.seed + 1_000_003 * round_no + chunk[0],
                )
                answers.update(zip(chunk, texts, strict=True))
        return [answers[i] for i in indices]

    return backend


def sample_distinct(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    k: int,
    settings: SamplingSettings,
    batch_size: int = 8,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
) -> list[Distinct]:
    """``k`` distinct non-empty answers per prompt from a local model (batched, re-sampling what was dropped)."""
    if settings.temperature <= 0 and k > 1:
        raise ValueError("temperature 0 is greedy decoding: every sample would be the same answer")
    backend = local_backend(model, tokenizer, prompts, settings, batch_size)
    return collect_distinct(backend, len(prompts), k, max_rounds)


@dataclass
class Scored:
    text: str
    reward: float


def rank_by_reward(
    reward_model: Any,
    reward_tokenizer: Any,
    prompts: Sequence[Prompt],
    answers: Sequence[Sequence[str]],
    batch_size: int = 16,
) -> list[list[Scored]]:
    """Each prompt's answers scored by the reward model, highest reward first."""
    from .inference import score_texts

    flat_prompts = [p for p, texts in zip(prompts, answers, strict=True) for _ in texts]
    flat_answers = [t for texts in answers for t in texts]
    scores = (
        score_texts(reward_model, reward_tokenizer, flat_prompts, flat_answers, batch_size=batch_size)
        if flat_answers
        else []
    )
    out, pos = [], 0
    for texts in answers:
        row = [Scored(t, float(s)) for t, s in zip(texts, scores[pos : pos + len(texts)], strict=True)]
        pos += len(texts)
        out.append(sorted(row, key=lambda s: s.reward, reverse=True))
    return out


def best_of_n(
    model: Any,
    tokenizer: Any,
    reward_model: Any,
    reward_tokenizer: Any,
    prompts: Sequence[Prompt],
    n: int,
    settings: SamplingSettings,
    keep: int = 1,
    batch_size: int = 8,
) -> list[list[Scored]]:
    """Sample ``n`` distinct answers per prompt, score them with the reward model, keep the ``keep`` best."""
    if keep > n:
        raise ValueError(f"cannot keep {keep} answers out of best-of-{n}")
    drawn = sample_distinct(model, tokenizer, prompts, n, settings, batch_size)
    ranked = rank_by_reward(reward_model, reward_tokenizer, prompts, [d.answers for d in drawn])
    return [row[:keep] for row in ranked]
