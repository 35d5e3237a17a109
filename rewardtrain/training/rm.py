"""Reward-model training with K-wise batching (all answers of a prompt in one forward pass)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import RMConfig, check_ranges
from .data import read_jsonl, records_to_ranked_prompts, resolve_data_files
from .distributed import DistEnv
from .lora import add_lora_to_reward_model, check_lora_config, lora_enabled, save_reward_model
from .losses import kwise_loss
from .modeling import (
    RewardModel,
    freeze_lower_layers,
    grow_embeddings,
    is_reward_model_dir,
    load_reward_model,
    load_tokenizer,
)
from .progress import ProgressCallback
from .ranked_batch import (
    EncodedRanking,
    attention_inputs,
    choose_shared_attention,
    collate_ranked,
    tokenize_rankings,
)
from .trainer import LossOutput, TrainResult, run_training, training_session


def _gap_key(gap: float) -> str:
    return f"{gap:g}"


def ranking_forward(
    model: nn.Module, batch: dict[str, Any], config: RMConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (per-prompt losses, per-answer rewards, per-pair reward gaps r_better - r_worse)."""
    rewards = model(**attention_inputs(batch, model), reward_index=batch["answer_last"])
    losses = kwise_loss(
        rewards,
        batch["better"],
        batch["worse"],
        batch["pair_element"],
        batch["answer_element"],
        batch["num_items"],
        margin=batch["margin"],
        margin_scale=config.margin_scale,
        center_coef=config.center_coef,
    )
    return losses, rewards, (rewards[batch["better"]] - rewards[batch["worse"]]).detach()


class RewardTask:
    def __init__(self, tokenizer: Any, config: RMConfig) -> None:
        self.tokenizer, self.config = tokenizer, config

    def collate(self, items: list[EncodedRanking]) -> dict[str, Any]:
        return collate_ranked(
            items,
            self.tokenizer.pad_token_id,
            shared=self.config.prefix_sharing,
            row_tokens=self.config.row_budget,
        )

    def forward_loss(self, model: nn.Module, batch: dict[str, Any]) -> LossOutput:
        losses, _, gaps = ranking_forward(model, batch, self.config)
        stats = {
            "pairs": float(gaps.numel()),
            "correct": float((gaps > 0).sum()),
            "prompts": batch["num_items"],
        }
        return LossOutput(losses.sum(), stats)

    def step_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        return {
            "accuracy": totals["correct"] / max(1.0, totals["pairs"]),
            "pairs_per_step": totals["pairs"],
            "prompts_per_step": totals["prompts"],
        }

    def evaluate(self, model: nn.Module, items: list[EncodedRanking], env: DistEnv) -> dict[str, float]:
        """Pairwise accuracy overall and per rank gap, mean reward gap and loss (mean over prompts)."""
        sums: dict[str, float] = {
            "loss": 0.0,
            "prompts": 0.0,
            "pairs": 0.0,
            "correct": 0.0,
            "reward_gap": 0.0,
        }
        gaps_seen = sorted({p.gap for e in items for p in e.pairs if p.gap is not None})
        for g in gaps_seen:
            sums[f"pairs_gap_{_gap_key(g)}"] = sums[f"correct_gap_{_gap_key(g)}"] = 0.0
        mine = items[env.rank :: env.world_size]
        for i in range(0, len(mine), self.config.batch_size):
            batch = self.collate(mine[i : i + self.config.batch_size])
            batch = {k: v.to(env.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            losses, _, diff = ranking_forward(model, batch, self.config)
            correct = diff > 0
            sums["loss"] += float(losses.sum())
            sums["prompts"] += batch["num_items"]
            sums["pairs"] += diff.numel()
            sums["correct"] += float(correct.sum())
            sums["reward_gap"] += float(diff.sum())
            for g in gaps_seen:
                sel = batch["gap"] == g
                sums[f"pairs_gap_{_gap_key(g)}"] += float(sel.sum())
                sums[f"correct_gap_{_gap_key(g)}"] += float((correct & sel).sum())
        sums = env.all_reduce_sum(sums)
        out = {
            "val_loss": sums["loss"] / max(1.0, sums["prompts"]),
            "val_accuracy": sums["correct"] / max(1.0, sums["pairs"]),
            "val_reward_gap": sums["reward_gap"] / max(1.0, sums["pairs"]),
            "val_pairs": sums["pairs"],
        }
        for g in gaps_seen:
            n = sums[f"pairs_gap_{_gap_key(g)}"]
            out[f"val_accuracy_gap_{_gap_key(g)}"] = sums[f"correct_gap_{_gap_key(g)}"] / n if n else math.nan
        return out

    def save_final(self, model: nn.Module, out_dir: Path) -> None:
        assert isinstance(model, RewardModel)
        save_reward_model(model, self.tokenizer, out_dir, merge=self.config.lora_merge)


def load_rm_items(path: Path | None, tokenizer: Any, config: RMConfig) -> list[EncodedRanking]:
    if path is None:
        return []
    elements = records_to_ranked_prompts(read_jsonl(path))
    return tokenize_rankings(elements, tokenizer, config.max_length, config.max_answers)


def build_reward_model(config: RMConfig) -> tuple[RewardModel, Any]:
    """Continue an existing reward model, or put a fresh head on a causal LM / SFT checkpoint."""
    if is_reward_model_dir(config.model):
        model, tokenizer = load_reward_model(config.model)
    else:
        tokenizer = load_tokenizer(config.model, config.gguf_file)
        model = RewardModel.from_backbone(config.model, gguf_file=config.gguf_file)
        grow_embeddings(model.backbone, tokenizer)
        model.backbone.config.pad_token_id = tokenizer.pad_token_id
    if lora_enabled(config):
        add_lora_to_reward_model(model, config)  # before freezing, so lower layers' adapters freeze too
    freeze_lower_layers(model, config.freeze_layers)
    return model, tokenizer


def train_rm(
    config: RMConfig,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a reward model on pairwise and/or K-wise records; saved to ``config.out`` (see ``load_reward_model``).

    One batch element is one prompt with all its answers; ``batch_size`` prompts per micro-batch, so one
    optimizer step sees ``batch_size * grad_accum * world_size`` prompts (the number of pairs is reported
    as ``pairs_per_step``). With ``prefix_sharing`` (the default) each prompt is encoded once, followed by
    its answers (``ranked_batch.py``). Resume and cancellation work as in ``train_sft``.
    """
    check_lora_config(config)
    check_ranges(config)
    with training_session(config) as env:
        model, tokenizer = build_reward_model(config)
        choose_shared_attention(model, config, env.device)
        train_path, eval_path = resolve_data_files(config.data, config.eval_data)
        train_items = load_rm_items(train_path, tokenizer, config)
        eval_items = load_rm_items(eval_path, tokenizer, config)
        task = RewardTask(tokenizer, config)
        return run_training(config, env, model, task, train_items, eval_items, progress, should_stop)
