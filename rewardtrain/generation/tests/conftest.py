from pathlib import Path

import pytest

from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


@pytest.fixture(autouse=True)
def _models_under_a_root(model_root):
    """Models built in temporary directories are registered under the `pytest` model root."""
    return model_root


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 style causal LM with a ChatML template, built from a config (nothing downloaded)."""
    path = tmp_path_factory.mktemp("tiny_gen")
    build_tiny_model_and_tokenizer(path, corpus=CORPUS)
    return path


@pytest.fixture(scope="session")
def tiny_rm_dir(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reward model (randomly initialised head) on the tiny backbone, saved like a trained one."""
    import torch

    from rewardtrain.training.modeling import RewardModel, load_tokenizer

    path = tmp_path_factory.mktemp("tiny_rm")
    with torch.random.fork_rng():
        torch.manual_seed(5)
        RewardModel.from_backbone(str(tiny_dir)).save_pretrained(
            path, tokenizer=load_tokenizer(str(tiny_dir))
        )
    return path
