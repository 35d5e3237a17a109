"""Command line: ``python -m rewardtrain.training sft|rm|dpo|rl --data D --model M --out O [--flag value ...]``.

Every field of ``SFTConfig`` / ``RMConfig`` / ``DPOConfig`` / ``RLConfig`` is a flag (``grad_accum`` -> ``--grad-accum``; booleans take
``--flag`` / ``--no-flag``). Ctrl-C or SIGTERM asks the run to stop after the current step and write a
checkpoint; so does creating the file named by ``--stop-file`` (what a supervisor uses under torchrun, where a
signal to the launcher would reach every rank twice). Running the same command again resumes from it.

With ``--progress json`` rank 0 prints one JSON object per event and, last, ``{"kind": "result", ...}``. A rank
that fails writes its traceback to torchrun's error file (``TORCHELASTIC_ERROR_FILE``), where the supervisor
(`launch.py`) reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import types
import typing
from pathlib import Path
from typing import Any

from .config import DPOConfig, RLConfig, RMConfig, SFTConfig, TrainConfig
from .progress import JsonLinesProgress, TextProgressBar

COMMANDS: dict[str, type[TrainConfig]] = {"sft": SFTConfig, "rm": RMConfig, "dpo": DPOConfig, "rl": RLConfig}


def _field_type(tp: Any) -> tuple[type, bool]:
    """(scalar type, optional?) of a field annotation such as ``int | None``."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return tp, False


def _add_config_arguments(parser: argparse.ArgumentParser, cls: type[TrainConfig]) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        scalar, optional = _field_type(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if scalar is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default)
        elif required:
            parser.add_argument(flag, dest=f.name, type=scalar, required=True)
        else:
            default = f.default
            parser.add_argument(
                flag,
                dest=f.name,
                type=scalar,
                default=default,
                help=f"default: {default}" + (" (optional)" if optional else ""),
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rewardtrain.training", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, cls in COMMANDS.items():
        p = sub.add_parser(name, help=(cls.__doc__ or "").strip().split("\n")[0])
        _add_config_arguments(p, cls)
        p.add_argument(
            "--progress",
            choices=["text", "json", "none"],
            default="text",
            help="progress output (stderr/stdout)",
        )
        p.add_argument("--stop-file", default=None, help="stop (with a checkpoint) once this file exists")
    return parser


def config_argv(command: str, config: TrainConfig) -> list[str]:
    """The command line that gives `config` back through :func:`build_parser` (the inverse of parsing)."""
    argv = [command]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif value is not None:
            argv.append(f"{flag}={value}")
    return argv


class _StopFlag:
    """First SIGINT/SIGTERM requests a graceful stop; a second one interrupts immediately."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstop requested: finishing the current step and writing a checkpoint", file=sys.stderr)

    def __call__(self) -> bool:
        return self.requested


class _StopFile:
    """Asked once per step on every rank (the ranks then agree, so all stop after the same step)."""

    def __init__(self, flag: _StopFlag, path: str | None) -> None:
        self.flag, self.path = flag, Path(path) if path else None
        self.calls = 0
        # Fault injection for the supervisor's tests: REWARDTRAIN_FAULT=<rank>:<step> fails that rank there.
        fault = os.environ.get("REWARDTRAIN_FAULT", "")
        rank, _, step = fault.partition(":")
        self.fault_step = int(step) if fault and rank == os.environ.get("RANK", "0") else None

    def __call__(self) -> bool:
        self.calls += 1
        if self.fault_step is not None and self.calls >= self.fault_step:
            raise RuntimeError(f"injected fault (REWARDTRAIN_FAULT) on rank {os.environ.get('RANK', '0')}")
        return self.flag() or bool(self.path and self.path.exists())


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BaseException as exc:
        if os.environ.get("TORCHELASTIC_ERROR_FILE") and not isinstance(exc, SystemExit):
            # torchrun's record format, so the launcher (and torchrun's own summary) name this rank's traceback.
            from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

            ErrorHandler().record_exception(exc)
        raise


def _main(argv: list[str] | None) -> int:
    args = vars(build_parser().parse_args(argv))
    command, progress_kind, stop_file = args.pop("command"), args.pop("progress"), args.pop("stop_file")
    config = COMMANDS[command](**args)
    main_rank = os.environ.get("RANK", "0") == "0"
    # One result line per node (its local rank 0), so each node's launcher learns how its group ended.
    node_main = os.environ.get("LOCAL_RANK", "0") == "0"
    progress = {"text": TextProgressBar(), "json": JsonLinesProgress(), "none": None}[progress_kind]
    stop = _StopFlag()
    stop.install()
    # Imported here so that ``--help`` stays fast.
    from transformers.utils import logging as hf_logging

    from .dpo import train_dpo
    from .rl import train_rl
    from .rm import train_rm
    from .sft import train_sft

    hf_logging.disable_progress_bar()

    train = {"sft": train_sft, "rm": train_rm, "dpo": train_dpo, "rl": train_rl}[command]
    result = train(config, progress=progress, should_stop=_StopFile(stop, stop_file))
    summary = {
        "output_dir": result.output_dir,
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "checkpoint_dir": result.checkpoint_dir,
        "metrics": result.metrics,
    }
    if node_main and progress_kind == "json":
        print(json.dumps({"kind": "result", **summary}), flush=True)
    elif main_rank:
        print(json.dumps(summary, indent=2))
    return 0
