"""Run a training command under ``torchrun`` as a child process group, for a supervisor such as a Celery task.

    job = TorchrunJob("rm", config, nproc=2, work_dir=Path("/tmp/run-7"))
    result = job.run(on_event=print, should_stop=lambda: cancelled)

- **Progress**: rank 0 prints JSON lines (``--progress json``); each is handed to ``on_event`` as it comes.
- **Cancel**: when ``should_stop()`` turns true, the job creates its stop file; every rank sees it at the end of
  the step, they agree (an all-reduce), write a checkpoint and exit. A group still alive after ``grace_s`` is
  sent SIGTERM, and SIGKILL after another ``grace_s``. If the supervising process dies, even by SIGKILL, the
  kernel sends torchrun SIGTERM (a parent-death signal), which stops its ranks: no group outlives its job.
- **Failure**: a rank that raises writes its traceback to torchrun's error file; :class:`RankFailed` carries
  the first failed rank's number and traceback. torchrun runs with ``--max-restarts 0``: retrying is the
  supervisor's business (a re-queued run resumes from its checkpoint).
- **Multi-node**: ``rdzv_endpoint`` (``host:port``) with ``nnodes`` > 1 runs one such job per node, all joining
  the same rendezvous (``--rdzv-backend c10d``, ``--rdzv-id``); without it the job is ``--standalone``.

Imports nothing from Django: it runs wherever ``torchrun`` does.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli import config_argv
from .config import TrainConfig

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
ENV_DROPPED = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_ERROR_FILE")


class RankFailed(RuntimeError):
    """A rank of the group failed; ``rank_traceback`` is its own (or torchrun's output when none was recorded)."""

    def __init__(self, rank: int | None, exitcode: int, traceback: str) -> None:
        where = f"rank {rank}" if rank is not None else "torchrun"
        last = traceback.strip().splitlines()[-1] if traceback.strip() else f"exit code {exitcode}"
        super().__init__(f"{where} failed: {last}")
        self.rank, self.exitcode, self.rank_traceback = rank, exitcode, traceback


@dataclass
class LaunchResult:
    output_dir: str
    steps: int
    stopped_early: bool
    checkpoint_dir: str | None
    metrics: dict[str, float]


@dataclass
class TorchrunJob:
    command: str
    config: TrainConfig
    nproc: int
    work_dir: Path
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    rdzv_id: str = "rewardtrain"
    env: dict[str, str] | None = None
    grace_s: float = 300.0
    poll_s: float = 0.5

    @property
    def stop_file(self) -> Path:
        return self.work_dir / "STOP"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "torchrun-logs"

    def argv(self) -> list[str]:
        launcher = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={self.nproc}"]
        if self.rdzv_endpoint and self.nnodes > 1:
            launcher += [
                f"--nnodes={self.nnodes}",
                "--rdzv-backend=c10d",
                f"--rdzv-endpoint={self.rdzv_endpoint}",
                f"--rdzv-id={self.rdzv_id}",
            ]
        else:
            launcher.append("--standalone")
        launcher += ["--max-restarts=0", f"--log-dir={self.log_dir}"]
        training = config_argv(self.command, self.config)
        return [
            *launcher,
            "-m",
            "rewardtrain.training",
            *training,
            "--progress=json",
            f"--stop-file={self.stop_file}",
        ]

    def run(
        self,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> LaunchResult:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.stop_file.unlink(missing_ok=True)
        shutil.rmtree(self.log_dir, ignore_errors=True)  # an earlier attempt's error files are not this one's
        env = {k: v for k, v in {**os.environ, **(self.env or {})}.items() if k not in ENV_DROPPED}
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYTHONUNBUFFERED"] = "1"
        stderr_path = self.work_dir / "torchrun.stderr"
        with stderr_path.open("wb") as stderr:
            # A process group of its own: stopping the job reaches torchrun and every rank, nothing else.
            process = subprocess.Popen(
                self.argv(),
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        reader.start()
        result: dict[str, Any] | None = None
        stop_sent_at: float | None = None
        terminated = False
        try:
            while True:
                try:
                    line = lines.get(timeout=self.poll_s)
                except queue.Empty:
                    line = ""
                if line is None:  # stdout closed: the group is exiting
                    break
                event = _parse(line)
                if event is not None and event.get("kind") == "result":
                    result = event
                elif event is not None and on_event is not None:
                    on_event(event)
                # Asked after every line (a step, as the in-process trainer asks) and every `poll_s` when idle.
                if stop_sent_at is None and should_stop is not None and should_stop():
                    self.stop_file.touch()
                    stop_sent_at = time.monotonic()
                if stop_sent_at is not None and time.monotonic() - stop_sent_at > self.grace_s:
                    # SIGTERM first (torchrun stops its ranks), SIGKILL a grace period later.
                    escalate = signal.SIGTERM if not terminated else signal.SIGKILL
                    _signal_group(process, escalate)
                    terminated, stop_sent_at = True, time.monotonic()
            exitcode = process.wait()
        except BaseException:
            _signal_group(process, signal.SIGKILL)
            process.wait()
            raise
        finally:
            reader.join(timeout=5)
            process.stdout.close()
        if exitcode != 0 or result is None:
            raise self._failure(exitcode, stderr_path)
        return LaunchResult(
            output_dir=result["output_dir"],
            steps=int(result["steps"]),
            stopped_early=bool(result["stopped_early"]),
            checkpoint_dir=result.get("checkpoint_dir"),
            metrics=dict(result.get("metrics") or {}),
        )

    def _failure(self, exitcode: int, stderr_path: Path) -> RankFailed:
        """The first rank to fail, with its traceback, from torchrun's error files."""
        failures = []
        for path in self.log_dir.rglob("error.json"):
            try:
                record = json.loads(path.read_text())["message"]
            except (ValueError, KeyError, OSError):
                continue
            info = record.get("extraInfo", {}) if isinstance(record, dict) else {}
            rank = int(path.parent.name) if path.parent.name.isdigit() else None
            # The first to fail is the cause (the others then fail in a collective): order by the file's
            # write time in nanoseconds, as the record's own timestamp has whole seconds only.
            failures.append((path.stat().st_mtime_ns, rank, info.get("py_callstack") or str(record)))
        if failures:
            _, rank, trace = min(failures, key=lambda f: f[0])
            return RankFailed(rank, exitcode, trace)
        tail = stderr_path.read_text(errors="replace")[-4000:] if stderr_path.exists() else ""
        return RankFailed(None, exitcode, tail)


def _die_with_parent() -> None:
    """In the child, before torchrun starts: SIGTERM it when the thread that started it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _pump(stream, lines: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode(errors="replace"))
    lines.put(None)


def _parse(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "kind" in event else None


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
