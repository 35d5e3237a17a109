"""LoRA (low-rank adapters, through peft) as a run option of SFT, reward-model and DPO training.

With ``lora_r > 0`` the backbone's weights are frozen and every targeted linear layer gets a trainable update
``(lora_alpha / lora_r) * B @ A`` (B starts at zero, so training starts from the unchanged model). A reward
model's scalar head stays fully trainable. Only trainable tensors reach the optimizer and the checkpoints.
The final model is saved merged (a plain model folder) or, with ``lora_merge`` off, as the adapter plus a
reference to its base model; ``modeling``'s loaders read both.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from transformers import PreTrainedModel
from transformers.pytorch_utils import Conv1D

from .config import TrainConfig
from .modeling import RewardModel, is_peft_model, save_adapter, transformer_layers

LINEAR_TYPES = (nn.Linear, Conv1D)  # Conv1D: GPT-2's transposed linear layer


def lora_enabled(config: TrainConfig) -> bool:
    return config.lora_r > 0


def check_lora_config(config: TrainConfig) -> None:
    if config.lora_r < 0:
        raise ValueError(f"lora_r must be >= 0 (0 turns LoRA off), got {config.lora_r}")
    if lora_enabled(config):
        if config.lora_alpha <= 0:
            raise ValueError(f"lora_alpha must be > 0, got {config.lora_alpha}")
        if not 0.0 <= config.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {config.lora_dropout}")


def _layer_linears(model: nn.Module) -> dict[str, nn.Module]:
    """Linear layers inside the transformer blocks, by their name within a block (``self_attn.q_proj``)."""
    found: dict[str, nn.Module] = {}
    for block in transformer_layers(model.get_decoder() if hasattr(model, "get_decoder") else model):
        for name, module in block.named_modules():
            if isinstance(module, LINEAR_TYPES):
                found.setdefault(name, module)
    return found


def resolve_target_modules(model: PreTrainedModel, spec: str) -> list[str]:
    """The module names (as peft matches them: the end of a module's dotted name) that LoRA adapts.

    ``auto`` is the last name part of every linear layer in the transformer blocks: ``c_attn, c_fc, c_proj``
    for GPT-2; ``q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj`` for Llama-likes. The input
    embeddings and the LM head are never adapted. Explicit names must each match some linear layer.
    """
    if spec.strip().lower() in ("", "auto"):
        names = sorted({name.rsplit(".", 1)[-1] for name in _layer_linears(model)})
        if not names:
            raise ValueError(f"no linear layers found in the blocks of {type(model).__name__}")
        return names
    linear = [n for n, m in model.named_modules() if isinstance(m, LINEAR_TYPES)]
    names = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [t for t in names if not any(n == t or n.endswith("." + t) for n in linear)]
    if unknown:
        available = ", ".join(sorted({n.rsplit(".", 1)[-1] for n in _layer_linears(model)}))
        raise ValueError(
            f"lora_target_modules: no linear layer named {', '.join(unknown)} in {type(model).__name__} "
            f"(its block layers: {available})"
        )
    return names


def add_lora(model: PreTrainedModel, config: TrainConfig, causal_lm: bool) -> Any:
    """Wrap ``model`` with fresh LoRA adapters (base weights frozen); returns the peft model."""
    from peft import LoraConfig, get_peft_model

    targets = resolve_target_modules(model, config.lora_target_modules)
    targeted = [
        m
        for n, m in model.named_modules()
        if isinstance(m, LINEAR_TYPES) and any(n == t or n.endswith("." + t) for t in targets)
    ]
    lora_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        fan_in_fan_out=bool(targeted) and all(isinstance(m, Conv1D) for m in targeted),
        task_type="CAUSAL_LM" if causal_lm else None,
    )
    peft_model = get_peft_model(model, lora_config)
    # What the run was given (hub name or path), so that an unmerged save names its base.
    peft_model.peft_config[peft_model.active_adapter].base_model_name_or_path = config.model
    peft_model.rewardtrain_base = {"base_model": config.model, "gguf_file": config.gguf_file}
    return peft_model


def add_lora_to_reward_model(model: RewardModel, config: TrainConfig) -> RewardModel:
    """LoRA on the backbone; the head is left as it is (trainable)."""
    model.backbone = add_lora(model.backbone, config, causal_lm=False)
    return model


def save_causal_lm(model: nn.Module, tokenizer: Any, out_dir: Any, merge: bool) -> None:
    """Final save of SFT/DPO: a plain model folder (adapters merged in, in place), or the adapter alone."""
    if is_peft_model(model):
        if not merge:
            save_adapter(model, out_dir)
            tokenizer.save_pretrained(out_dir)
            return
        model = model.merge_and_unload()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def save_reward_model(model: RewardModel, tokenizer: Any, out_dir: Any, merge: bool) -> None:
    """Final save of a reward model; with ``merge`` the adapters are merged into the backbone (in place)."""
    if merge and is_peft_model(model.backbone):
        model.backbone = model.backbone.merge_and_unload()
    model.save_pretrained(out_dir, tokenizer=tokenizer)


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
