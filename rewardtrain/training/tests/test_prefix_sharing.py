"""Prefix-shared batching is exact: rewards, log-probabilities, losses and gradients equal the one-row-per-answer
layout's within 1e-4 in fp32, for K-wise rankings with ties, pairwise data (K=2) and DPO, whatever the
packing (several prompts in one row, a prompt repeated across rows), on GPT-2 and Llama, SDPA and eager."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from rewardtrain.training.config import DPOConfig, RMConfig
from rewardtrain.training.data import records_to_ranked_prompts
from rewardtrain.training.dpo import DPOTask, precompute_reference, train_dpo
from rewardtrain.training.modeling import RewardModel, load_model_and_tokenizer, load_tokenizer
from rewardtrain.training.ranked_batch import (
    EncodedRanking,
    attention_implementation,
    attention_inputs,
    choose_shared_attention,
    collate_ranked,
    tokenize_rankings,
)
from rewardtrain.training.rm import ranking_forward, train_rm
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

from .helpers import CORPUS, FILLER, FRUITS, planted_kwise_records, planted_pairwise_records, write_jsonl

TOL = 1e-4


def long_prompt_rankings(n: int, k: int, seed: int) -> list[dict[str, Any]]:
    """K-wise records with multi-turn prompts of varied length, answers of varied length, and ties."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        turns = []
        for t in range(rng.randint(1, 3)):
            turns.append({"role": "user", "content": " ".join(rng.choices(FILLER, k=rng.randint(3, 25)))})
            if t < 2:
                turns.append(
                    {"role": "assistant", "content": " ".join(rng.choices(FRUITS, k=rng.randint(1, 6)))}
                )
        if turns[-1]["role"] == "assistant":
            turns.pop()
        tiers = sorted(rng.choices(range(k), k=k))
        if len(set(tiers)) == 1:
            tiers[-1] += 1
        cands = [
            {
                "id": f"{i}-{j}",
                "text": " ".join(rng.choices(FILLER + FRUITS, k=rng.randint(1, 12))),
                "tier": tier,
            }
            for j, tier in enumerate(tiers)
        ]
        records.append({"prompt": turns, "prompt_id": i, "candidates": cands})
    return records


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def arch_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"tiny_{request.param}")
    build_tiny_model_and_tokenizer(out, arch=request.param, hidden=32, layers=2, corpus=CORPUS, seed=3)
    return out


def _items(model_dir: Path, records: list[dict[str, Any]], max_length: int = 256) -> list[EncodedRanking]:
    tokenizer = load_tokenizer(str(model_dir))
    return tokenize_rankings(records_to_ranked_prompts(records), tokenizer, max_length)


def _reward_model(model_dir: Path, attn: str) -> RewardModel:
    torch.manual_seed(0)
    model = RewardModel.from_backbone(str(model_dir))
    model.backbone.config._attn_implementation = attn
    model.train(False)
    return model


def _rm_outputs(
    model: RewardModel, batch: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    losses, rewards, _ = ranking_forward(model, batch, RMConfig(data="", model="", out="", center_coef=0.01))
    losses.sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return losses.detach(), rewards.detach(), grads


def _assert_grads_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=TOL, rtol=TOL, msg=name)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("row_tokens", [2048, 40])  # one row for all / prompts repeated across rows
def test_rm_rewards_losses_and_gradients_equal_the_unshared_layout(
    arch_dir: Path, attn: str, row_tokens: int
) -> None:
    items = _items(arch_dir, long_prompt_rankings(6, k=5, seed=1))
    model = _reward_model(arch_dir, attn)
    pad = load_tokenizer(str(arch_dir)).pad_token_id
    shared = collate_ranked(items, pad, shared=True, row_tokens=row_tokens)
    plain = collate_ranked(items, pad, shared=False)
    if row_tokens == 40:
        assert shared["input_ids"].shape[0] > len(items)  # some prompts really were split across rows
    else:
        assert shared["input_ids"].shape[0] == 1
    assert shared["num_tokens"] < plain["num_tokens"]
    s_loss, s_rewards, s_grads = _rm_outputs(model, shared)
    p_loss, p_rewards, p_grads = _rm_outputs(model, plain)
    torch.testing.assert_close(s_rewards, p_rewards, atol=TOL, rtol=TOL)
    torch.testing.assert_close(s_loss, p_loss, atol=TOL, rtol=TOL)
    _assert_grads_equal(s_grads, p_grads)


