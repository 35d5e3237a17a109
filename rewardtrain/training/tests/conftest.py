"""Shared fixtures: tiny local models (nothing is downloaded) and JSONL writers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers.utils import logging as hf_logging

from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

from .helpers import CORPUS

torch.set_num_threads(2)
hf_logging.disable_progress_bar()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GPT-2 style, 2 layers, hidden 32, ChatML chat template, no pad token."""
    path = tmp_path_factory.mktemp("tiny_gpt2")
    build_tiny_model_and_tokenizer(path, corpus=CORPUS)
    return path


@pytest.fixture(scope="session")
def tiny_dropout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``tiny_dir`` but with dropout on, so resuming must restore the RNG state exactly."""
    path = tmp_path_factory.mktemp("tiny_dropout")
    build_tiny_model_and_tokenizer(path, corpus=CORPUS, dropout=0.1)
    return path


@pytest.fixture(scope="session")
def tiny_llama_plain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Llama style without a chat template (exercises the plain template)."""
    path = tmp_path_factory.mktemp("tiny_llama")
    build_tiny_model_and_tokenizer(path, arch="llama", chat_template=False, corpus=CORPUS)
    return path
