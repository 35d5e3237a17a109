"""Causal LMs loaded in a worker process, kept for the next task (a small LRU keyed by path).

Loading even a small model takes seconds, and a labeler asks for suggestions one after another from the same
model, so a `gpu` worker keeps the last `ANNOTATE_MODEL_CACHE_SIZE` (default 2) models it used. Web processes
never call this: they only queue tasks. torch is imported on first use.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

_models: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()
_lock = threading.Lock()


def cache_size() -> int:
    return max(1, int(os.environ.get("ANNOTATE_MODEL_CACHE_SIZE", "2")))


def causal_lm(path: str, gguf_file: str = "") -> tuple[Any, Any]:
    """The (model, tokenizer) at `path`, loaded once per process and kept while among the most recently used;
    on the GPU when there is one, in evaluation mode."""
    key = (path, gguf_file or "")
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        import torch  # workers only

        from rewardtrain.training import load_model_and_tokenizer  # torch: workers only

        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = "auto" if device == "cuda" else torch.float32
        model, tokenizer = load_model_and_tokenizer(
            path, gguf_file=gguf_file or None, dtype=dtype, device=device
        )
        model.eval()
        _models[key] = (model, tokenizer)
        while len(_models) > cache_size():
            _models.popitem(last=False)
        return model, tokenizer


def cached_paths() -> list[tuple[str, str]]:
    """The keys held, least recently used first."""
    with _lock:
        return list(_models)


def clear() -> None:
    with _lock:
        _models.clear()