def test_pairwise_records_share_their_prompt_too(arch_dir: Path) -> None:
    items = _items(arch_dir, planted_pairwise_records(8, seed=2))
    assert all(len(item.answers) == 2 for item in items)
    model = _reward_model(arch_dir, "sdpa")
    pad = load_tokenizer(str(arch_dir)).pad_token_id
    s_loss, s_rewards, s_grads = _rm_outputs(model, collate_ranked(items, pad, shared=True, row_tokens=100))
    p_loss, p_rewards, p_grads = _rm_outputs(model, collate_ranked(items, pad, shared=False))
    torch.testing.assert_close(s_rewards, p_rewards, atol=TOL, rtol=TOL)
    torch.testing.assert_close(s_loss, p_loss, atol=TOL, rtol=TOL)
    _assert_grads_equal(s_grads, p_grads)


def test_truncation_gives_every_answer_the_same_context(tiny_dir: Path) -> None:
    records = long_prompt_rankings(4, k=3, seed=5)
    items = _items(tiny_dir, records, max_length=24)
    for item in items:
        assert all(len(item.prompt) + len(a) <= 24 for a in item.answers)
        assert len(item.prompt) >= 12 or max(len(a) for a in item.answers) + len(item.prompt) <= 24


def test_the_layout_puts_each_answer_after_its_prompt() -> None:
    from rewardtrain.training.data import Comparison

    a = EncodedRanking([1, 2, 3], [[4, 5], [6]], [Comparison(0, 1)])
    b = EncodedRanking([7], [[8], [9, 10, 11]], [Comparison(1, 0)])
    batch = collate_ranked([a, b], pad_id=0, shared=True, row_tokens=9, token_targets=True)
    # row 0: a's prompt and both answers (6 tokens), then b does not fit (5 more): row 1
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 3], [0, 1, 1, 2, 3, 5]]
    assert batch["span_ids"].tolist() == [[0, 0, 0, 1, 1, 2], [0, 1, 2, 2, 2, 0]]
    assert batch["answer_last"].tolist() == [[0, 4], [0, 5], [1, 1], [1, 4]]
    # each answer's first token is predicted by its prompt's last token, not by the answer before it
    assert list(zip(batch["target_col"].tolist(), batch["target_token"].tolist(), strict=True)) == [
        (2, 4),
        (3, 5),
        (2, 6),
        (0, 8),
        (0, 9),
        (2, 10),
        (3, 11),
    ]
    assert batch["better"].tolist() == [0, 3] and batch["worse"].tolist() == [1, 2]
    mask = attention_inputs(batch, _Sdpa())["attention_mask"][1, 0]
    # b's second answer (cols 2-4) sees b's prompt (col 0) and itself, not b's first answer (col 1)
    assert mask[4].tolist() == [True, False, True, True, True, False]
    assert mask[5].tolist() == [False, False, False, False, False, True]  # padding sees itself only


class _Sdpa(torch.nn.Module):
    class config:  # stands in for a transformers config
        _attn_implementation = "sdpa"


