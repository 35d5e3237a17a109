"""The training loop shared by SFT and reward-model training.

What differs between the two lives in a small ``Task`` object (collate, loss, evaluation, final save);
everything else (optimizer, schedule, accumulation, DDP, checkpoints, progress, cancellation) is here.

Loss normalisation: each task says how many "items" a micro-batch holds (SFT: answer tokens that carry
loss; RM: prompts). The loss of one optimizer step is ``sum of item losses / items in the whole step``,
counted over all micro-batches of the accumulation window and all ranks, so the update does not depend on
how the step is split into micro-batches or processes.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from .checkpoint import find_resume_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import MicroBatchPlan
from .distributed import DistEnv, init_distributed, shutdown_distributed, unwrap_model, wrap_model
from .modeling import enable_activation_checkpointing
from .progress import ProgressCallback, ProgressEvent


@dataclass
class TrainResult:
    output_dir: str
    metrics: dict[str, float]
    steps: int
    stopped_early: bool
    checkpoint_dir: str | None = None
    """Newest resumable checkpoint (set when stopped early, or when checkpoints were kept)."""


@dataclass
class LossOutput:
    loss_sum: torch.Tensor
    """Sum over the micro-batch's items of their loss (with grad)."""
    stats: dict[str, float] = field(default_factory=dict)
    """Additive counters (e.g. ``pairs``, ``correct``), summed over micro-batches and ranks."""


class Task(Protocol):
    def collate(self, items: list[Any]) -> dict[str, Any]: ...

    def forward_loss(self, model: nn.Module, batch: dict[str, Any]) -> LossOutput: ...

    def step_metrics(self, totals: dict[str, float]) -> dict[str, float]: ...

    def evaluate(self, model: nn.Module, items: list[Any], env: DistEnv) -> dict[str, float]: ...

    def save_final(self, model: nn.Module, out_dir: Path) -> None: ...


@contextmanager
def training_session(config: TrainConfig) -> Iterator[DistEnv]:
    """Distributed init, seeding and (on CPU) deterministic algorithms, all undone on exit."""
    env = init_distributed(config.device)
    prev = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if config.deterministic and env.device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    rng_devices = [env.device] if env.device.type == "cuda" else []
    try:
        # fork_rng: the caller's global RNG state (e.g. in a long-lived worker) is restored afterwards
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(config.seed)  # identical model init on every rank
            yield env
    finally:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        shutdown_distributed(env)


def autocast_context(config: TrainConfig, device: torch.device) -> Any:
    if device.type == "cuda" and config.bf16 and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def build_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; biases and norm weights (1-D tensors) get no weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]],
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
        fused=device.type == "cuda",
    )


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int, min_ratio: float) -> Any:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio * lr`` at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
    }


