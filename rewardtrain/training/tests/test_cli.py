"""``python -m rewardtrain.training`` in a subprocess, single process and under torchrun (2 CPU ranks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.config import SFTConfig
from rewardtrain.training.modeling import load_model_and_tokenizer, load_reward_model
from rewardtrain.training.sft import train_sft

from .helpers import planted_kwise_records, sft_records, write_jsonl

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "rewardtrain.training"]


def _run(*parts: list[str], timeout: int = 120) -> subprocess.CompletedProcess[str]:
    args = [a for part in parts for a in part]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_cli_sft_and_rm(tiny_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "sft" / "train.jsonl", sft_records(4))
    write_jsonl(tmp_path / "sft" / "validation.jsonl", sft_records(2))
    sft_out = tmp_path / "sft_out"
    proc = _run(
        [*CLI, "sft", f"--data={tmp_path / 'sft'}", f"--model={tiny_dir}", f"--out={sft_out}"],
        ["--max-steps=2", "--batch-size=2", "--lr=1e-3", "--packing", "--no-bf16", "--progress=text"],
    )
    summary = json.loads(proc.stdout)
    assert summary["steps"] == 2 and "val_loss" in summary["metrics"]
    assert "2/2" in proc.stderr  # the progress bar
    model, _ = load_model_and_tokenizer(str(sft_out))
    assert model.config.n_layer == 2

    write_jsonl(tmp_path / "rm.jsonl", planted_kwise_records(4, seed=0))
    proc = _run(
        [*CLI, "rm", f"--data={tmp_path / 'rm.jsonl'}", f"--model={sft_out}", f"--out={tmp_path / 'rm_out'}"],
        ["--max-steps=2", "--margin-scale=1.0", "--progress=json"],
    )
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["kind"] for e in events] == ["start", "step", "step", "end", "result"]
    assert events[1]["accuracy"] is not None
    assert (tmp_path / "rm_out" / "reward_head.safetensors").is_file()
    rm, _ = load_reward_model(tmp_path / "rm_out")
    assert rm.head.in_features == 32


@pytest.mark.slow
def test_torchrun_two_ranks_match_single_process(tiny_dir: Path, tmp_path: Path) -> None:
    """2 ranks x micro-batch 1 see the same examples per step as 1 rank x micro-batch 2 (DDP over gloo)."""
    data = write_jsonl(tmp_path / "sft.jsonl", sft_records(8))
    common = {"data": str(data), "model": str(tiny_dir), "max_steps": 3, "lr": 1e-3, "device": "cpu"}
    train_sft(SFTConfig(out=str(tmp_path / "one"), batch_size=2, **common))  # in-process baseline
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in common.items()]
    _run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"],
        ["-m", "rewardtrain.training", "sft", *flags, "--batch-size=1", f"--out={tmp_path / 'two'}"],
        ["--progress=none"],
    )
    one = load_file(str(tmp_path / "one" / "model.safetensors"))
    two = load_file(str(tmp_path / "two" / "model.safetensors"))
    assert one.keys() == two.keys()
    for k in one:
        assert torch.allclose(one[k], two[k], atol=1e-5), k
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["steps"] == 3
