"""LoRA (peft) as a run option: what trains, merged and adapter saves, DPO's reference, resume, DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.cli import build_parser, config_argv
from rewardtrain.training.config import DPOConfig, RMConfig, SFTConfig
from rewardtrain.training.dpo import DPOTask, precompute_reference, tokenize_preferences, train_dpo
from rewardtrain.training.inference import sample, score_texts
from rewardtrain.training.lora import add_lora, add_lora_to_reward_model, resolve_target_modules
from rewardtrain.training.modeling import (
    RewardModel,
    freeze_lower_layers,
    is_adapter_dir,
    load_model_and_tokenizer,
    load_reward_model,
    load_tokenizer,
)
from rewardtrain.training.rm import RewardTask, load_rm_items, train_rm
from rewardtrain.training.sft import train_sft
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer
from rewardtrain.training.trainer import build_optimizer

from .helpers import CORPUS, planted_kwise_records, planted_pairwise_records, sft_records, write_jsonl

REPO_ROOT = Path(__file__).resolve().parents[3]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
GPT2_TARGETS = ("attn.c_attn.", "attn.c_proj.", "mlp.c_fc.", "mlp.c_proj.")


def _lora(**overrides: object) -> dict[str, object]:
    return {"lora_r": 4, "lora_alpha": 8.0, "lr": 1e-2, "max_steps": 2, **overrides}


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("tiny_dir", ["c_attn", "c_fc", "c_proj"]),
        (
            "tiny_llama_plain_dir",
            ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"],
        ),
    ],
)
def test_auto_targets_are_the_block_linears(
    fixture: str, expected: list[str], request: pytest.FixtureRequest
) -> None:
    model_dir = str(request.getfixturevalue(fixture))
    lm, _ = load_model_and_tokenizer(model_dir)
    assert resolve_target_modules(lm, "auto") == expected
    assert resolve_target_modules(RewardModel.from_backbone(model_dir).backbone, "auto") == expected
    assert resolve_target_modules(lm, f" {expected[0]} , {expected[1]}") == expected[:2]
    with pytest.raises(ValueError, match="no linear layer named wte"):
        resolve_target_modules(lm, f"{expected[0]},wte")


def test_invalid_lora_settings_are_refused(tmp_path: Path) -> None:
    common = {"data": str(tmp_path), "model": str(tmp_path), "out": str(tmp_path / "o")}
    with pytest.raises(ValueError, match="lora_r"):
        train_sft(SFTConfig(lora_r=-1, **common))
    with pytest.raises(ValueError, match="lora_dropout"):
        train_rm(RMConfig(lora_r=2, lora_dropout=1.0, **common))
    with pytest.raises(ValueError, match="lora_alpha"):
        train_dpo(DPOConfig(lora_r=2, lora_alpha=0, **common))


def test_lora_flags_round_trip_through_the_cli() -> None:
    config = RMConfig(
        data="d",
        model="m",
        out="o",
        lora_r=8,
        lora_alpha=32.0,
        lora_dropout=0.05,
        lora_target_modules="c_attn",
    )
    config.lora_merge = False
    parsed = vars(build_parser().parse_args(config_argv("rm", config)))
    assert RMConfig(**{k: parsed[k] for k in config.to_dict()}) == config


def test_reward_model_trains_only_adapters_and_head(tiny_dir: Path, tmp_path: Path) -> None:
    model = RewardModel.from_backbone(str(tiny_dir))
    tokenizer = load_tokenizer(str(tiny_dir))
    config = RMConfig(data="", model=str(tiny_dir), out="", lora_r=2, lr=1e-2, center_coef=0.1)
    add_lora_to_reward_model(model, config)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n in trainable if ".lora_" in n} | {"head.weight", "head.bias"}
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert n_trainable < 0.05 * sum(p.numel() for p in model.parameters())
    optimizer = build_optimizer(model, config, torch.device("cpu"))
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == n_trainable

    records = write_jsonl(tmp_path / "rank.jsonl", planted_kwise_records(4, seed=5))
    task = RewardTask(tokenizer, config)
    batch = task.collate(load_rm_items(records, tokenizer, config))
    before = _state(model)
    for _ in range(2):
        task.forward_loss(model, batch).loss_sum.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = _state(model)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert {k for k in changed if "lora_B" in k} and {"head.weight", "head.bias"} <= changed
    assert all(".lora_" in k or k.startswith("head.") for k in changed), sorted(changed)

    # With --freeze-layers the adapters of the frozen layers are frozen too.
    freeze_lower_layers(model, 1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not {n for n in trainable if ".h.0." in n} and {n for n in trainable if ".h.1." in n}


def test_sft_merged_and_adapter_saves_load_the_same(tiny_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(4))
    for merge in (True, False):
        train_sft(
            SFTConfig(
                data=str(data),
                model=str(tiny_dir),
                out=str(tmp_path / f"m{merge}"),
                lora_merge=merge,
                **_lora(),
            )
        )
    merged_dir, adapter_dir = tmp_path / "mTrue", tmp_path / "mFalse"
    assert not is_adapter_dir(merged_dir) and is_adapter_dir(adapter_dir)
    assert not (adapter_dir / "model.safetensors").exists()
    adapter = load_file(str(adapter_dir / "adapter_model.safetensors"))
    assert adapter and all(".lora_" in k for k in adapter)
    # The base is named as the run was given it.
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        tiny_dir
    )

    # Merged: only the adapted layers' weights moved; embeddings, norms and biases are the base's.
    base = load_file(str(tiny_dir / "model.safetensors"))
    merged = load_file(str(merged_dir / "model.safetensors"))
    changed = {k for k in base if not torch.equal(base[k], merged[k])}
    assert changed and all(k.endswith(".weight") and any(t in k for t in GPT2_TARGETS) for k in changed), (
        changed
    )

    ids = torch.tensor([[5, 17, 42, 99, 3, 8]])
    (m1, tok1), (m2, tok2) = (
        load_model_and_tokenizer(str(merged_dir)),
        load_model_and_tokenizer(str(adapter_dir)),
    )
    base_model, _ = load_model_and_tokenizer(str(tiny_dir))
    with torch.no_grad():
        logits = [m(ids).logits for m in (m1, m2, base_model)]
    assert torch.allclose(logits[0], logits[1], atol=1e-5)
    assert not torch.allclose(logits[0], logits[2], atol=1e-3)
    prompts = [[{"role": "user", "content": "count 3"}]]
    assert sample(m1, tok1, prompts, temperature=0, max_new_tokens=8) == sample(
        m2, tok2, prompts, temperature=0, max_new_tokens=8
    )
    # A reward model can start from either folder (the SFT adapter's weights are named inside the causal LM).
    with torch.no_grad():
        hidden = [
            RewardModel.from_backbone(str(d)).backbone(ids).last_hidden_state
            for d in (merged_dir, adapter_dir)
        ]
    assert torch.allclose(hidden[0], hidden[1], atol=1e-5)
    # A base that now lives elsewhere on this host is passed explicitly (offline, a local directory).
    moved = tmp_path / "moved_base"
    shutil.copytree(tiny_dir, moved)
    m3, _ = load_model_and_tokenizer(str(adapter_dir), base_model=str(moved))
    with torch.no_grad():
        assert torch.equal(m3(ids).logits, logits[1])


def test_adapter_save_keeps_the_rows_of_a_grown_vocabulary(tmp_path: Path) -> None:
    """A tokenizer without EOS gets a new pad token, so the embeddings grow (new rows are random): the adapter
    folder must carry them, or the loaded model would differ from the merged one."""
    build_tiny_model_and_tokenizer(tmp_path / "base", arch="llama", corpus=CORPUS)
    tok_config = json.loads((tmp_path / "base" / "tokenizer_config.json").read_text())
    for key in ("eos_token", "bos_token", "pad_token"):
        tok_config.pop(key, None)
    (tmp_path / "base" / "tokenizer_config.json").write_text(json.dumps(tok_config))
    pad_id = load_tokenizer(str(tmp_path / "base")).pad_token_id
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(4))
    for merge in (True, False):
        out = str(tmp_path / f"m{merge}")
        train_sft(
            SFTConfig(data=str(data), model=str(tmp_path / "base"), out=out, lora_merge=merge, **_lora())
        )
    assert "base_model.model.model.embed_tokens.weight" in load_file(
        str(tmp_path / "mFalse" / "adapter_model.safetensors")
    )
    ids = torch.tensor([[5, 17, 42, pad_id]])
    with torch.no_grad():
        a, b = (load_model_and_tokenizer(str(tmp_path / f"m{m}"))[0](ids).logits for m in (True, False))
    assert a.shape[-1] == pad_id + 1 and torch.allclose(a, b, atol=1e-5)


def test_rm_merged_and_adapter_saves_score_the_same(tiny_llama_plain_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rank.jsonl", planted_kwise_records(6, seed=2))
    for merge in (True, False):
        out = tmp_path / f"rm{merge}"
        train_rm(
            RMConfig(
                data=str(data), model=str(tiny_llama_plain_dir), out=str(out), lora_merge=merge, **_lora()
            )
        )
    meta = json.loads((tmp_path / "rmFalse" / "reward_model.json").read_text())
    assert meta["adapter"] is True and meta["backbone_class"] == "LlamaModel"
    assert is_adapter_dir(tmp_path / "rmFalse") and not is_adapter_dir(tmp_path / "rmTrue")
    prompts = ["which fruit?", "which fruit?", "say something"]
    answers = ["apple the a", "banana of it", "one two three"]
    scores = []
    for merge in (True, False):
        model, tokenizer = load_reward_model(tmp_path / f"rm{merge}")
        scores.append(score_texts(model, tokenizer, prompts, answers))
    assert scores[0] == pytest.approx(scores[1], abs=1e-5)
    heads = [load_file(str(tmp_path / f"rm{m}" / "reward_head.safetensors")) for m in (True, False)]
    _assert_same(heads[0], heads[1])


def test_dpo_reference_is_the_base_with_adapters_off(tiny_dir: Path, tmp_path: Path) -> None:
    policy, tokenizer = load_model_and_tokenizer(str(tiny_dir))
    policy = add_lora(policy, DPOConfig(data="", model=str(tiny_dir), out="", lora_r=4), causal_lm=True)
    with torch.no_grad():  # trained-looking adapters, so that switching them off matters
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)
    records = planted_pairwise_records(4, seed=4)
    pairs = {k: tokenize_preferences(records, tokenizer, 256) for k in ("off", "on", "base")}
    task = DPOTask(tokenizer, DPOConfig(data="", model="", out="", batch_size=4))
    args = (task, torch.device("cpu"), torch.autocast("cpu", enabled=False))
    with policy.disable_adapter():
        precompute_reference(policy, pairs["off"], *args)
    precompute_reference(policy, pairs["on"], *args)
    precompute_reference(load_model_and_tokenizer(str(tiny_dir))[0], pairs["base"], *args)
    logps = {k: [p.ref_logps for p in v] for k, v in pairs.items()}
    assert logps["off"] == logps["base"]
    assert logps["on"] != logps["base"]

    # A run with the built-in reference equals one given the same base as a separate reference model.
    data = write_jsonl(tmp_path / "pairs.jsonl", records)
    common = {"data": str(data), "model": str(tiny_dir), "batch_size": 2, "beta": 0.5, **_lora()}
    own = train_dpo(DPOConfig(out=str(tmp_path / "own"), **common))
    separate = train_dpo(
        DPOConfig(out=str(tmp_path / "sep"), ref_model=str(tiny_dir), lora_merge=False, **common)
    )
    assert own.metrics == pytest.approx(
        {
            **separate.metrics,
            "elapsed_s": own.metrics["elapsed_s"],
            "tokens_per_s": own.metrics["tokens_per_s"],
        }
    )
    ids = torch.tensor([[5, 17, 42, 99, 3, 8]])
    with torch.no_grad():
        a = load_model_and_tokenizer(str(tmp_path / "own"))[0](ids).logits
        b = load_model_and_tokenizer(str(tmp_path / "sep"))[0](ids).logits
    assert torch.allclose(a, b, atol=1e-5)


def _stop_after(n: int):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > n

    return should_stop


def test_sft_resume_with_lora_gives_identical_adapters(tiny_dropout_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(6))
    common = {"data": str(data), "model": str(tiny_dropout_dir), "batch_size": 2, "grad_accum": 2}
    common |= _lora(max_steps=4, lora_dropout=0.1, lora_merge=False, warmup_steps=1)
    full = train_sft(SFTConfig(out=str(tmp_path / "full"), **common))
    first = train_sft(SFTConfig(out=str(tmp_path / "resumed"), **common), should_stop=_stop_after(2))
    assert first.stopped_early and first.checkpoint_dir
    saved = load_file(str(Path(first.checkpoint_dir) / "model.safetensors"))
    assert saved and all(".lora_" in k for k in saved)  # the frozen base is not copied into checkpoints
    second = train_sft(SFTConfig(out=str(tmp_path / "resumed"), **common))
    assert second.steps == 4 and second.metrics["train_loss"] == full.metrics["train_loss"]
    name = "adapter_model.safetensors"
    _assert_same(load_file(str(tmp_path / "full" / name)), load_file(str(tmp_path / "resumed" / name)))


def test_rm_resume_with_lora_gives_identical_adapter_and_head(tiny_dropout_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "kw.jsonl", planted_kwise_records(6, seed=3))
    common = {"data": str(data), "model": str(tiny_dropout_dir), "batch_size": 2}
    common |= _lora(max_steps=4, lora_dropout=0.1, lora_merge=False, center_coef=0.01)
    train_rm(RMConfig(out=str(tmp_path / "full"), **common))
    first = train_rm(RMConfig(out=str(tmp_path / "resumed"), **common), should_stop=_stop_after(2))
    assert first.steps == 2
    assert set(load_file(str(Path(first.checkpoint_dir or "") / "model.safetensors"))) >= {"head.weight"}
    train_rm(RMConfig(out=str(tmp_path / "resumed"), **common))
    for name in ("adapter_model.safetensors", "reward_head.safetensors"):
        _assert_same(load_file(str(tmp_path / "full" / name)), load_file(str(tmp_path / "resumed" / name)))

    # A LoRA checkpoint is not silently loaded into a run without LoRA.
    other = {**common, "lora_r": 0, "resume": first.checkpoint_dir or ""}
    with pytest.raises(RuntimeError, match="trainable parameters"):
        train_rm(RMConfig(out=str(tmp_path / "other"), **other))


@pytest.mark.parametrize("fixture", ["tiny_dir", "tiny_llama_plain_dir"])
def test_gradient_checkpointing_with_lora_gives_the_same_losses(
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
                    gradient_checkpointing=gc,
                    **_lora(),
                )
            )
            for gc in (False, True)
        ]
        assert runs[1].metrics["train_loss"] == pytest.approx(runs[0].metrics["train_loss"], rel=1e-5)
        assert runs[1].metrics["train_grad_norm"] > 0


@pytest.mark.slow
def test_torchrun_two_ranks_with_lora_match_single_process(tiny_dir: Path, tmp_path: Path) -> None:
    """DDP over the LoRA-wrapped reward model: 2 ranks x 1 prompt equal 1 rank x 2 prompts. (``center_coef``
    gives the head's bias a gradient: without it the bias only sees rounding noise, which Adam amplifies.)"""
    data = write_jsonl(tmp_path / "rm.jsonl", planted_kwise_records(8, seed=1))
    common = {
        "data": str(data),
        "model": str(tiny_dir),
        "device": "cpu",
        "lora_merge": False,
        "center_coef": 0.1,
        **_lora(max_steps=3),
    }
    train_rm(RMConfig(out=str(tmp_path / "one"), batch_size=2, **common))
    argv = config_argv("rm", RMConfig(out=str(tmp_path / "two"), batch_size=1, **common))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run(
        [*TORCHRUN, "-m", "rewardtrain.training", *argv, "--progress=none"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("adapter_model.safetensors", "reward_head.safetensors"):
        one, two = load_file(str(tmp_path / "one" / name)), load_file(str(tmp_path / "two" / name))
        assert one.keys() == two.keys()
        for k in one:
            assert torch.allclose(one[k], two[k], atol=1e-5), k
