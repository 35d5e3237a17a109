"""SFT, reward-model, DPO and RL training (pure PyTorch + transformers; no Django imports).

The public API is re-exported lazily so that importing e.g. ``rewardtrain.training.config`` from a web
process does not pull in torch/transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SFTConfig": "config",
    "RMConfig": "config",
    "DPOConfig": "config",
    "RLConfig": "config",
    "TrainConfig": "config",
    "train_sft": "sft",
    "train_rm": "rm",
    "train_dpo": "dpo",
    "train_rl": "rl",
    "TrainResult": "trainer",
    "ProgressEvent": "progress",
    "ProgressCallback": "progress",
    "TextProgressBar": "progress",
    "load_model_and_tokenizer": "modeling",
    "load_tokenizer": "modeling",
    "load_reward_model": "modeling",
    "RewardModel": "modeling",
    "score_texts": "inference",
    "sample": "inference",
    "build_tiny_model_and_tokenizer": "tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
