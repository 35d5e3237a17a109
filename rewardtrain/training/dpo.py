"""Direct preference optimisation (Rafailov et al., 2023): train the policy on preference pairs directly.

For a pair (chosen c, rejected r) of answers to one prompt, with sequence log-probabilities of the answer
tokens only (the prompt is masked) under the policy (pi) and the frozen reference (ref):

    z    = beta * ((pi_c - ref_c) - (pi_r - ref_r))
    loss = -(1 - eps) * log sigmoid(z) - eps * log sigmoid(-z)      (eps = label smoothing, cDPO)

``beta * (pi - ref)`` is the implicit reward of an answer; we report its mean for chosen and rejected
answers, their margin and how often the chosen one wins (accuracy). The reference never changes, so its
log-probabilities are computed once before training and the reference model is then freed: the policy is
the only model in memory while it trains, and a resumed run sees the same reference values.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import DPOConfig
from .data import (
    IGNORE_INDEX,
    encode_prompt_answer,
    pad_right,
    read_jsonl,
    records_to_ranked_prompts,
    resolve_data_files,
)
from .distributed import DistEnv
from .lora import add_lora, check_lora_config, lora_enabled, save_causal_lm
from .modeling import load_model_and_tokenizer
from .progress import ProgressCallback
from .trainer import LossOutput, TrainResult, autocast_context, run_training, training_session


@dataclass
class DPOPair:
    """Token ids of prompt + answer for both sides, where each answer starts, and the reference's
    sequence log-probabilities (filled by ``precompute_reference``)."""

    chosen: list[int]
    chosen_start: int
    rejected: list[int]
    rejected_start: int
    ref_chosen: float = 0.0
    ref_rejected: float = 0.0


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair losses and the implicit rewards ``beta * (policy - reference)`` of both answers (detached)."""
    z = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    losses = -(1.0 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)
    chosen_rewards = (beta * (policy_chosen - ref_chosen)).detach()
    rejected_rewards = (beta * (policy_rejected - ref_rejected)).detach()
    return losses, chosen_rewards, rejected_rewards


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over each row of log p(token | prefix) for the tokens labelled (answer tokens); one per row."""
    nll = F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        labels[:, 1:].flatten(),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    )
    return -nll.view(labels.shape[0], -1).sum(-1)


def tokenize_pairs(records: list[dict[str, Any]], tokenizer: Any, max_length: int) -> list[DPOPair]:
    """Every (better, worse) comparison of pairwise or K-wise records becomes one pair (ties give none).

    A pair whose answer is cut away entirely by ``max_length`` is dropped: it carries nothing to learn.
    """
    pairs = []
    for elem in records_to_ranked_prompts(records):
        encoded = [encode_prompt_answer(tokenizer, elem.prompt, a, max_length) for a in elem.answers]
        for p in elem.pairs:
            (c_ids, c_start), (r_ids, r_start) = encoded[p.better], encoded[p.worse]
            if p.better != p.worse and c_start < len(c_ids) and r_start < len(r_ids):
                pairs.append(DPOPair(c_ids, c_start, r_ids, r_start))
    return pairs


def collate_pairs(pairs: list[DPOPair], pad_id: int) -> dict[str, Any]:
    """Chosen rows first, then rejected rows, in one right-padded batch; labels mask prompt and padding."""
    seqs = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    starts = [p.chosen_start for p in pairs] + [p.rejected_start for p in pairs]
    input_ids, attention_mask = pad_right(seqs, pad_id)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    for i, (seq, start) in enumerate(zip(seqs, starts, strict=True)):
        labels[i, start : len(seq)] = input_ids[i, start : len(seq)]
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "ref_chosen": torch.tensor([p.ref_chosen for p in pairs], dtype=torch.float32),
        "ref_rejected": torch.tensor([p.ref_rejected for p in pairs], dtype=torch.float32),
        "num_items": len(pairs),
        "num_tokens": int(attention_mask.sum()),
    }


def batch_logps(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) sequence log-probabilities of a collated batch under ``model``."""
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).logits
    logps = sequence_logps(logits, batch["labels"])
    n = batch["num_items"]
    return logps[:n], logps[n:]


@torch.no_grad()
def precompute_reference(
    reference: nn.Module,
    pairs: list[DPOPair],
    pad_id: int,
    batch_size: int,
    device: torch.device,
    autocast: Any,
) -> None:
    """Fill each pair's reference log-probabilities (in place)."""
    reference.to(device)
    reference.eval()
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        batch = collate_pairs(chunk, pad_id)
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        with autocast:
            chosen, rejected = batch_logps(reference, batch)
        for pair, c, r in zip(chunk, chosen.tolist(), rejected.tolist(), strict=True):
            pair.ref_chosen, pair.ref_rejected = c, r


