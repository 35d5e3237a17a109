"""torchrun / DistributedDataParallel helpers. With ``WORLD_SIZE`` unset (or 1) everything is a no-op.

Launch: ``torchrun --nproc_per_node=N -m rewardtrain.training rm ...``. Each rank reads the whole data
file and takes its own shard of every epoch's permutation; only rank 0 writes model files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass
class DistEnv:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_reduce_sum(self, values: dict[str, float]) -> dict[str, float]:
        """Sum a dict of Python numbers over ranks (same keys on every rank)."""
        if not self.distributed or not values:
            return dict(values)
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return dict(zip(keys, t.tolist(), strict=True))

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any rank (used so that all ranks stop together)."""
        if not self.distributed:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    if preference == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def init_distributed(device: str = "auto") -> DistEnv:
    """Join the process group described by torchrun's env vars, or return a single-process env."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world_size <= 1:
        return DistEnv(0, 0, 1, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    created = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        created = True
    return DistEnv(dist.get_rank(), local_rank, dist.get_world_size(), dev, created)


def shutdown_distributed(env: DistEnv) -> None:
    if env.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def shard_indices(
    n: int, world_size: int, rank: int, seed: int, epoch: int, shuffle: bool = True
) -> list[int]:
    """``DistributedSampler`` equivalent: seeded permutation per epoch, padded by wrapping, strided by rank."""
    if shuffle:
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n, generator=g).tolist()
    else:
        order = list(range(n))
    total = -(-n // world_size) * world_size
    while len(order) < total:
        order += order[: total - len(order)]
    return order[rank:total:world_size]


def wrap_model(model: nn.Module, env: DistEnv) -> nn.Module:
    if not env.distributed:
        return model
    ids = [env.device.index] if env.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap_model(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model
