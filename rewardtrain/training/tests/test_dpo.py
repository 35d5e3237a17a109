"""DPO: the loss against hand-computed values, prompt masking, and a tiny run that learns a planted preference."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from rewardtrain.training.config import DPOConfig
from rewardtrain.training.data import Comparison
from rewardtrain.training.dpo import DPOTask, dpo_loss, tokenize_preferences, train_dpo
from rewardtrain.training.modeling import load_model_and_tokenizer
from rewardtrain.training.ranked_batch import EncodedRanking, answer_logps

from .helpers import planted_kwise_records, planted_pairwise_records, write_jsonl

LN3 = math.log(3.0)


def _fixed_batch() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Two rows over a 2-token vocabulary: row 0 (chosen) answers with tokens [1, 0], row 1 (rejected)
    with token [1]; everything else is prompt. Logits that must be ignored are huge."""
    logits = torch.tensor(
        [
            [[0.0, LN3], [0.0, 0.0], [50.0, -50.0]],  # p(1)=3/4, then p(0)=1/2; last position ignored
            [[9.0, -9.0], [0.0, -LN3], [-50.0, 50.0]],  # prompt position ignored; then p(1)=1/4
        ]
    )
    targets = {  # (row, predicting column, token, answer) of each answer token, as collate_ranked lists them
        "target_row": torch.tensor([0, 0, 1]),
        "target_col": torch.tensor([0, 1, 1]),
        "target_token": torch.tensor([1, 0, 1]),
        "target_answer": torch.tensor([0, 0, 1]),
    }
    return logits, targets


def test_answer_logps_count_answer_tokens_only() -> None:
    logits, targets = _fixed_batch()
    logps = answer_logps(logits, targets, 2)
    assert logps.tolist() == pytest.approx([math.log(3 / 8), math.log(1 / 4)], abs=1e-6)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_dpo_loss_matches_hand_computed_value(label_smoothing: float) -> None:
    logits, targets = _fixed_batch()
    policy = answer_logps(logits, targets, 2)
    ref = torch.tensor([math.log(1 / 2), math.log(1 / 2)])
    losses, chosen_r, rejected_r = dpo_loss(
        policy[:1], policy[1:], ref[:1], ref[1:], beta=0.5, label_smoothing=label_smoothing
    )
    # z = 0.5 * ((ln 3/8 - ln 1/2) - (ln 1/4 - ln 1/2)) = 0.5 * ln(3/2), so sigmoid(z) = 1 / (1 + sqrt(2/3))
    # and -log sigmoid(z) = ln(1 + sqrt(2/3)), -log sigmoid(-z) = ln(1 + sqrt(3/2)).
    expected = (1 - label_smoothing) * math.log(1 + math.sqrt(2 / 3)) + label_smoothing * math.log(
        1 + math.sqrt(3 / 2)
    )
    assert float(losses[0]) == pytest.approx(expected, abs=1e-6)
    assert float(chosen_r[0]) == pytest.approx(0.5 * math.log(3 / 4), abs=1e-6)
    assert float(rejected_r[0]) == pytest.approx(0.5 * math.log(1 / 2), abs=1e-6)


def test_loss_gradient_raises_the_chosen_answer() -> None:
    chosen = torch.tensor([-3.0], requires_grad=True)
    rejected = torch.tensor([-3.0], requires_grad=True)
    losses, _, _ = dpo_loss(chosen, rejected, torch.tensor([-3.0]), torch.tensor([-3.0]), beta=0.1)
    assert float(losses[0].detach()) == pytest.approx(math.log(2.0))  # equal to the reference: -log(1/2)
    losses.sum().backward()
    assert chosen.grad is not None and rejected.grad is not None
    assert float(chosen.grad[0]) == pytest.approx(-0.05) and float(rejected.grad[0]) == pytest.approx(0.05)