def run_training(
    config: TrainConfig,
    env: DistEnv,
    model: nn.Module,
    task: Task,
    train_items: list[Any],
    eval_items: list[Any],
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    out = Path(config.out)
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        config.save_json(out / "training_config.json")
    model.to(env.device)
    model.train()
    if config.gradient_checkpointing:
        enable_activation_checkpointing(model)

    plan = MicroBatchPlan(len(train_items), config.batch_size, env.world_size, env.rank, config.seed)
    accum = max(1, config.grad_accum)
    if config.max_steps > 0:
        total_steps = config.max_steps
    else:
        total_steps = max(1, math.ceil(config.epochs * plan.per_epoch / accum))
    warmup = (
        config.warmup_steps if config.warmup_steps is not None else int(config.warmup_ratio * total_steps)
    )
    optimizer = build_optimizer(model, config, env.device)
    scheduler = warmup_cosine(optimizer, warmup, total_steps, config.min_lr_ratio)

    start_step, checkpoint_dir = 0, None
    ckpt = find_resume_checkpoint(out, config.resume)
    batching = {"batch_size": config.batch_size, "grad_accum": accum, "seed": config.seed}
    batching |= {"train_items": len(train_items), "total_steps": total_steps}
    if ckpt is not None:
        saved = load_checkpoint(ckpt, env, model, optimizer, scheduler)
        start_step, checkpoint_dir = int(saved["step"]), str(ckpt)
        changed = {k: (saved.get(k), v) for k, v in batching.items() if saved.get(k) != v}
        if changed:
            warnings.warn(
                f"resuming {ckpt} with different settings {changed}: the data position is kept by step "
                "count, so the run is no longer identical to an uninterrupted one",
                stacklevel=2,
            )
    else:
        torch.manual_seed(config.seed + env.rank)  # per-rank dropout streams
    ddp_model = wrap_model(model, env)

    def emit(event: ProgressEvent) -> None:
        if progress is not None and env.is_main:
            progress(event)

    def checkpoint(step: int, metrics: dict[str, float]) -> str:
        mb = step * accum
        state = {"micro_batch": mb, "epoch": plan.epoch_of(mb), "metrics": metrics, **batching}
        path = save_checkpoint(
            out,
            env,
            step,
            model,
            optimizer,
            scheduler,
            state,
            config.keep_checkpoints,
            trainable_only=config.lora_r > 0,
        )
        return str(path)

    emit(
        ProgressEvent(
            "start",
            start_step,
            total_steps,
            metrics={
                "train_items": len(train_items),
                "eval_items": len(eval_items),
                "world_size": env.world_size,
                "items_per_step": config.batch_size * accum * env.world_size,
                "micro_batches_per_epoch": plan.per_epoch,
            },
        )
    )
    metrics: dict[str, float] = {}
    t0, tokens_seen, stopped, step = time.monotonic(), 0.0, False, start_step
    autocast = autocast_context(config, env.device)
    for step in range(start_step, total_steps):
        if env.any(bool(should_stop and should_stop())):
            stopped = True
            break
        t_step = time.monotonic()
        batches = [
            task.collate([train_items[i] for i in plan.indices(step * accum + k)]) for k in range(accum)
        ]
        totals, n_items = _accumulate_gradients(task, ddp_model, batches, env, autocast)
        grad_norm = (
            float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm))
            if config.max_grad_norm > 0
            else float("nan")
        )
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        totals = env.all_reduce_sum(totals)
        done = step + 1
        tokens_seen += totals["tokens"]
        elapsed = time.monotonic() - t0
        metrics = {"loss": totals["loss_sum"] / max(1.0, n_items), "grad_norm": grad_norm, "lr": lr}
        metrics.update(task.step_metrics(totals))
        if done % max(1, config.log_every) == 0 or done == total_steps:
            emit(
                ProgressEvent(
                    "step",
                    done,
                    total_steps,
                    epoch=plan.epoch_of(done * accum),
                    loss=metrics["loss"],
                    accuracy=metrics.get("accuracy"),
                    lr=lr,
                    tokens_per_s=totals["tokens"] / max(1e-9, time.monotonic() - t_step),
                    eta_s=elapsed / (done - start_step) * (total_steps - done),
                    elapsed_s=elapsed,
                    metrics=metrics,
                )
            )
        if config.eval_every and done % config.eval_every == 0 and done < total_steps and eval_items:
            emit(
                ProgressEvent(
                    "eval", done, total_steps, metrics=_evaluate(task, model, eval_items, env, autocast)
                )
            )
        if config.save_every and done % config.save_every == 0 and done < total_steps:
            checkpoint_dir = checkpoint(done, metrics)
    else:
        step = total_steps

    elapsed = time.monotonic() - t0
    final: dict[str, float] = {f"train_{k}": v for k, v in metrics.items()}
    final.update(
        {"steps": float(step), "elapsed_s": elapsed, "tokens_per_s": tokens_seen / max(1e-9, elapsed)}
    )
    if stopped:
        if step > start_step or checkpoint_dir is None:
            checkpoint_dir = checkpoint(step, metrics)
    else:
        if eval_items:
            final.update(_evaluate(task, model, eval_items, env, autocast))
        if env.is_main:
            task.save_final(model, out)
            (out / "metrics.json").write_text(json.dumps(final, indent=2, sort_keys=True) + "\n")
        env.barrier()
    emit(ProgressEvent("end", step, total_steps, elapsed_s=elapsed, metrics={**final, "stopped": stopped}))
    return TrainResult(str(out), final, step, stopped, checkpoint_dir)


def _accumulate_gradients(
    task: Task, ddp_model: nn.Module, batches: list[dict[str, Any]], env: DistEnv, autocast: Any
) -> tuple[dict[str, float], float]:
    """Forward/backward every micro-batch of one optimizer step; returns (local stat totals, global items).

    Gradients end up as d(sum of item losses / global item count): each micro-batch loss is scaled by
    ``world_size / global_items`` because DDP averages gradients over ranks.
    """
    n_items = env.all_reduce_sum({"n": sum(b["num_items"] for b in batches)})["n"]
    scale = env.world_size / max(1.0, n_items)
    totals: dict[str, float] = {"loss_sum": 0.0, "tokens": 0.0}
    for k, batch in enumerate(batches):
        sync = k == len(batches) - 1 or not env.distributed  # all-reduce only on the last micro-batch
        with nullcontext() if sync else ddp_model.no_sync(), autocast:  # type: ignore[operator]
            res = task.forward_loss(ddp_model, _to_device(batch, env.device))
        (res.loss_sum * scale).backward()
        totals["loss_sum"] += float(res.loss_sum.detach())
        totals["tokens"] += batch["num_tokens"]
        for key, v in res.stats.items():
            totals[key] = totals.get(key, 0.0) + v
    return totals, n_items


def _evaluate(
    task: Task, model: nn.Module, items: list[Any], env: DistEnv, autocast: Any
) -> dict[str, float]:
    model = unwrap_model(model)
    model.eval()
    try:
        with torch.no_grad(), autocast:
            return task.evaluate(model, items, env)
    finally:
        model.train()
