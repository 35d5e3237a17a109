"""Loading from local directories, reward-model round trip, scoring and sampling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.inference import sample, score_texts, stop_token_ids
from rewardtrain.training.modeling import (
    RewardModel,
    load_model_and_tokenizer,
    load_reward_model,
    load_tokenizer,
)

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    "Q: one two three? A:",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
]
ANSWERS = ["Paris.", " four", "hello, how can I help you today?"]


@pytest.mark.parametrize("fixture", ["tiny_dir", "tiny_llama_plain_dir"])
def test_load_model_and_tokenizer_from_local_dir(fixture: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(fixture)
    model, tok = load_model_and_tokenizer(str(path))
    assert tok.pad_token == tok.eos_token == "<|endoftext|>"  # the saved tokenizer has no pad token
    assert model.config.pad_token_id == tok.pad_token_id
    assert model.dtype == torch.float32
    saved = load_file(str(path / "model.safetensors"))
    params = dict(model.named_parameters())
    name = next(n for n in saved if n.endswith("weight") and n in params)
    assert torch.equal(saved[name], params[name].detach())
    out = model(**tok("hello world", return_tensors="pt"))
    assert out.logits.shape[-1] >= len(tok)


def test_reward_model_save_load_round_trip(tiny_dir: Path, tmp_path: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    torch.manual_seed(1)
    model = RewardModel.from_backbone(str(tiny_dir)).eval()
    before = score_texts(model, tok, PROMPTS, ANSWERS, batch_size=2)
    model.save_pretrained(tmp_path / "rm", tokenizer=tok)
    assert {"config.json", "model.safetensors", "reward_head.safetensors", "reward_model.json"} <= {
        p.name for p in (tmp_path / "rm").iterdir()
    }
    loaded, tok2 = load_reward_model(tmp_path / "rm")
    after = score_texts(loaded, tok2, PROMPTS, ANSWERS, batch_size=3)
    assert after == pytest.approx(before, abs=1e-6)
    assert len(set(before)) == 3


def test_padded_scores_equal_unpadded_scores(tiny_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    torch.manual_seed(2)
    model = RewardModel.from_backbone(str(tiny_dir)).eval()
    batched = score_texts(model, tok, PROMPTS, ANSWERS, batch_size=len(PROMPTS))
    single = [score_texts(model, tok, [p], [a])[0] for p, a in zip(PROMPTS, ANSWERS, strict=True)]
    assert batched == pytest.approx(single, abs=1e-5)


def test_sample_left_padding_and_seed(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    convs = [PROMPTS[0], PROMPTS[2]]
    greedy = sample(model, tok, convs, n=2, temperature=0, max_new_tokens=8)
    assert len(greedy) == 2 and all(len(g) == 2 and g[0] == g[1] for g in greedy)
    alone = sample(model, tok, [convs[1]], n=1, temperature=0, max_new_tokens=8)
    assert alone[0][0] == greedy[1][0]  # left padding does not change the continuation
    state = torch.get_rng_state()
    a = sample(model, tok, convs, n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=3)
    b = sample(model, tok, convs, n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=3)
    assert a == b and len(a[0]) == 3
    assert torch.equal(state, torch.get_rng_state())  # the caller's RNG is untouched


def test_stop_tokens_include_chat_end_of_turn(tiny_dir: Path, tiny_llama_plain_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    assert stop_token_ids(model, tok) == sorted({tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")})
    model, tok = load_model_and_tokenizer(str(tiny_llama_plain_dir))
    assert stop_token_ids(model, tok) == [tok.eos_token_id]
