"""Direct preference optimisation (Rafailov et al., 2023): train the policy on preference pairs directly.

For a pair (chosen c, rejected r) of answers to one prompt, with sequence log-probabilities of the answer
tokens only (the prompt is masked) under the policy (pi) and the frozen reference (ref):

    z    = beta * ((pi_c - ref_c) - (pi_r - ref_r))
    loss = -(1 - eps) * log sigmoid(z) - eps * log sigmoid(-z)      (eps = label smoothing, cDPO)

``beta * (pi - ref)`` is the implicit reward of an answer; we report its mean for chosen and rejected
answers, their margin and how often the chosen one wins (accuracy). The reference never changes, so its
log-probabilities are computed once before training and the reference model is then freed: the policy is
the only model in memory while it trains, and a resumed run sees the same reference values.

An item is a prompt with all its answers (``ranked_batch.py``): each answer's log-probability is computed once,
however many pairs it is in, and with prefix sharing (the default) the prompt is encoded once per row.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import DPOConfig, check_ranges
from .data import read_jsonl, records_to_ranked_prompts, resolve_data_files
from .distributed import DistEnv
from .lora import add_lora, check_lora_config, lora_enabled, save_causal_lm
from .modeling import load_model_and_tokenizer
from .progress import ProgressCallback
from .ranked_batch import (
    EncodedRanking,
    answer_logps,
    attention_inputs,
    choose_shared_attention,
    collate_ranked,
    tokenize_rankings,
)
from .trainer import LossOutput, TrainResult, autocast_context, run_training, training_session


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


def tokenize_preferences(
    records: list[dict[str, Any]], tokenizer: Any, max_length: int
) -> list[EncodedRanking]:
    """One item per prompt with all its answers and every (better, worse) comparison (ties give none).

    A pair whose answer is cut away entirely by ``max_length`` is dropped: it carries nothing to learn.
    """
    items = []
    for item in tokenize_rankings(records_to_ranked_prompts(records), tokenizer, max_length):
        item.pairs = [p for p in item.pairs if item.answers[p.better] and item.answers[p.worse]]
        if item.pairs:
            items.append(item)
    return items


@torch.no_grad()
def precompute_reference(
    reference: nn.Module, items: list[EncodedRanking], task: DPOTask, device: torch.device, autocast: Any
) -> None:
    """Fill each item's ``ref_logps`` (one per answer), in place, in the task's batch layout."""
    reference.to(device)
    reference.eval()
    for i in range(0, len(items), task.config.batch_size):
        chunk = items[i : i + task.config.batch_size]
        batch = _to(task.collate(chunk), device)
        with autocast:
            logps = task.answer_logps(reference, batch).tolist()
        for item in chunk:
            item.ref_logps, logps = logps[: len(item.answers)], logps[len(item.answers) :]


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


class DPOTask:
    def __init__(self, tokenizer: Any, config: DPOConfig) -> None:
        self.tokenizer, self.config = tokenizer, config

    def collate(self, items: list[EncodedRanking]) -> dict[str, Any]:
        batch = collate_ranked(
            items,
            self.tokenizer.pad_token_id,
            shared=self.config.prefix_sharing,
            row_tokens=self.config.row_budget,
            token_targets=True,
        )
        batch["num_answers"] = len(batch["answer_element"])
        batch["num_items"] = len(batch["better"])  # the loss is a mean over pairs
        return batch

    @staticmethod
    def answer_logps(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        """Each answer's sequence log-probability (answer tokens only) under ``model``."""
        logits = model(**attention_inputs(batch, model), use_cache=False).logits
        return answer_logps(logits, batch, batch["num_answers"])

    def _losses(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        logps = self.answer_logps(model, batch)
        chosen, rejected = logps[batch["better"]], logps[batch["worse"]]
        losses, chosen_r, rejected_r = dpo_loss(
            chosen,
            rejected,
            batch["ref_logps"][batch["better"]],
            batch["ref_logps"][batch["worse"]],
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

    def evaluate(self, model: nn.Module, items: list[EncodedRanking], env: DistEnv) -> dict[str, float]:
        sums = {"loss": 0.0, "pairs": 0.0, "correct": 0.0, "chosen_reward": 0.0, "rejected_reward": 0.0}
        sums["logp_margin"] = 0.0
        mine = items[env.rank :: env.world_size]
        for i in range(0, len(mine), self.config.batch_size):
            losses, stats = self._losses(
                model, _to(self.collate(mine[i : i + self.config.batch_size]), env.device)
            )
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


def load_dpo_items(path: Path | None, tokenizer: Any, config: DPOConfig) -> list[EncodedRanking]:
    return tokenize_preferences(read_jsonl(path), tokenizer, config.max_length) if path else []


def train_dpo(
    config: DPOConfig,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train the policy ``config.model`` with DPO on the preferences in ``config.data``; saved to ``config.out``.

    One item is one prompt with all its answers (its pairs are every (better, worse) comparison), so an
    optimizer step sees ``batch_size * grad_accum * world_size`` prompts and the loss is the mean over their
    pairs. With ``prefix_sharing`` (the default) a prompt is encoded once, followed by its answers, and each
    answer once however many pairs it is in (``ranked_batch.py``); the reference's log-probabilities too.
    Resume and cancellation work as in ``train_sft``.
    """
    check_lora_config(config)
    check_ranges(config)
    with training_session(config) as env:
        policy, tokenizer = load_model_and_tokenizer(config.model, gguf_file=config.gguf_file)
        choose_shared_attention(policy, config, env.device)
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
        task = DPOTask(tokenizer, config)
        with reference_mode:
            for items in (train_items, eval_items):
                precompute_reference(reference, items, task, env.device, autocast)
        del reference
        gc.collect()
        if env.device.type == "cuda":
            torch.cuda.empty_cache()
        return run_training(config, env, policy, task, train_items, eval_items, progress, should_stop)
