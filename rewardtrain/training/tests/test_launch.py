"""Training under torchrun as a supervised child process group (2 CPU ranks over gloo)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardtrain.training.cli import build_parser, config_argv
from rewardtrain.training.config import DPOConfig, RMConfig, SFTConfig
from rewardtrain.training.launch import RankFailed, TorchrunJob

from .helpers import planted_kwise_records, write_jsonl

REPO_ROOT = Path(__file__).resolve().parents[3]


def _rm_config(tiny_dir: Path, tmp_path: Path, out: str, **overrides) -> RMConfig:
    data = tmp_path / "rm.jsonl"
    if not data.exists():
        write_jsonl(data, planted_kwise_records(16, seed=3))
    fields = {"max_steps": 4, "batch_size": 1, "lr": 1e-3, "device": "cpu", "bf16": False, **overrides}
    return RMConfig(data=str(data), model=str(tiny_dir), out=str(tmp_path / out), **fields)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return {
        **load_file(str(folder / "model.safetensors")),
        **load_file(str(folder / "reward_head.safetensors")),
    }


@pytest.mark.parametrize(
    "config",
    [
        SFTConfig(data="d", model="m", out="o", max_steps=3, packing=True, bf16=False, warmup_steps=2),
        RMConfig(data="d", model="m", out="o", eval_data="e", margin_scale=0.5, gguf_file="x.gguf"),
        DPOConfig(data="d", model="m", out="o", beta=0.2, deterministic=False),
    ],
)
def test_config_argv_parses_back_to_the_same_config(config) -> None:
    command = {SFTConfig: "sft", RMConfig: "rm", DPOConfig: "dpo"}[type(config)]
    args = vars(build_parser().parse_args(config_argv(command, config)))
    args.pop("command"), args.pop("progress"), args.pop("stop_file")
    assert type(config)(**args) == config


@pytest.mark.slow
def test_two_ranks_under_the_launcher_match_the_command_line_ddp_run(tiny_dir: Path, tmp_path: Path) -> None:
    config = _rm_config(tiny_dir, tmp_path, "launched")
    events: list[dict] = []
    result = TorchrunJob("rm", config, nproc=2, work_dir=tmp_path / "work").run(on_event=events.append)
    assert result.steps == 4 and not result.stopped_early
    assert [e["kind"] for e in events] == ["start", "step", "step", "step", "step", "end"]
    assert events[1]["accuracy"] is not None
    assert result.metrics.items() <= events[-1]["metrics"].items()

    by_hand = _rm_config(tiny_dir, tmp_path, "by-hand")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    subprocess.run(
        [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"),
            *("-m", "rewardtrain.training", *config_argv("rm", by_hand), "--progress=none"),
        ],
        cwd=REPO_ROOT,
        env={**env, "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    launched, manual = _weights(Path(config.out)), _weights(Path(by_hand.out))
    assert launched.keys() == manual.keys()
    for name in launched:
        assert torch.equal(launched[name], manual[name]), name


@pytest.mark.slow
def test_cancel_stops_every_rank_within_one_step_then_resumes(tiny_dir: Path, tmp_path: Path) -> None:
    config = _rm_config(tiny_dir, tmp_path, "out", max_steps=40)
    seen: list[int] = []

    def on_event(event: dict) -> None:
        if event["kind"] == "step":
            seen.append(event["step"])

    job = TorchrunJob("rm", config, nproc=2, work_dir=tmp_path / "work")
    result = job.run(on_event=on_event, should_stop=lambda: len(seen) >= 2)
    assert result.stopped_early and result.checkpoint_dir
    assert result.steps <= seen[1] + 2  # asked after step 2 was reported; the ranks agree at a step's end
    assert result.steps < 40
    resumed = job.run()
    assert resumed.steps == 40 and not resumed.stopped_early


@pytest.mark.slow
def test_a_crashing_rank_fails_the_job_with_its_traceback(tiny_dir: Path, tmp_path: Path) -> None:
    config = _rm_config(tiny_dir, tmp_path, "out", max_steps=20)
    job = TorchrunJob("rm", config, nproc=2, work_dir=tmp_path / "work", env={"REWARDTRAIN_FAULT": "1:2"})
    with pytest.raises(RankFailed) as failed:
        job.run()
    assert failed.value.rank == 1
    assert "Traceback" in failed.value.rank_traceback and "injected fault" in failed.value.rank_traceback
    assert "rank 1 failed" in str(failed.value)


_SUPERVISOR = """
import sys
from pathlib import Path
from rewardtrain.training.config import RMConfig
from rewardtrain.training.launch import TorchrunJob
data, model, out = sys.argv[1:4]
config = RMConfig(data=data, model=model, out=out, max_steps=10_000, batch_size=1, device="cpu", bf16=False)
TorchrunJob("rm", config, nproc=2, work_dir=Path(out) / "work").run(on_event=lambda e: print(e["kind"], flush=True))
"""


@pytest.mark.slow
def test_no_rank_outlives_a_supervisor_killed_with_sigkill(tiny_dir: Path, tmp_path: Path) -> None:
    """A Celery worker killed hard (OOM, time limit) takes its torchrun group with it."""
    config = _rm_config(tiny_dir, tmp_path, "out")
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, config.data, config.model, config.out],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in supervisor.stdout:  # training has started on every rank
            if line.strip() == "step":
                break
        supervisor.kill()
        supervisor.wait(timeout=10)
        deadline = time.monotonic() + 60
        while _processes_naming(config.out) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _processes_naming(config.out)
    finally:
        supervisor.kill()
        subprocess.run(["pkill", "-9", "-f", config.out], check=False)


def _processes_naming(text: str) -> str:
    return subprocess.run(["pgrep", "-af", text], capture_output=True, text=True).stdout.strip()
