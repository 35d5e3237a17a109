"""Training configuration dataclasses.

Every field has a default that is sane for a small model on one GPU; the CLI exposes each field as a
``--flag-name`` (see ``cli.py``), and the Celery side builds the same dataclasses directly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(kw_only=True)
class TrainConfig:
    """Options shared by SFT and reward-model training."""

    data: str
    """JSONL file, or a directory holding ``train.jsonl`` (+ optional ``validation.jsonl``)."""
    model: str
    """Hugging Face hub name or local directory of the starting model."""
    out: str
    """Output directory: the final model is saved here, checkpoints under ``out/checkpoints``."""
    gguf_file: str | None = None
    """Optional GGUF file name inside ``model`` (transformers de-quantises it on load)."""
    eval_data: str | None = None
    """Validation JSONL; defaults to ``validation.jsonl`` next to ``train.jsonl`` when ``data`` is a dir."""

    seed: int = 0
    max_length: int = 1024
    """Maximum tokens per sequence (prompt + answer); prompts are cut from the left first."""
    batch_size: int = 4
    """Micro-batch size per process (SFT: sequences/packed rows; RM: prompts, each with all its answers)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step; effective batch = batch_size * grad_accum * world_size."""
    epochs: float = 1.0
    max_steps: int = 0
    """If > 0, train exactly this many optimizer steps (overrides ``epochs``)."""
    lr: float = 1e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_eps: float = 1e-8
    warmup_ratio: float = 0.03
    warmup_steps: int | None = None
    """Overrides ``warmup_ratio`` when set."""
    min_lr_ratio: float = 0.0
    """Cosine decay ends at ``lr * min_lr_ratio``."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this value (0 disables clipping)."""

    bf16: bool = True
    """bf16 autocast on CUDA (weights and optimizer state stay fp32). Ignored on CPU."""
    gradient_checkpointing: bool = False
    device: str = "auto"
    """``auto`` (cuda if available, else cpu), ``cpu``, ``cuda``..."""
    deterministic: bool = True
    """Call ``torch.use_deterministic_algorithms`` on CPU during training (restored afterwards)."""

    log_every: int = 1
    eval_every: int = 0
    """Evaluate every N steps (0: only at the end)."""
    save_every: int = 0
    """Write a resumable checkpoint every N steps (0: only on stop/cancel and at the end)."""
    keep_checkpoints: int = 1
    """How many step checkpoints to keep (oldest are deleted)."""
    resume: str = "auto"
    """``auto``: resume from the newest checkpoint in ``out/checkpoints`` if any; ``no``; or a checkpoint dir."""

    lora_r: int = 0
    """LoRA rank (peft): if > 0, train low-rank adapters on the backbone instead of all its weights (a reward
    model's scalar head is still fully trained). 0 trains every weight."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator: the adapter's update is scaled by ``lora_alpha / lora_r``."""
    lora_dropout: float = 0.0
    """Dropout on the adapters' input."""
    lora_target_modules: str = "auto"
    """Comma-separated module names to adapt (e.g. ``q_proj,v_proj``), or ``auto``: every linear layer inside
    the transformer blocks (attention and MLP projections, found by type)."""
    lora_merge: bool = True
    """Save the final model with the adapters merged into the weights (a plain model folder). With
    ``--no-lora-merge`` the adapter, the reward head and a reference to the base model are saved instead."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save_json(self, path: str | Path) -> None:
        d = {"kind": type(self).__name__, **self.to_dict()}
        Path(path).write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")


@dataclass(kw_only=True)
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on demonstrations (loss on the final assistant message) and dialogues."""

    lr: float = 2e-5
    packing: bool = False
    """Pack several short examples into one row (attention kept per example through position ids)."""
    assistant_turns: str = "auto"
    """Which assistant messages carry loss: ``last``; ``all``; or ``auto`` (every one in a written dialogue, a
    record with ``"metadata": {"source": "dialogue"}``; the last one otherwise)."""


SHARED_ATTENTION_CHOICES = ("auto", "flex", "sdpa")