def _dpo_outputs(
    model: torch.nn.Module, task: DPOTask, batch: dict[str, Any]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    out = task.forward_loss(model, batch)
    out.loss_sum.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.loss_sum.detach(), grads


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_dpo_log_probabilities_losses_and_gradients_equal_the_unshared_layout(
    arch_dir: Path, attn: str
) -> None:
    model, tokenizer = load_model_and_tokenizer(str(arch_dir))
    model.config._attn_implementation = attn
    model.train(False)
    items = tokenize_rankings(records_to_ranked_prompts(long_prompt_rankings(5, k=4, seed=7)), tokenizer, 256)
    tasks = {
        shared: DPOTask(
            tokenizer, DPOConfig(data="", model="", out="", beta=0.3, prefix_sharing=shared, row_tokens=60)
        )
        for shared in (True, False)
    }
    # reference log-probabilities (from a different model: a perturbed copy) through both layouts
    reference, _ = load_model_and_tokenizer(str(arch_dir))
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.01 * torch.randn_like(p))
    ref = {}
    for shared, task in tasks.items():
        copies = [EncodedRanking(i.prompt, i.answers, i.pairs) for i in items]
        precompute_reference(
            reference, copies, task, torch.device("cpu"), torch.autocast("cpu", enabled=False)
        )
        ref[shared] = torch.tensor([lp for i in copies for lp in i.ref_logps])
    torch.testing.assert_close(ref[True], ref[False], atol=TOL, rtol=TOL)
    for item, lp in zip(items, ref[False].split([len(i.answers) for i in items]), strict=True):
        item.ref_logps = lp.tolist()
    s_loss, s_grads = _dpo_outputs(model, tasks[True], tasks[True].collate(items))
    p_loss, p_grads = _dpo_outputs(model, tasks[False], tasks[False].collate(items))
    torch.testing.assert_close(s_loss, p_loss, atol=TOL, rtol=TOL)
    _assert_grads_equal(s_grads, p_grads)


@pytest.mark.parametrize(
    ("kind", "validation", "keys"),
    [
        ("rm", planted_kwise_records(8, seed=2, k=4), ("val_loss", "val_accuracy", "val_reward_gap")),
        ("dpo", planted_pairwise_records(6, seed=2), ("val_loss", "val_accuracy", "val_reward_margin")),
    ],
)
def test_runs_with_and_without_sharing_end_equal(
    tiny_dir: Path, tmp_path: Path, kind: str, validation: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", planted_kwise_records(16, seed=1, k=4))
    write_jsonl(data / "validation.jsonl", validation)
    config_cls, train = (RMConfig, train_rm) if kind == "rm" else (DPOConfig, train_dpo)
    metrics = {}
    for shared in (True, False):
        out = str(tmp_path / f"out{shared}")
        common = {"data": str(data), "model": str(tiny_dir), "out": out, "max_steps": 5, "batch_size": 4}
        config = config_cls(**common, lr=1e-3, warmup_steps=0, prefix_sharing=shared)
        metrics[shared] = train(config).metrics
    for key in (*keys, "train_loss"):
        assert metrics[True][key] == pytest.approx(metrics[False][key], abs=1e-3), key


def test_the_flex_attention_block_mask_gives_the_same_rewards(tmp_path: Path) -> None:
    """The CUDA path's block-sparse mask follows the same rule (forward only: FlexAttention has no CPU
    backward; it is compiled, which takes some 20 s)."""
    build_tiny_model_and_tokenizer(tmp_path, arch="llama", hidden=32, layers=2, corpus=CORPUS, seed=3)
    items = _items(tmp_path, long_prompt_rankings(3, k=4, seed=4))
    batch = collate_ranked(items, load_tokenizer(str(tmp_path)).pad_token_id, row_tokens=200)
    rewards = {}
    cpu = torch.device("cpu")
    for flex in (False, True):
        model = _reward_model(tmp_path, "sdpa")
        config = RMConfig(data="", model="", out="", shared_attention="flex" if flex else "auto")
        assert choose_shared_attention(model, config, cpu) == ("flex_attention" if flex else "sdpa")
        with torch.no_grad():
            _, rewards[flex], _ = ranking_forward(model, batch, RMConfig(data="", model="", out=""))
    assert attention_implementation(model) == "flex_attention"
    torch.testing.assert_close(rewards[True], rewards[False], atol=TOL, rtol=TOL)


@pytest.mark.parametrize(("field", "value"), [("row_tokens", -1), ("shared_attention", "flash")])
def test_bad_sharing_settings_are_refused_by_name(tmp_path: Path, field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        train_rm(RMConfig(data=str(tmp_path), model=str(tmp_path), out=str(tmp_path / "o"), **{field: value}))
