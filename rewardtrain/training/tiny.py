"""Tiny randomly initialised models with a locally trained tokenizer, for tests and offline demos.

Nothing is downloaded: a byte-level BPE is trained on a few sentences and the model is built from a config.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    LlamaConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

EOS = "<|endoftext|>"
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

DEFAULT_CORPUS = [
    "What is the capital of France? The capital of France is Paris.",
    "Please answer the question. The answer is yes, and no, maybe.",
    "The quick brown fox jumps over the lazy dog.",
    "User: hello there. Assistant: hello, how can I help you today?",
    "System: you are a helpful assistant. Be kind, honest and brief.",
    "one two three four five six seven eight nine ten apple banana cherry",
    "### System:\n### User:\n### Assistant:\n",
]


def build_tiny_tokenizer(
    corpus: Iterable[str] | None = None, vocab_size: int = 400, chat_template: bool = True
) -> PreTrainedTokenizerFast:
    """Byte-level BPE (any text encodes, no unknown tokens) with EOS and ChatML special tokens.

    No pad token is set on purpose: loading code must fall back to EOS.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus or DEFAULT_CORPUS), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS)
    if chat_template:
        fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model_and_tokenizer(
    out_dir: str | Path,
    *,
    arch: str = "gpt2",
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    max_positions: int = 512,
    chat_template: bool = True,
    corpus: Iterable[str] | None = None,
    dropout: float = 0.0,
    seed: int = 0,
) -> tuple[PreTrainedModel, Any]:
    """Build a tiny causal LM (``gpt2`` or ``llama``) + tokenizer and ``save_pretrained`` both."""
    tokenizer = build_tiny_tokenizer(corpus, chat_template=chat_template)
    eos_id = tokenizer.eos_token_id
    common = {"vocab_size": len(tokenizer), "bos_token_id": eos_id, "eos_token_id": eos_id}
    if arch == "gpt2":
        config: Any = GPT2Config(
            n_embd=hidden,
            n_layer=layers,
            n_head=heads,
            n_positions=max_positions,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            **common,
        )
    elif arch == "llama":
        config = LlamaConfig(
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=max_positions,
            tie_word_embeddings=False,
            attention_dropout=dropout,
            **common,
        )
    else:
        raise ValueError(f"unknown tiny arch {arch!r}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return model, tokenizer