def test_collate_lists_every_answer_token_with_the_position_that_predicts_it() -> None:
    items = [
        EncodedRanking([5, 6], [[7, 8], [9]], [Comparison(0, 1)], [-1.0, -2.0]),
        EncodedRanking([4], [[7], [3, 3, 3, 3]], [Comparison(0, 1)], [0.0, 0.0]),
    ]
    task = DPOTask(None, DPOConfig(data="", model="", out="", prefix_sharing=False))  # type: ignore[arg-type]
    task.tokenizer = type("T", (), {"pad_token_id": 0})()
    batch = task.collate(items)
    assert batch["input_ids"].shape == (4, 5) and batch["num_items"] == 2 and batch["num_answers"] == 4
    columns = ("target_row", "target_col", "target_token")
    rows = zip(*(batch[c].tolist() for c in columns), strict=True)
    assert list(rows) == [
        (0, 1, 7),
        (0, 2, 8),
        (1, 1, 9),
        (2, 0, 7),
        (3, 0, 3),
        (3, 1, 3),
        (3, 2, 3),
        (3, 3, 3),
    ]
    assert batch["ref_logps"].tolist() == [-1.0, -2.0, 0.0, 0.0]
    assert batch["better"].tolist() == [0, 2] and batch["worse"].tolist() == [1, 3]


def test_kwise_records_give_every_strict_pair(tiny_dir: Path) -> None:
    _, tokenizer = load_model_and_tokenizer(str(tiny_dir))
    records = planted_kwise_records(3, seed=0, k=3)  # one best answer, two tied below it: 2 pairs each
    items = tokenize_preferences(records, tokenizer, 256)
    assert len(items) == 3 and sum(len(item.pairs) for item in items) == 6


def _margin(model_dir: Path, items: list[EncodedRanking], tokenizer: Any) -> tuple[float, float]:
    """Mean chosen-minus-rejected sequence log-probability, and how often it is positive."""
    model, _ = load_model_and_tokenizer(str(model_dir))
    model.eval()
    task = DPOTask(tokenizer, DPOConfig(data="", model="", out=""))
    with torch.no_grad():
        batch = task.collate(items)
        logps = task.answer_logps(model, batch)
    diff = logps[batch["better"]] - logps[batch["worse"]]
    return float(diff.mean()), float((diff > 0).float().mean())


def test_dpo_run_learns_a_planted_preference(tiny_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", planted_pairwise_records(32, seed=1))
    write_jsonl(data / "validation.jsonl", planted_pairwise_records(16, seed=2))
    config = DPOConfig(
        data=str(data),
        model=str(tiny_dir),
        out=str(tmp_path / "out"),
        max_steps=30,
        batch_size=8,
        lr=3e-3,
        beta=0.5,
        warmup_steps=0,
    )
    result = train_dpo(config)
    assert result.steps == 30 and not result.stopped_early
    # Held-out pairs: the implicit reward prefers the chosen answer, by a positive margin.
    assert result.metrics["val_accuracy"] >= 0.8, result.metrics
    assert result.metrics["val_reward_margin"] > 0.5, result.metrics

    _, tokenizer = load_model_and_tokenizer(str(tiny_dir))
    held_out = tokenize_preferences(planted_pairwise_records(16, seed=3), tokenizer, 256)
    before, _ = _margin(tiny_dir, held_out, tokenizer)
    after, wins = _margin(tmp_path / "out", held_out, tokenizer)
    assert after - before > 1.0 and wins >= 0.8, (before, after, wins)


def test_invalid_settings_are_refused(tmp_path: Path) -> None:
    common = {"data": str(tmp_path), "model": str(tmp_path), "out": str(tmp_path / "o")}
    with pytest.raises(ValueError, match="beta"):
        train_dpo(DPOConfig(beta=0.0, **common))
    with pytest.raises(ValueError, match="label_smoothing"):
        train_dpo(DPOConfig(label_smoothing=0.5, **common))


def test_cli_dpo(tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import signal

    from rewardtrain.training.cli import main

    data = write_jsonl(tmp_path / "pairs.jsonl", planted_pairwise_records(4, seed=0))
    out = tmp_path / "out"
    argv = ["dpo", f"--data={data}", f"--model={tiny_dir}", f"--out={out}", "--max-steps=2", "--batch-size=2"]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main([*argv, "--beta=0.2", "--label-smoothing=0.1", "--progress=none"]) == 0
    finally:  # main() installs its stop handlers; give pytest its own back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and "train_reward_margin" in summary["metrics"]
    saved = json.loads((out / "training_config.json").read_text())
    assert saved["kind"] == "DPOConfig" and saved["beta"] == 0.2 and saved["label_smoothing"] == 0.1
    load_model_and_tokenizer(str(out))
