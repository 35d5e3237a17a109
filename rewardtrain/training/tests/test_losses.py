"""The K-wise loss is exactly the mean of the per-pair losses, in value and in gradients."""

from __future__ import annotations

from pathlib import Path

import torch

from rewardtrain.training.config import RMConfig
from rewardtrain.training.data import records_to_ranked_prompts
from rewardtrain.training.losses import kwise_loss, pairwise_loss
from rewardtrain.training.modeling import RewardModel, load_tokenizer
from rewardtrain.training.ranked_batch import EncodedRanking, collate_ranked, tokenize_rankings
from rewardtrain.training.rm import ranking_forward

RECORD = {
    "prompt": [{"role": "user", "content": "Which fruit is best?"}],
    "prompt_id": 1,
    "candidates": [
        {"id": "a", "text": "apple is the best", "tier": 0},
        {"id": "b", "text": "banana", "tier": 1},
        {"id": "c", "text": "cherry, or maybe a grape", "tier": 1},  # tie with b: no (b, c) pair
        {"id": "d", "text": "no", "tier": 2},
    ],
}


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _check(tiny_dir: Path, margin_scale: float, center_coef: float) -> None:
    tok = load_tokenizer(str(tiny_dir))
    torch.manual_seed(0)
    model = RewardModel.from_backbone(str(tiny_dir))
    [elem] = records_to_ranked_prompts([RECORD])
    [enc] = tokenize_rankings([elem], tok, max_length=128)
    assert len(enc.pairs) == 5  # C(4,2)=6 minus the tie

    # K-wise: ONE forward pass over the 4 answers, sharing one copy of the prompt
    batch = collate_ranked([enc], tok.pad_token_id)
    cfg = RMConfig(data="-", model="-", out="-", margin_scale=margin_scale, center_coef=center_coef)
    model.zero_grad()
    losses, _, _ = ranking_forward(model, batch, cfg)
    kwise = losses.sum()
    kwise.backward()
    kwise_grads = _grads(model)

    # Reference: each pair separately, 2 answers per forward pass, then the mean over pairs
    model.zero_grad()
    total = torch.zeros(())
    for p in enc.pairs:
        alone = EncodedRanking(enc.prompt, [enc.answers[p.better], enc.answers[p.worse]], [])
        pair = collate_ranked([alone], tok.pad_token_id, shared=False)
        r = model(pair["input_ids"], pair["attention_mask"])
        loss = pairwise_loss(r[:1], r[1:], torch.tensor([p.margin]), margin_scale).sum()
        total = total + loss / len(enc.pairs)
    if center_coef:  # the centring term is per prompt: mean r^2 over its K answers, added once
        rows = collate_ranked([enc], tok.pad_token_id, shared=False)
        all_r = model(rows["input_ids"], rows["attention_mask"])
        total = total + center_coef * all_r.pow(2).mean()
    total.backward()
    ref_grads = _grads(model)

    assert torch.allclose(kwise, total, atol=1e-5), (kwise.item(), total.item())
    assert kwise_grads.keys() == ref_grads.keys() and kwise_grads
    for name, g in kwise_grads.items():
        assert torch.allclose(g, ref_grads[name], atol=1e-5, rtol=1e-4), name


def test_kwise_loss_equals_mean_of_pairwise_losses(tiny_dir: Path) -> None:
    _check(tiny_dir, margin_scale=0.0, center_coef=0.0)


def test_kwise_loss_with_margin_and_centring(tiny_dir: Path) -> None:
    _check(tiny_dir, margin_scale=0.5, center_coef=0.1)


def test_kwise_loss_weights_prompts_equally() -> None:
    # prompt 0 has 1 pair, prompt 1 has 3 pairs: batch loss = mean of the two per-prompt means
    rewards = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.5, -1.0], requires_grad=True)
    better = torch.tensor([0, 2, 2, 3])
    worse = torch.tensor([1, 3, 5, 4])
    losses = kwise_loss(
        rewards, better, worse, torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1, 1, 1]), num_elements=2
    )
    per_pair = -torch.nn.functional.logsigmoid(rewards[better] - rewards[worse])
    assert torch.allclose(losses, torch.stack([per_pair[0], per_pair[1:].mean()]))
