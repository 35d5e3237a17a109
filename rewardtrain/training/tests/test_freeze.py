"""``RMConfig.freeze_layers``: embeddings and the lower layers stay fixed, the rest trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.config import RMConfig
from rewardtrain.training.modeling import RewardModel, freeze_lower_layers, transformer_layers
from rewardtrain.training.rm import train_rm

from .helpers import planted_kwise_records, write_jsonl


@pytest.mark.parametrize("fixture", ["tiny_dir", "tiny_llama_plain_dir"])
def test_freeze_lower_layers_marks_the_right_parameters(fixture: str, request: pytest.FixtureRequest) -> None:
    model = RewardModel.from_backbone(str(request.getfixturevalue(fixture)))
    total = sum(p.numel() for p in model.parameters())
    assert freeze_lower_layers(model, 0) == total
    layers = transformer_layers(model.backbone)
    assert len(layers) == 2
    left = freeze_lower_layers(model, 1)
    assert not any(p.requires_grad for p in model.backbone.get_input_embeddings().parameters())
    if hasattr(model.backbone, "wpe"):  # GPT-2's learned position embeddings
        assert not any(p.requires_grad for p in model.backbone.wpe.parameters())
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    assert left == sum(p.numel() for p in model.parameters() if p.requires_grad) < total
    only_top = freeze_lower_layers(model, 99)  # every layer frozen: final norm + head still train
    assert 0 < only_top < left


def test_train_rm_with_frozen_layers_only_updates_the_top(tiny_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rank.jsonl", planted_kwise_records(8, seed=1))
    cfg = RMConfig(
        data=str(data),
        model=str(tiny_dir),
        out=str(tmp_path / "rm"),
        max_steps=3,
        batch_size=2,
        lr=1e-2,
        freeze_layers=1,
    )
    result = train_rm(cfg)
    assert result.steps == 3
    before = RewardModel.from_backbone(str(tiny_dir)).backbone.state_dict()
    after = load_file(str(tmp_path / "rm" / "model.safetensors"))
    changed = {k for k, v in before.items() if k in after and not torch.equal(v, after[k])}
    assert changed, "nothing trained"
    assert all(k.startswith(("h.1.", "ln_f.")) for k in changed), sorted(changed)
    assert any(k.startswith("h.1.") for k in changed)