@dataclass(kw_only=True)
class PreferenceConfig(TrainConfig):
    """Options of the trainers that read a prompt with several answers (reward model, DPO)."""

    prefix_sharing: bool = True
    """Encode each prompt once per micro-batch row, followed by all its answers, with a block attention mask
    (see ``ranked_batch.py``); exact, and faster when prompts are long. Off: one row per answer."""
    row_tokens: int = 0
    """Prefix sharing: at most this many tokens per row (several prompts with their answers are packed into
    one row; a prompt whose answers do not fit is repeated in a second row). 0: ``max_length``."""

    shared_attention: str = "auto"
    """How prefix-shared rows attend: ``flex`` (FlexAttention's block-sparse masks, which skip the fully masked
    blocks of sibling answers; compiled; no CPU backward), ``sdpa`` (SDPA with the explicit mask; on CUDA its
    memory-efficient kernel) or ``auto``: ``flex`` on CUDA when torch has it with Triton, ``sdpa`` elsewhere.
    Both are exact."""

    @property
    def row_budget(self) -> int:
        return self.row_tokens or self.max_length


def range_errors(options: Mapping[str, Any], kind: str | None = None) -> dict[str, str]:
    """What is out of range among these options, by name: one rule for the trainers (``check_ranges``) and for
    the app, which refuses a run's hyper-parameters before queueing it. ``kind`` (``"rl"``, ...) adds the rules
    that hold for one kind of run only."""
    errors = {}
    if options.get("row_tokens", 0) < 0:
        errors["row_tokens"] = "must be 0 (max_length) or more"
    if options.get("shared_attention", "auto") not in SHARED_ATTENTION_CHOICES:
        errors["shared_attention"] = f"must be one of {', '.join(SHARED_ATTENTION_CHOICES)}"
    if options.get("beta", 1.0) <= 0:
        errors["beta"] = "must be greater than 0"
    if not 0 <= options.get("label_smoothing", 0.0) < 0.5:
        errors["label_smoothing"] = "must be at least 0 and below 0.5"
    errors.update(_rl_range_errors(options))
    if kind == "rl":
        if options.get("lora_r", 0) > 0:
            errors["lora_r"] = "must be 0: RL runs train every weight"
        if options.get("gradient_checkpointing"):
            errors["gradient_checkpointing"] = "is not supported by RL runs"
    return errors


RL_ESTIMATORS = ("rloo", "grpo")


def _rl_range_errors(options: Mapping[str, Any]) -> dict[str, str]:
    errors = {}
    if options.get("samples_per_prompt", 2) < 2:
        errors["samples_per_prompt"] = (
            "must be at least 2 (the baseline of an answer is its siblings' reward)"
        )
    if options.get("estimator", "rloo") not in RL_ESTIMATORS:
        errors["estimator"] = f"must be one of {', '.join(RL_ESTIMATORS)}"
    if options.get("clip_eps", 0.2) <= 0:
        errors["clip_eps"] = "must be greater than 0"
    if options.get("inner_epochs", 1) < 1:
        errors["inner_epochs"] = "must be at least 1"
    for name in ("kl_coef", "kl_target", "missing_eos_penalty"):
        if options.get(name, 0.0) < 0:
            errors[name] = "must be 0 or more"
    if options.get("kl_horizon", 1) <= 0:
        errors["kl_horizon"] = "must be greater than 0"
    if options.get("temperature", 1.0) <= 0:
        errors["temperature"] = "must be greater than 0"
    if not 0 < options.get("top_p", 1.0) <= 1:
        errors["top_p"] = "must be above 0 and at most 1"
    if options.get("max_new_tokens", 1) < 1:
        errors["max_new_tokens"] = "must be at least 1"
    if options.get("forward_batch_size", 0) < 0:
        errors["forward_batch_size"] = "must be 0 (all sequences at once) or more"
    return errors


def check_ranges(config: TrainConfig) -> None:
    """Refuse a config with an option out of range (``ValueError`` naming the option and its value)."""
    options = config.to_dict()
    kind = "rl" if isinstance(config, RLConfig) else None
    for name, message in range_errors(options, kind).items():
        raise ValueError(f"{name} {message}, got {options[name]!r}")


@dataclass(kw_only=True)
class RMConfig(PreferenceConfig):
    """Reward-model training on rankings (K-wise) and/or pairwise comparisons."""

    lr: float = 1e-5
    batch_size: int = 2
    margin_scale: float = 0.0
    """Loss is ``-log sigmoid(r_better - r_worse - margin_scale * margin)``; 0 disables the margin term.
    The margin is the record's ``margin`` (pairwise) or the tier gap (K-wise)."""
    center_coef: float = 0.0
    """Adds ``center_coef * mean(r**2)`` per prompt to keep rewards centred around 0."""
    max_answers: int = 0
    """If > 0, drop prompts with more answers than this (bounds the memory of one forward pass)."""
    freeze_layers: int = 0
    """If > 0, freeze the backbone's input (token and position) embeddings and its lowest N transformer
    layers; only the upper layers, the final norm and the reward head are trained. Gradients then stop at
    layer N, so the backward pass is cheaper too. A value >= the number of layers trains only the final
    norm and the head."""


