"""RL against a reward model: the estimators and the KL controller by hand, masks, and tiny runs with a planted
reward (a reward model trained on the planted "apple" rankings): learning, resume, cancel, torchrun."""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.cli import build_parser, config_argv, main
from rewardtrain.training.config import RLConfig, RMConfig, range_errors
from rewardtrain.training.data import encode_prompt
from rewardtrain.training.inference import sample
from rewardtrain.training.launch import TorchrunJob
from rewardtrain.training.modeling import load_model_and_tokenizer, load_reward_model
from rewardtrain.training.progress import ProgressEvent, format_event
from rewardtrain.training.rl import (
    AdaptiveKLController,
    RolloutMaker,
    answer_mask,
    clipped_surrogate,
    grpo_advantages,
    prompt_of,
    rloo_advantages,
    token_logprobs,
    train_rl,
)
from rewardtrain.training.rm import train_rm

from .helpers import planted_kwise_records, write_jsonl

# --------------------------------------------------------------------------- estimators, controller, masks


def test_rloo_baseline_is_the_mean_of_the_other_answers() -> None:
    adv = rloo_advantages(torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 0.0, 4.0]]))
    # 1 - (2+3+6)/3, 2 - (1+3+6)/3, 3 - (1+2+6)/3, 6 - (1+2+3)/3; second prompt: 0 - 4/3 (x3), 4 - 0
    expected = [[-8 / 3, -4 / 3, 0.0, 4.0], [-4 / 3, -4 / 3, -4 / 3, 4.0]]
    assert adv.tolist() == [pytest.approx(row) for row in expected]


def test_grpo_normalises_within_the_group() -> None:
    adv = grpo_advantages(torch.tensor([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]]))
    std = math.sqrt(14 / 3)  # deviations -2, -1, 0, 3: squares sum to 14, over k - 1 = 3
    assert adv[0].tolist() == pytest.approx([-2 / std, -1 / std, 0.0, 3 / std], rel=1e-5)
    assert adv[1].tolist() == [0.0, 0.0, 0.0, 0.0]  # equal rewards: no signal, and no division by zero


def test_adaptive_kl_controller_follows_ziegler() -> None:
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    ctl.update(12.0, 1000)  # error clipped to +0.2: beta * (1 + 0.2 * 1000 / 10000)
    assert ctl.value == pytest.approx(0.1 * 1.02)
    ctl.update(6.6, 1000)  # error 0.1
    assert ctl.value == pytest.approx(0.1 * 1.02 * 1.01)
    ctl.update(0.0, 5000)  # error clipped to -0.2
    assert ctl.value == pytest.approx(0.1 * 1.02 * 1.01 * 0.9)
    fixed = AdaptiveKLController(0.1, target=0.0)
    fixed.update(100.0, 10**6)
    assert fixed.value == 0.1


def test_answer_mask_keeps_tokens_up_to_the_first_stop() -> None:
    answers = torch.tensor([[5, 7, 2, 2, 2], [5, 7, 8, 9, 4], [2, 6, 2, 2, 2], [5, 3, 6, 2, 2]])
    mask = answer_mask(answers, [2, 3])
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]


def test_clipped_surrogate_by_hand() -> None:
    old = torch.zeros(2, 3)
    logp = torch.log(torch.tensor([[1.5, 0.9, 1.0], [1.5, 0.5, 7.0]]))
    adv = torch.tensor([2.0, -1.0])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    loss, clipped = clipped_surrogate(logp, old, adv, mask, clip_eps=0.2)
    # row 0 (A=2): ratio 1.5 -> min(3, 2.4) = 2.4 (clipped); ratio 0.9 -> min(1.8, 1.8) = 1.8
    # row 1 (A=-1): ratio 1.5 -> min(-1.5, -1.2) = -1.5; ratio 0.5 -> min(-0.5, -0.8) = -0.8 (clipped)
    # the third column is masked whatever its ratio
    assert float(loss) == pytest.approx(-(2.4 + 1.8 - 1.5 - 0.8))
    assert float(clipped) == 2.0


def test_prompt_records_in_every_export_format() -> None:
    chat = [{"role": "user", "content": "hi"}]
    assert prompt_of({"prompt": "plain"}) == "plain"
    assert prompt_of({"prompt": chat, "chosen": "a", "rejected": "b"}) == chat
    assert prompt_of({"messages": [*chat, {"role": "assistant", "content": "hello"}]}) == chat
    with pytest.raises(ValueError, match="prompt"):
        prompt_of({"messages": [{"role": "assistant", "content": "x"}]})


def test_invalid_settings_are_refused() -> None:
    options = {"samples_per_prompt": 1, "estimator": "ppo", "lora_r": 4}
    assert set(range_errors(options, "rl")) == {"samples_per_prompt", "estimator", "lora_r"}
    assert set(range_errors(options)) == {"samples_per_prompt", "estimator"}  # other runs may use LoRA
    with pytest.raises(ValueError, match="lora_r"):
        train_rl(RLConfig(data="d", model="m", out="o", reward_model="r", lora_r=4))
    with pytest.raises(ValueError, match="top_p"):
        train_rl(RLConfig(data="d", model="m", out="o", reward_model="r", top_p=0.0))


