"""Loading causal LMs and tokenizers, and the scalar-head reward model."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

REWARD_HEAD_FILE = "reward_head.safetensors"
REWARD_CONFIG_FILE = "reward_model.json"
REWARD_FORMAT = "rewardtrain.reward_model"
ADAPTER_CONFIG_FILE = "adapter_config.json"  # peft's
ADAPTER_BASE_FILE = "adapter_base.json"
ADAPTER_FORMAT = "rewardtrain.lora_adapter"

DType = torch.dtype | str | None


def _hub_kwargs(name_or_path: str, gguf_file: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"local_files_only": Path(name_or_path).is_dir()}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    return kwargs


def _model_kwargs(name_or_path: str, gguf_file: str | None) -> dict[str, Any]:
    """``from_pretrained`` kwargs for a model: a GGUF file is always fully de-quantised to float weights
    (trainable, and serialisable by ``save_pretrained``, unlike a model that keeps GGUF-packed weights)."""
    kwargs = _hub_kwargs(name_or_path, gguf_file)
    if gguf_file:
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(gguf_file=gguf_file, dequantize=True)
    return kwargs


def _drop_quantizer(model: PreTrainedModel) -> PreTrainedModel:
    """Forget the (GGUF) quantizer of a model whose weights are all plain float tensors."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    return model


def _resolve_dtype(dtype: DType) -> torch.dtype | str | None:
    if isinstance(dtype, str) and dtype != "auto":
        return getattr(torch, dtype)
    return dtype


def load_tokenizer(name_or_path: str, gguf_file: str | None = None) -> Any:
    """``AutoTokenizer`` with a pad token guaranteed (EOS is reused as pad when there is none).

    An adapter folder saved without a tokenizer uses its base model's."""
    if is_adapter_dir(name_or_path) and not (Path(name_or_path) / "tokenizer_config.json").is_file():
        return load_tokenizer(*adapter_base(name_or_path))
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **_hub_kwargs(name_or_path, gguf_file))
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        else:
            tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
    return tokenizer


def grow_embeddings(model: PreTrainedModel, tokenizer: Any) -> None:
    """Make room for tokens the tokenizer has beyond the model's vocabulary (e.g. an added pad token). The
    model remembers it: an adapter saved from it must then carry the (new) embedding rows too."""
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
        model._rewardtrain_vocab_grown = True


