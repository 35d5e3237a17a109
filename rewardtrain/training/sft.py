"""Supervised fine-tuning: next-token loss on the final assistant message (on every assistant message of a
written dialogue, see ``turns.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import SFTConfig
from .data import (
    IGNORE_INDEX,
    SFTExample,
    collate_sft,
    pack_sft,
    read_jsonl,
    resolve_data_files,
    tokenize_sft,
)
from .distributed import DistEnv
from .lora import add_lora, check_lora_config, lora_enabled, save_causal_lm
from .modeling import load_model_and_tokenizer
from .progress import ProgressCallback
from .trainer import LossOutput, TrainResult, run_training, training_session


def sft_loss_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed next-token cross-entropy; positions labelled ``IGNORE_INDEX`` (prompt, padding) add nothing."""
    return F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        labels[:, 1:].flatten(),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )


def sft_loss_sum(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, int]:
    """Summed loss over the batch's answer tokens, and how many tokens that is."""
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
    ).logits
    labels = batch["labels"]
    return sft_loss_from_logits(logits, labels), int((labels[:, 1:] != IGNORE_INDEX).sum())


class SFTTask:
    def __init__(self, tokenizer: Any, config: SFTConfig) -> None:
        self.tokenizer, self.config = tokenizer, config

    def collate(self, items: list[SFTExample]) -> dict[str, Any]:
        return collate_sft(items, self.tokenizer.pad_token_id, packed=self.config.packing)

    def forward_loss(self, model: nn.Module, batch: dict[str, Any]) -> LossOutput:
        loss, _ = sft_loss_sum(model, batch)
        return LossOutput(loss)

    def step_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        return {}

    def evaluate(self, model: nn.Module, items: list[SFTExample], env: DistEnv) -> dict[str, float]:
        total, count = 0.0, 0
        mine = items[env.rank :: env.world_size]
        for i in range(0, len(mine), self.config.batch_size):
            batch = collate_sft(mine[i : i + self.config.batch_size], self.tokenizer.pad_token_id)
            batch = {k: v.to(env.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            loss, n = sft_loss_sum(model, batch)
            total, count = total + float(loss), count + n
        sums = env.all_reduce_sum({"loss": total, "n": count})
        val_loss = sums["loss"] / max(1.0, sums["n"])
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0))}

    def save_final(self, model: nn.Module, out_dir: Path) -> None:
        save_causal_lm(model, self.tokenizer, out_dir, merge=self.config.lora_merge)


def load_sft_items(path: Path | None, tokenizer: Any, config: SFTConfig) -> list[SFTExample]:
    if path is None:
        return []
    examples = tokenize_sft(read_jsonl(path), tokenizer, config.max_length, config.assistant_turns)
    return pack_sft(examples, config.max_length) if config.packing else examples


def train_sft(
    config: SFTConfig,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune ``config.model`` on the conversations in ``config.data``; the model is saved to ``config.out``.

    Resumes automatically from ``out/checkpoints`` (see ``config.resume``). ``should_stop`` is polled before
    every optimizer step; when it returns True a checkpoint is written and the result has ``stopped_early``.
    """
    check_lora_config(config)
    with training_session(config) as env:
        model, tokenizer = load_model_and_tokenizer(config.model, gguf_file=config.gguf_file)
        if lora_enabled(config):
            model = add_lora(model, config, causal_lm=True)
        train_path, eval_path = resolve_data_files(config.data, config.eval_data)
        train_items = load_sft_items(train_path, tokenizer, config)
        # Evaluation is never packed, so the validation loss is per-conversation clean.
        eval_items = (
            tokenize_sft(read_jsonl(eval_path), tokenizer, config.max_length, config.assistant_turns)
            if eval_path
            else []
        )
        task = SFTTask(tokenizer, config)
        return run_training(config, env, model, task, train_items, eval_items, progress, should_stop)