# --------------------------------------------------------------------------- tiny runs


@pytest.fixture(scope="module")
def planted_rm(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reward model that prefers answers mentioning "apple" (trained on the planted rankings)."""
    root = tmp_path_factory.mktemp("planted_rm")
    write_jsonl(root / "train.jsonl", planted_kwise_records(96, seed=1))
    data, out = str(root / "train.jsonl"), str(root / "rm")
    train_rm(RMConfig(data=data, model=str(tiny_dir), out=out, epochs=3, batch_size=4, lr=2e-3))
    return root / "rm"


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rl_prompts")
    records = [
        {"prompt": r["prompt"], "prompt_id": r["prompt_id"]} for r in planted_kwise_records(64, seed=5)
    ]
    write_jsonl(root / "train.jsonl", records[:48])
    write_jsonl(root / "validation.jsonl", records[48:])  # held-out prompts
    return root


def _config(tiny_dir: Path, rm: Path, prompts: Path, out: Path, **overrides: Any) -> RLConfig:
    fields: dict[str, Any] = {"max_steps": 4, "batch_size": 4, "lr": 3e-3, "max_new_tokens": 8}
    fields |= {"kl_coef": 0.05, "kl_horizon": 200, "device": "cpu", "bf16": False, **overrides}
    return RLConfig(data=str(prompts), model=str(tiny_dir), reward_model=str(rm), out=str(out), **fields)


class Recorder:
    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        format_event(event)
        json.dumps(event.to_dict())  # what reaches the run must be JSON
        self.events.append(event)

    def of(self, kind: str) -> list[ProgressEvent]:
        return [e for e in self.events if e.kind == kind]


def test_logprobs_do_not_depend_on_left_padding(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    model.eval()
    prompts = ["a short one", "a much longer prompt with several more words in it"]
    answer = tok("apple banana", add_special_tokens=False)["input_ids"]
    rows = [encode_prompt(tok, p) + answer for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[tok.pad_token_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    with torch.no_grad():
        batched, _ = token_logprobs(model, ids, mask, len(answer), 1.0)
        for i, r in enumerate(rows):
            alone, _ = token_logprobs(model, torch.tensor([r]), torch.ones(1, len(r)), len(answer), 1.0)
            assert torch.allclose(batched[i], alone[0], atol=1e-5)


def test_rollout_is_masked_after_the_stop_and_starts_at_zero_kl(tiny_dir: Path, planted_rm: Path) -> None:
    from rewardtrain.training.rl import PromptItem

    torch.manual_seed(0)
    policy, tok = load_model_and_tokenizer(str(tiny_dir))
    policy.eval()
    reference, _ = load_model_and_tokenizer(str(tiny_dir))
    rm, rm_tok = load_reward_model(planted_rm)
    config = RLConfig(data="", model="", out="", reward_model="", max_new_tokens=6, max_length=64)
    maker = RolloutMaker(
        config, tok, reference.eval(), rm, rm_tok, torch.device("cpu"), torch.autocast("cpu", enabled=False)
    )
    items = [PromptItem([{"role": "user", "content": "one"}]), PromptItem("two three four")]
    rollout = maker.make(policy, items, k=3)
    assert rollout.input_ids.shape[0] == 6 and rollout.scores.shape == (6,)
    answers = rollout.input_ids[:, -rollout.answer_width :]
    for row, m, ended in zip(
        answers.tolist(), rollout.answer_mask.tolist(), rollout.ended.tolist(), strict=True
    ):
        n = sum(m)
        assert m == [1] * n + [0] * (len(m) - n)
        assert (row[n - 1] in maker.stops) == ended  # the stop token itself carries loss
        assert not any(t in maker.stops for t in row[: n - 1])
    assert torch.equal(rollout.kl, torch.zeros(6))  # policy == reference
    assert rollout.scores.tolist() == pytest.approx(
        [float(s) for s in _scores(rm, rm_tok, items, rollout.texts)], abs=1e-5
    )


def _scores(rm: Any, tok: Any, items: list[Any], texts: list[str]) -> list[float]:
    from rewardtrain.training.inference import score_texts

    return score_texts(rm, tok, [i.prompt for i in items for _ in range(3)], texts)


def test_rloo_run_raises_held_out_reward_within_the_kl_target(
    tiny_dir: Path, planted_rm: Path, prompts: Path, tmp_path: Path
) -> None:
    rec = Recorder()
    config = _config(
        tiny_dir,
        planted_rm,
        prompts,
        tmp_path / "out",
        max_steps=20,
        batch_size=8,
        max_new_tokens=12,
        kl_target=4.0,
        eval_every=10,
        sample_every=10,
    )
    result = train_rl(config, progress=rec)
    assert result.steps == 20 and not result.stopped_early
    start = rec.of("eval")[0]
    assert start.step == 0 and [e.step for e in rec.of("eval")] == [0, 10]
    assert result.metrics["val_reward"] >= start.metrics["val_reward"] + 1.0, (start.metrics, result.metrics)
    assert result.metrics["val_kl"] <= 2 * config.kl_target
    steps = rec.of("step")
    assert len(steps) == 20
    for key in ("reward", "kl", "answer_length", "entropy", "clip_frac", "kl_coef"):
        assert all(math.isfinite(e.metrics[key]) for e in steps), key
    assert steps[0].metrics["kl"] == pytest.approx(0.0, abs=1e-6)  # sampled from the reference itself
    assert steps[-1].metrics["kl"] > 0 and steps[-1].metrics["kl_coef"] != config.kl_coef  # beta adapted
    tables = rec.of("samples")
    assert [e.step for e in tables] == [10, 20] and len(tables[0].samples or []) == config.sample_rows
    assert {"prompt", "answer", "reward", "kl", "length"} <= set(tables[0].samples[0])
    # the policy is a plain causal LM folder that samples
    model, tok = load_model_and_tokenizer(str(tmp_path / "out"))
    assert len(sample(model, tok, ["hello"], n=2, max_new_tokens=4)[0]) == 2


def _stop_after(n: int) -> Callable[[], bool]:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > n

    return should_stop


def test_resume_equals_an_uninterrupted_run(
    tiny_dir: Path, planted_rm: Path, prompts: Path, tmp_path: Path
) -> None:
    common = {"max_steps": 4, "kl_target": 1.0, "estimator": "grpo", "weight_decay": 0.1}
    full = train_rl(_config(tiny_dir, planted_rm, prompts, tmp_path / "full", **common))
    first = train_rl(
        _config(tiny_dir, planted_rm, prompts, tmp_path / "resumed", **common), should_stop=_stop_after(2)
    )
    assert first.stopped_early and first.steps == 2
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    second = train_rl(_config(tiny_dir, planted_rm, prompts, tmp_path / "resumed", **common))
    assert second.steps == 4 and not second.stopped_early
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for key in ("kl_coef", "train_reward", "train_kl", "val_reward"):
        assert second.metrics[key] == full.metrics[key], key


def test_cancel_stops_within_one_step(
    tiny_dir: Path, planted_rm: Path, prompts: Path, tmp_path: Path
) -> None:
    flag = {"stop": False}
    rec = Recorder()

    def progress(event: ProgressEvent) -> None:
        rec(event)
        if event.kind == "step" and event.step == 2:
            flag["stop"] = True

    rng = torch.get_rng_state()
    config = _config(tiny_dir, planted_rm, prompts, tmp_path / "out", max_steps=50)
    result = train_rl(config, progress=progress, should_stop=lambda: flag["stop"])
    assert torch.equal(rng, torch.get_rng_state())
    assert result.stopped_early and result.steps == 2 and result.checkpoint_dir
    assert [e.step for e in rec.of("step")] == [1, 2]
    assert rec.events[-1].kind == "end" and rec.events[-1].metrics["stopped"] is True


def test_cli_rl_round_trip(
    tiny_dir: Path, planted_rm: Path, prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tiny_dir, planted_rm, prompts, tmp_path / "out", max_steps=2, estimator="grpo", kl_target=2.0
    )
    args = vars(build_parser().parse_args(config_argv("rl", config)))
    args.pop("command"), args.pop("progress"), args.pop("stop_file")
    assert RLConfig(**args) == config
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main([*config_argv("rl", config), "--progress=none"]) == 0
    finally:  # main() installs its stop handlers; give pytest its own back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and "train_clip_frac" in summary["metrics"]
    saved = json.loads((tmp_path / "out" / "training_config.json").read_text())
    assert saved["kind"] == "RLConfig" and saved["estimator"] == "grpo"


@pytest.mark.slow
def test_two_ranks_under_torchrun(tiny_dir: Path, planted_rm: Path, prompts: Path, tmp_path: Path) -> None:
    config = _config(tiny_dir, planted_rm, prompts, tmp_path / "out", max_steps=2, batch_size=2, eval_every=1)
    events: list[dict[str, Any]] = []
    result = TorchrunJob("rl", config, nproc=2, work_dir=tmp_path / "work").run(on_event=events.append)
    assert result.steps == 2 and not result.stopped_early
    assert [e["kind"] for e in events] == ["start", "eval", "step", "eval", "step", "end"]
    assert events[0]["metrics"]["world_size"] == 2 and events[0]["metrics"]["samples_per_step"] == 16
    assert events[2]["metrics"]["kl"] == pytest.approx(0.0, abs=1e-6)
    assert result.metrics["val_answers"] == 16 * 4  # the held-out prompts split over both ranks, k each
    load_model_and_tokenizer(str(tmp_path / "out"))