def _sync_pad_token(model: PreTrainedModel, tokenizer: Any) -> None:
    grow_embeddings(model, tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    gen = getattr(model, "generation_config", None)
    if gen is not None and gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id


def load_model_and_tokenizer(
    name_or_path: str,
    gguf_file: str | None = None,
    dtype: DType = torch.float32,
    device: str | torch.device | None = None,
    base_model: str | None = None,
) -> tuple[PreTrainedModel, Any]:
    """Load a causal LM + tokenizer from a hub name or a local directory (``local_files_only`` then).

    ``dtype`` defaults to fp32 (what training wants: bf16 is applied through autocast); pass ``"auto"`` to
    keep the checkpoint's dtype for inference. A LoRA adapter folder (``lora_merge`` off) loads its base
    model (``base_model`` when given, else the one the folder names) with the adapter merged in.
    """
    tokenizer = load_tokenizer(name_or_path, gguf_file)
    model = _load_pretrained(AutoModelForCausalLM, name_or_path, gguf_file, dtype, base_model)
    _sync_pad_token(model, tokenizer)
    if device is not None:
        model.to(device)
    return model, tokenizer


def is_peft_model(model: Any) -> bool:
    peft = sys.modules.get("peft")  # never imported: cannot be a peft model
    return peft is not None and isinstance(model, peft.PeftModel)


def is_adapter_dir(path: str | Path) -> bool:
    """A folder holding a peft adapter (``adapter_config.json``) rather than full model weights."""
    return (Path(path) / ADAPTER_CONFIG_FILE).is_file()


def adapter_base(path: str | Path) -> tuple[str, str | None]:
    """(base model, GGUF file inside it) that an adapter folder was trained on: what its run was given."""
    path = Path(path)
    meta_file = path / ADAPTER_BASE_FILE
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        return meta["base_model"], meta.get("gguf_file") or None
    base = json.loads((path / ADAPTER_CONFIG_FILE).read_text()).get("base_model_name_or_path")
    if not base:
        raise ValueError(f"adapter folder {path} names no base model")
    return base, None


def _load_pretrained(
    auto_cls: Any,
    name_or_path: str,
    gguf_file: str | None,
    dtype: DType,
    base_model: str | None = None,
) -> PreTrainedModel:
    """``auto_cls.from_pretrained``; for an adapter folder, its base model (``base_model`` overrides the one
    recorded, e.g. when the base lives elsewhere on this host) with the adapter merged into the weights."""
    if not is_adapter_dir(name_or_path):
        model = auto_cls.from_pretrained(
            name_or_path, dtype=_resolve_dtype(dtype), **_model_kwargs(name_or_path, gguf_file)
        )
        return _drop_quantizer(model)
    if gguf_file:
        raise ValueError(f"{name_or_path} is a LoRA adapter folder: its GGUF base is named in the folder")
    adapter_config = json.loads((Path(name_or_path) / ADAPTER_CONFIG_FILE).read_text())
    if auto_cls is AutoModel and adapter_config.get("task_type") == "CAUSAL_LM":
        # A reward model on an SFT adapter: the adapter's weights are named inside the causal LM.
        lm = _load_pretrained(AutoModelForCausalLM, name_or_path, None, dtype, base_model)
        return lm.base_model
    from peft import PeftModel

    base, base_gguf = (base_model, None) if base_model else adapter_base(name_or_path)
    model = _load_pretrained(auto_cls, base, base_gguf, dtype)
    # The adapter was trained on the base with its vocabulary grown to this tokenizer (then saved with it).
    grow_embeddings(model, load_tokenizer(name_or_path))
    return PeftModel.from_pretrained(model, name_or_path, is_trainable=False).merge_and_unload()


def save_adapter(model: Any, out_dir: str | Path) -> None:
    """Save a peft model's adapter weights and config, and the base model it needs (``adapter_base.json``)."""
    base_model = model.get_base_model()
    model.save_pretrained(
        out_dir,
        safe_serialization=True,
        save_embedding_layers=bool(getattr(base_model, "_rewardtrain_vocab_grown", False)),
    )
    peft_config = model.peft_config[model.active_adapter]
    base = getattr(model, "rewardtrain_base", None) or {"base_model": peft_config.base_model_name_or_path}
    meta = {"format": ADAPTER_FORMAT, "version": 1, "gguf_file": None, **base}
    (Path(out_dir) / ADAPTER_BASE_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def enable_activation_checkpointing(model: nn.Module) -> None:
    """Recompute activations in backward (transformers >= 5 name, falling back to the older one)."""
    target = model.backbone if isinstance(model, RewardModel) else model
    if is_peft_model(target):
        target = target.get_base_model()
    target.config.use_cache = False
    kwargs = {"use_reentrant": False}
    if hasattr(target, "activation_checkpointing_enable"):
        target.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        target.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last non-padding token of each row (works for right and left padding)."""
    positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (attention_mask.long() * positions).argmax(dim=-1)


class RewardModel(nn.Module):
    """Transformer backbone (no LM head) + a linear head giving one scalar per sequence.

    The reward is read at the last non-padding token. The head runs in fp32 even under autocast.
    """

    def __init__(self, backbone: PreTrainedModel, head: nn.Linear | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        hidden = backbone.config.get_text_config().hidden_size
        if head is None:
            head = nn.Linear(hidden, 1)
            # Same scale as OpenAI's lm-human-preferences reward head: initial rewards are O(1).
            nn.init.normal_(head.weight, std=1.0 / math.sqrt(hidden + 1))
            nn.init.zeros_(head.bias)
        self.head = head.float()

    @property
    def config(self) -> Any:
        return self.backbone.config

    @classmethod
    def from_backbone(
        cls, name_or_path: str, gguf_file: str | None = None, dtype: DType = torch.float32
    ) -> RewardModel:
        """New reward model on top of any causal LM / SFT checkpoint (its LM head is dropped)."""
        return cls(_load_pretrained(AutoModel, name_or_path, gguf_file, dtype))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Any,
        position_ids: torch.Tensor | None = None,
        reward_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One reward per row, read at its last non-padding token; or, with ``reward_index`` (an ``[n, 2]``
        tensor of (row, column)), one per listed token (several answers sharing a row: ``ranked_batch``)."""
        out = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        )
        hidden = out.last_hidden_state
        if reward_index is None:
            last = hidden[
                torch.arange(hidden.shape[0], device=hidden.device), last_token_index(attention_mask)
            ]
        else:
            last = hidden[reward_index[:, 0], reward_index[:, 1]]
        with torch.autocast(device_type=last.device.type, enabled=False):
            return self.head(last.to(self.head.weight.dtype)).squeeze(-1).float()

    def save_pretrained(self, out_dir: str | Path, tokenizer: Any = None) -> None:
        """Backbone via ``save_pretrained`` (safetensors) + ``reward_head.safetensors`` + ``reward_model.json``.

        A backbone with unmerged LoRA adapters is saved as its adapter (see ``save_adapter``)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        adapter = is_peft_model(self.backbone)
        if adapter:
            save_adapter(self.backbone, out)
        else:
            self.backbone.save_pretrained(out, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(out)
        head = {k: v.detach().float().cpu().contiguous() for k, v in self.head.state_dict().items()}
        save_file(head, str(out / REWARD_HEAD_FILE))
        meta = {
            "format": REWARD_FORMAT,
            "version": 1,
            "hidden_size": self.head.in_features,
            "backbone_class": type(self.backbone.get_base_model() if adapter else self.backbone).__name__,
            "reward_token": "last_non_padding",
            "adapter": adapter,
        }
        (out / REWARD_CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def transformer_layers(backbone: nn.Module) -> nn.ModuleList:
    """The backbone's list of transformer blocks (``layers`` for Llama-likes, ``h`` for GPT-2, ...)."""
    n = getattr(backbone.config.get_text_config(), "num_hidden_layers", None)
    for name in ("layers", "h", "blocks", "layer"):
        mod = getattr(backbone, name, None)
        if isinstance(mod, nn.ModuleList) and (n is None or len(mod) == n):
            return mod
    lists = [m for m in backbone.modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if not lists:
        raise ValueError(f"cannot find the transformer layers of {type(backbone).__name__}")
    return lists[0]


def freeze_lower_layers(model: RewardModel, n_layers: int) -> int:
    """Freeze the input embeddings (token and learned position embeddings) and the lowest ``n_layers``
    transformer layers of a reward model's backbone. Returns the number of trainable parameters left."""
    if n_layers > 0:
        backbone = model.backbone
        frozen: list[nn.Module] = [backbone.get_input_embeddings()]
        frozen += [
            m
            for name in ("wpe", "embed_positions")
            if isinstance(m := getattr(backbone, name, None), nn.Module)
        ]
        frozen += list(transformer_layers(backbone)[:n_layers])
        for module in frozen:
            module.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def is_reward_model_dir(path: str | Path) -> bool:
    return (Path(path) / REWARD_CONFIG_FILE).is_file()


def load_reward_model(
    path: str | Path,
    dtype: DType = torch.float32,
    device: str | torch.device | None = None,
    base_model: str | None = None,
) -> tuple[RewardModel, Any]:
    """Load a directory written by ``RewardModel.save_pretrained`` (model in eval mode) + its tokenizer.

    A directory holding a LoRA adapter loads its base model (or ``base_model``) and merges the adapter in."""
    path = Path(path)
    meta = json.loads((path / REWARD_CONFIG_FILE).read_text())
    if meta.get("format") != REWARD_FORMAT:
        raise ValueError(f"{path} is not a reward model directory (format={meta.get('format')!r})")
    tokenizer = load_tokenizer(str(path))
    backbone = _load_pretrained(AutoModel, str(path), None, dtype, base_model)
    head = nn.Linear(meta["hidden_size"], 1)
    head.load_state_dict(load_file(str(path / REWARD_HEAD_FILE)))
    model = RewardModel(backbone, head)
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer
