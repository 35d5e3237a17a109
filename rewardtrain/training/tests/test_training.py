"""End-to-end training on tiny models: learning, resume equivalence and cancellation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.checkpoint import list_checkpoints
from rewardtrain.training.config import RMConfig, SFTConfig
from rewardtrain.training.modeling import load_model_and_tokenizer, load_reward_model
from rewardtrain.training.progress import ProgressEvent, format_event
from rewardtrain.training.rm import train_rm
from rewardtrain.training.sft import train_sft

from .helpers import planted_kwise_records, sft_records, write_jsonl


class Recorder:
    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        format_event(event)  # the CLI formatter must cope with every event
        self.events.append(event)

    def steps(self) -> list[ProgressEvent]:
        return [e for e in self.events if e.kind == "step"]


def test_sft_memorises_small_dataset(tiny_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(8))
    rec = Recorder()
    cfg = SFTConfig(
        data=str(data), model=str(tiny_dir), out=str(tmp_path / "out"), max_steps=40, batch_size=4, lr=3e-3
    )
    result = train_sft(cfg, progress=rec)
    losses = [e.loss for e in rec.steps()]
    assert len(losses) == 40 and result.steps == 40 and not result.stopped_early
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:2]) / 2, losses
    assert all(e.lr and e.tokens_per_s and e.eta_s is not None for e in rec.steps())
    # the final model is a regular HF directory that the same loading code reads back
    _, tok = load_model_and_tokenizer(str(tmp_path / "out"))
    assert tok.chat_template and (tmp_path / "out" / "metrics.json").is_file()


def test_sft_packing_and_accumulation_match_plain_run(tiny_dir: Path, tmp_path: Path) -> None:
    """Packing (block-diagonal attention) and grad accumulation leave the per-token loss unchanged."""
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(8))
    common = {"data": str(data), "model": str(tiny_dir), "max_steps": 3, "lr": 1e-3, "max_length": 256}
    plain = train_sft(SFTConfig(out=str(tmp_path / "a"), batch_size=8, **common))
    packed = train_sft(SFTConfig(out=str(tmp_path / "b"), batch_size=8, packing=True, **common))
    accum = train_sft(SFTConfig(out=str(tmp_path / "c"), batch_size=2, grad_accum=4, **common))
    assert packed.metrics["train_loss"] == pytest.approx(plain.metrics["train_loss"], rel=1e-4)
    assert accum.metrics["train_loss"] == pytest.approx(plain.metrics["train_loss"], rel=1e-4)


@pytest.mark.parametrize("fixture", ["tiny_dir", "tiny_llama_plain_dir"])
def test_gradient_checkpointing_gives_the_same_losses(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model_dir = str(request.getfixturevalue(fixture))
    sft = write_jsonl(tmp_path / "sft.jsonl", sft_records(4))
    rm = write_jsonl(tmp_path / "rm.jsonl", planted_kwise_records(4, seed=0))
    for name, train, cfg_cls, data in (("sft", train_sft, SFTConfig, sft), ("rm", train_rm, RMConfig, rm)):
        runs = [
            train(
                cfg_cls(
                    data=str(data),
                    model=model_dir,
                    out=str(tmp_path / f"{name}{gc}"),
                    max_steps=2,
                    lr=1e-3,
                    gradient_checkpointing=gc,
                )
            )
            for gc in (False, True)
        ]
        assert runs[1].metrics["train_loss"] == pytest.approx(runs[0].metrics["train_loss"], rel=1e-5)


def test_reward_model_learns_planted_preference(tiny_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "d" / "train.jsonl", planted_kwise_records(96, seed=1))
    write_jsonl(tmp_path / "d" / "validation.jsonl", planted_kwise_records(24, seed=2))  # held-out prompts
    rec = Recorder()
    cfg = RMConfig(
        data=str(tmp_path / "d"),
        model=str(tiny_dir),
        out=str(tmp_path / "rm"),
        epochs=3,
        batch_size=4,
        lr=2e-3,
        eval_every=24,
    )
    result = train_rm(cfg, progress=rec)
    assert result.steps == 72  # 96 prompts / 4 per step x 3 epochs
    assert result.metrics["val_accuracy"] > 0.9, result.metrics
    assert result.metrics["val_reward_gap"] > 0
    assert result.metrics["val_accuracy_gap_1"] == result.metrics["val_accuracy"]
    assert result.metrics["val_pairs"] == 48  # 24 prompts x 2 pairs (the two worse answers are tied)
    assert rec.steps()[0].metrics["pairs_per_step"] == 8  # 4 prompts x 2 pairs
    assert [e.step for e in rec.events if e.kind == "eval"] == [24, 48]  # the final eval is in metrics
    model, _ = load_reward_model(tmp_path / "rm")
    assert not model.training


def _final_tensors(path: Path, filename: str = "model.safetensors") -> dict[str, torch.Tensor]:
    return load_file(str(path / filename))


def _stop_after(n: int) -> Callable[[], bool]:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > n

    return should_stop


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_sft_resume_gives_identical_weights(tiny_dropout_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(6))
    # 6 examples, 2 per micro-batch, 2 micro-batches per step: the resume point is mid-epoch
    common = {"data": str(data), "model": str(tiny_dropout_dir), "max_steps": 6, "batch_size": 2}
    common |= {"grad_accum": 2, "lr": 1e-3, "warmup_steps": 2, "weight_decay": 0.1}
    full = train_sft(SFTConfig(out=str(tmp_path / "full"), **common))

    cfg = SFTConfig(out=str(tmp_path / "resumed"), **common)
    first = train_sft(cfg, should_stop=_stop_after(3))
    assert first.stopped_early and first.steps == 3
    assert first.checkpoint_dir and Path(first.checkpoint_dir).name == "step-00000003"
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    second = train_sft(SFTConfig(out=str(tmp_path / "resumed"), **common))  # fresh objects, resume=auto
    assert second.steps == 6 and not second.stopped_early

    _assert_same(_final_tensors(tmp_path / "full"), _final_tensors(tmp_path / "resumed"))
    assert second.metrics["train_loss"] == full.metrics["train_loss"]


def test_rm_resume_gives_identical_weights(tiny_dropout_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "kw.jsonl", planted_kwise_records(6, seed=3))
    common = {"data": str(data), "model": str(tiny_dropout_dir), "max_steps": 5, "batch_size": 2}
    common |= {"lr": 1e-3, "margin_scale": 0.5, "center_coef": 0.01, "save_every": 2, "keep_checkpoints": 2}
    train_rm(RMConfig(out=str(tmp_path / "full"), **common))
    first = train_rm(RMConfig(out=str(tmp_path / "resumed"), **common), should_stop=_stop_after(3))
    assert first.steps == 3
    assert [p.name for p in list_checkpoints(tmp_path / "resumed")] == ["step-00000002", "step-00000003"]
    train_rm(RMConfig(out=str(tmp_path / "resumed"), **common))
    for name in ("model.safetensors", "reward_head.safetensors"):
        _assert_same(_final_tensors(tmp_path / "full", name), _final_tensors(tmp_path / "resumed", name))


def test_cancel_stops_within_one_step(tiny_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(4))
    flag = {"stop": False}
    rec = Recorder()

    def progress(event: ProgressEvent) -> None:
        rec(event)
        if event.kind == "step" and event.step == 2:
            flag["stop"] = True  # e.g. a Celery task noticing a revoke request

    cfg = SFTConfig(
        data=str(data), model=str(tiny_dir), out=str(tmp_path / "out"), max_steps=50, batch_size=2
    )
    rng = torch.get_rng_state()
    result = train_sft(cfg, progress=progress, should_stop=lambda: flag["stop"])
    assert torch.equal(rng, torch.get_rng_state())  # a long-lived caller's RNG is left alone
    assert result.stopped_early and result.steps == 2
    assert [e.step for e in rec.steps()] == [1, 2]
    assert rec.events[-1].kind == "end" and rec.events[-1].metrics["stopped"] is True

    immediate = train_sft(
        SFTConfig(data=str(data), model=str(tiny_dir), out=str(tmp_path / "out2"), max_steps=50),
        should_stop=lambda: True,
    )
    assert immediate.stopped_early and immediate.steps == 0
