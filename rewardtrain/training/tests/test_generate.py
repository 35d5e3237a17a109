"""K distinct answers per prompt (dedupe + resample) and best-of-N with a reward model, on tiny models."""

from pathlib import Path

import pytest
import torch

from rewardtrain.training.generate import (
    SamplingSettings,
    best_of_n,
    collect_distinct,
    rank_by_reward,
    sample_distinct,
)
from rewardtrain.training.inference import score_texts
from rewardtrain.training.modeling import RewardModel, load_model_and_tokenizer, load_tokenizer

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "count one two three"}],
    [{"role": "user", "content": "hello there"}],
]


def test_collect_distinct_drops_empty_and_duplicates_and_asks_again_for_them() -> None:
    scripted = {
        0: [["a", " a\x00", "\x00 ", "b"], ["c"]],  # a, a (dup), empty, b; round 1 one more
        1: [["x", "y", "z"]],
    }
    calls = []

    def backend(indices, counts, round_no):
        calls.append((list(indices), list(counts), round_no))
        if round_no == 0:
            return [scripted[0][0], scripted[1][0]]
        return [scripted[0][1]]

    out = collect_distinct(backend, n_prompts=2, k=3)
    assert [d.answers for d in out] == [["a", "b", "c"], ["x", "y", "z"]]
    assert calls == [([0, 1], [3, 3], 0), ([0], [1], 1)]
    assert (out[0].drawn, out[0].dropped_empty, out[0].dropped_duplicate) == (5, 1, 1)


def test_collect_distinct_gives_up_after_max_rounds() -> None:
    out = collect_distinct(
        lambda idx, counts, r: [["same"] * n for n in counts], n_prompts=1, k=2, max_rounds=3
    )
    assert out[0].answers == ["same"] and (out[0].drawn, out[0].dropped_duplicate) == (4, 3)


def test_sample_distinct_gives_k_distinct_non_empty_answers(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    settings = SamplingSettings(temperature=1.0, top_p=0.95, max_new_tokens=6, seed=7)
    out = sample_distinct(model, tok, PROMPTS, k=4, settings=settings, batch_size=2)
    assert len(out) == 3
    for row in out:
        assert len(row.answers) == 4 and len(set(row.answers)) == 4
        assert all(a and a == a.strip() for a in row.answers)
    again = sample_distinct(model, tok, PROMPTS, k=4, settings=settings, batch_size=2)
    assert [r.answers for r in again] == [r.answers for r in out]  # seeded


def test_sample_distinct_refuses_greedy_with_several_answers(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    with pytest.raises(ValueError, match="greedy"):
        sample_distinct(model, tok, PROMPTS, k=2, settings=SamplingSettings(temperature=0))


def test_best_of_n_returns_the_answer_with_the_highest_reward(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    torch.manual_seed(3)
    rm = RewardModel.from_backbone(str(tiny_dir)).eval()
    rm_tok = load_tokenizer(str(tiny_dir))
    settings = SamplingSettings(temperature=1.0, max_new_tokens=6, seed=11)
    best = best_of_n(model, tok, rm, rm_tok, PROMPTS, n=5, settings=settings, keep=2)
    drawn = sample_distinct(model, tok, PROMPTS, k=5, settings=settings)
    for prompt, row, pool in zip(PROMPTS, best, drawn, strict=True):
        rewards = score_texts(rm, rm_tok, [prompt] * len(pool.answers), pool.answers)
        top = max(range(len(rewards)), key=rewards.__getitem__)
        assert len(row) == 2
        assert row[0].text == pool.answers[top]
        assert row[0].reward == pytest.approx(rewards[top], abs=1e-5)
        assert row[0].reward >= row[1].reward
    ranked = rank_by_reward(rm, rm_tok, PROMPTS[:1], [["b", "a"]])
    assert sorted(s.text for s in ranked[0]) == ["a", "b"]