class DPOTask:
    def __init__(self, tokenizer: Any, config: DPOConfig) -> None:
        self.tokenizer, self.config = tokenizer, config

    def collate(self, items: list[DPOPair]) -> dict[str, Any]:
        return collate_pairs(items, self.tokenizer.pad_token_id)

    def _losses(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        chosen, rejected = batch_logps(model, batch)
        losses, chosen_r, rejected_r = dpo_loss(
            chosen,
            rejected,
            batch["ref_chosen"],
            batch["ref_rejected"],
            self.config.beta,
            self.config.label_smoothing,
        )
        stats = {
            "pairs": float(losses.numel()),
            "correct": float((chosen_r > rejected_r).sum()),
            "chosen_reward": float(chosen_r.sum()),
            "rejected_reward": float(rejected_r.sum()),
            "logp_margin": float((chosen - rejected).detach().sum()),
        }
        return losses, stats

    def forward_loss(self, model: nn.Module, batch: dict[str, Any]) -> LossOutput:
        losses, stats = self._losses(model, batch)
        return LossOutput(losses.sum(), stats)

    @staticmethod
    def _summary(totals: dict[str, float], prefix: str = "") -> dict[str, float]:
        n = max(1.0, totals["pairs"])
        chosen, rejected = totals["chosen_reward"] / n, totals["rejected_reward"] / n
        return {
            f"{prefix}accuracy": totals["correct"] / n,
            f"{prefix}chosen_reward": chosen,
            f"{prefix}rejected_reward": rejected,
            f"{prefix}reward_margin": chosen - rejected,
            f"{prefix}logp_margin": totals["logp_margin"] / n,
        }

    def step_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        return {**self._summary(totals), "pairs_per_step": totals["pairs"]}

    def evaluate(self, model: nn.Module, items: list[DPOPair], env: DistEnv) -> dict[str, float]:
        sums = {"loss": 0.0, "pairs": 0.0, "correct": 0.0, "chosen_reward": 0.0, "rejected_reward": 0.0}
        sums["logp_margin"] = 0.0
        mine = items[env.rank :: env.world_size]
        for i in range(0, len(mine), self.config.batch_size):
            batch = self.collate(mine[i : i + self.config.batch_size])
            batch = {k: v.to(env.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            losses, stats = self._losses(model, batch)
            sums["loss"] += float(losses.sum())
            for key, value in stats.items():
                sums[key] += value
        sums = env.all_reduce_sum(sums)
        return {
            "val_loss": sums["loss"] / max(1.0, sums["pairs"]),
            **self._summary(sums, "val_"),
            "val_pairs": sums["pairs"],
        }

    def save_final(self, model: nn.Module, out_dir: Path) -> None:
        save_causal_lm(model, self.tokenizer, out_dir, merge=self.config.lora_merge)


def load_dpo_items(path: Path | None, tokenizer: Any, config: DPOConfig) -> list[DPOPair]:
    return tokenize_pairs(read_jsonl(path), tokenizer, config.max_length) if path else []


def train_dpo(
    config: DPOConfig,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train the policy ``config.model`` with DPO on the preferences in ``config.data``; saved to ``config.out``.

    One item is one preference pair, so an optimizer step sees ``batch_size * grad_accum * world_size``
    pairs and the loss is the mean over them. Resume and cancellation work as in ``train_sft``.
    """
    if config.beta <= 0:
        raise ValueError(f"beta must be > 0, got {config.beta}")
    if not 0.0 <= config.label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {config.label_smoothing}")
    check_lora_config(config)
    with training_session(config) as env:
        policy, tokenizer = load_model_and_tokenizer(config.model, gguf_file=config.gguf_file)
        if lora_enabled(config):
            policy = add_lora(policy, config, causal_lm=True)
        train_path, eval_path = resolve_data_files(config.data, config.eval_data)
        train_items = load_dpo_items(train_path, tokenizer, config)
        eval_items = load_dpo_items(eval_path, tokenizer, config)
        reference_mode: Any = nullcontext()
        if config.ref_model:
            reference, _ = load_model_and_tokenizer(config.ref_model)
        elif lora_enabled(config):
            # The frozen base is the policy with its adapters switched off: no second copy in memory.
            reference, reference_mode = policy, policy.disable_adapter()
        else:
            # The policy before any step (a resumed run loads its checkpoint later, in run_training).
            reference = copy.deepcopy(policy)
        autocast = autocast_context(config, env.device)
        with reference_mode:
            for items in (train_items, eval_items):
                precompute_reference(
                    reference, items, tokenizer.pad_token_id, config.batch_size, env.device, autocast
                )
        del reference
        gc.collect()
        if env.device.type == "cuda":
            torch.cuda.empty_cache()
        task = DPOTask(tokenizer, config)
        return run_training(config, env, policy, task, train_items, eval_items, progress, should_stop)