@dataclass(kw_only=True)
class DPOConfig(PreferenceConfig):
    """Direct preference optimisation of a policy on pairwise (or K-wise) preferences.

    ``model`` is the policy to train (normally the SFT model); the frozen reference is ``ref_model``,
    or the same starting model when unset.
    """

    lr: float = 1e-6
    batch_size: int = 4
    """Prompts per micro-batch, each with all its answers (a pairwise record: one prompt, two answers); the
    loss is the mean over the preference pairs of the optimizer step."""
    beta: float = 0.1
    """Strength of the implicit KL penalty: loss = -log sigmoid(beta * (policy log-ratio - reference
    log-ratio))."""
    label_smoothing: float = 0.0
    """Assumed probability that a preference label is flipped (conservative DPO); 0 is plain DPO."""
    ref_model: str | None = None
    """Reference model (hub name or directory); defaults to ``model`` (with LoRA: the policy with its adapters
    switched off, which is that same starting model without a second copy in memory)."""


@dataclass(kw_only=True)
class RLConfig(TrainConfig):
    """Policy optimisation against a reward model (RLOO or GRPO advantages, PPO-clip, KL penalty).

    ``model`` is the policy to train (an SFT or base model) and the frozen reference, unless ``ref_model`` is
    set; ``data`` holds the prompts (JSONL: ``{"prompt": str | [messages]}``, or an SFT ``{"messages": ...}``
    record, whose final assistant message is dropped) and ``eval_data`` the held-out prompts. One step samples
    ``samples_per_prompt`` answers for each of ``batch_size`` prompts per process; ``max_steps`` counts steps
    (0: ``epochs`` passes over the prompts).
    """

    reward_model: str
    """Directory of a reward model (``RewardModel.save_pretrained``)."""
    ref_model: str | None = None
    """Reference model of the KL penalty; defaults to ``model`` (the policy before its first step)."""

    lr: float = 1e-6
    batch_size: int = 8
    """Prompts per step and process."""
    warmup_ratio: float = 0.0
    min_lr_ratio: float = 1.0
    """Constant learning rate after warm-up by default (RL runs are usually stopped by watching the reward)."""
    max_length: int = 512
    """Prompt tokens + ``max_new_tokens`` (prompts are cut from the left to fit)."""

    samples_per_prompt: int = 4
    """k: answers sampled per prompt; each answer's baseline comes from its k - 1 siblings."""
    estimator: str = "rloo"
    """``rloo``: advantage = reward - mean reward of the other k - 1 answers; ``grpo``: (reward - group mean) /
    (group standard deviation + 1e-6)."""
    clip_eps: float = 0.2
    """PPO clipping of the per-token probability ratio to [1 - eps, 1 + eps]."""
    inner_epochs: int = 2
    """Optimizer updates on each batch of samples (the first is on-policy; later ones are clipped)."""
    forward_batch_size: int = 16
    """Sequences per forward pass when computing log-probabilities and gradients (0: all of a step at once)."""

    kl_coef: float = 0.05
    """beta: reward = RM score - beta * KL(policy || reference) of the answer (the initial beta when adaptive)."""
    kl_target: float = 0.0
    """If > 0, beta adapts so that the KL per answer stays near this value (Ziegler et al. 2019)."""
    kl_horizon: int = 10_000
    """Adaptive KL: samples over which beta may change by a factor of about e^0.2."""
    missing_eos_penalty: float = 0.0
    """Subtracted from the RM score of an answer cut off by ``max_new_tokens`` (no end-of-turn token)."""

    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0

    eval_greedy: bool = False
    """Held-out evaluation with one greedy answer per prompt; otherwise k sampled ones (a fixed seed)."""
    sample_every: int = 0
    """Emit a ``samples`` event (prompt, answer, reward of a few answers of the step) every N steps (0: never)."""
    sample_rows: int = 4
    """Answers per ``samples`` event."""
