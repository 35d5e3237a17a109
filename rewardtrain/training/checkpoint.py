"""Resumable checkpoints.

Layout of ``out/checkpoints/step-00000042/``::

    model.safetensors        module weights (tied tensors stored once); with LoRA only the trainable ones
                             (adapters, reward head): the frozen base is rebuilt from the starting model
    optimizer.pt             optimizer + LR-scheduler state (torch.save, loaded with weights_only=True)
    rng_rank{R}.pt           torch (+ CUDA) RNG state of every rank (dropout must replay identically)
    trainer_state.json       step, data position (micro-batch index, epoch), world size, metrics

A checkpoint is written to a temporary directory and renamed when complete, so a crash while saving never
leaves a half-written checkpoint that ``resume=auto`` would pick up.
"""

from __future__ import annotations

import json
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from .distributed import DistEnv

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "trainer_state.json"


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_root(out_dir: str | Path) -> Path:
    return Path(out_dir) / CHECKPOINT_DIR


def list_checkpoints(out_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_root(out_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def find_resume_checkpoint(out_dir: str | Path, resume: str) -> Path | None:
    """``resume`` is ``auto`` (newest in ``out/checkpoints``), ``no``, or a checkpoint directory."""
    if resume in ("no", "none", "false", ""):
        return None
    if resume == "auto":
        found = list_checkpoints(out_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(f"not a checkpoint directory: {resume}")
    return path


def save_checkpoint(
    out_dir: str | Path,
    env: DistEnv,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    keep: int = 1,
    trainable_only: bool = False,
) -> Path:
    """Collective call (every rank must call it); rank 0 writes everything except per-rank RNG state.

    ``trainable_only`` (LoRA) stores just the parameters that train; ``load_checkpoint`` then expects every
    other parameter of the model to be frozen, i.e. rebuilt unchanged from the starting model."""
    root = checkpoint_root(out_dir)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    if env.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if trainable_only:
            trainable = {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
            save_file(trainable, str(tmp / "model.safetensors"))
        else:
            save_model(model, str(tmp / "model.safetensors"))
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optimizer.pt"
        )
    env.barrier()
    torch.save(_rng_state(), tmp / f"rng_rank{env.rank}.pt")
    env.barrier()
    if env.is_main:
        payload = {"step": step, "world_size": env.world_size, **state}
        payload["weights"] = "trainable" if trainable_only else "all"
        (tmp / STATE_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in list_checkpoints(out_dir)[: -max(1, keep)]:
            shutil.rmtree(old, ignore_errors=True)
    env.barrier()
    return final


def load_checkpoint(
    path: str | Path,
    env: DistEnv,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> dict[str, Any]:
    """Restore weights, optimizer/scheduler and this rank's RNG state; returns ``trainer_state.json``."""
    path = Path(path)
    state = json.loads((path / STATE_FILE).read_text())
    if state.get("weights") == "trainable":
        _load_trainable(model, path / "model.safetensors", env.device)
    else:
        load_model(model, str(path / "model.safetensors"), device=str(env.device))
    opt = torch.load(path / "optimizer.pt", map_location=env.device, weights_only=True)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    rng_file = path / f"rng_rank{env.rank}.pt"
    if state.get("world_size") != env.world_size:
        warnings.warn(
            f"checkpoint was written with world_size={state.get('world_size')}, now {env.world_size}: "
            "training continues but the data order (and so the result) differs from an uninterrupted run",
            stacklevel=2,
        )
    if rng_file.is_file():
        _set_rng_state(torch.load(rng_file, weights_only=True))
    return state


def _load_trainable(model: nn.Module, file: Path, device: torch.device) -> None:
    """Load a ``trainable_only`` checkpoint: it must cover exactly the model's trainable parameters."""
    saved = load_file(str(file), device=str(device))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(saved) != trainable:
        missing, unexpected = sorted(trainable - set(saved)), sorted(set(saved) - trainable)
        raise RuntimeError(
            f"checkpoint {file.parent} does not match the model's trainable parameters (were the LoRA or "
            f"freezing settings changed?): missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.load_state_dict(saved, strict=False)
