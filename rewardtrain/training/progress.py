"""Progress reporting: the event passed to callbacks, and simple text / JSON-lines printers for the CLI."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TextIO


@dataclass
class ProgressEvent:
    """``kind`` is ``"start"``, ``"step"``, ``"eval"``, ``"samples"`` (RL: a table of answers) or ``"end"``.
    Only rank 0 emits events."""

    kind: str
    step: int
    total_steps: int
    epoch: float = 0.0
    loss: float | None = None
    accuracy: float | None = None
    """Reward model: fraction of comparison pairs ranked correctly in the step (None for SFT)."""
    lr: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    samples: list[dict[str, Any]] | None = None
    """``samples`` events: ``{"prompt", "answer", "reward", ...}`` rows (JSON values only)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProgressCallback(Protocol):
    def __call__(self, event: ProgressEvent) -> None: ...


ShouldStop = Callable[[], bool]


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_event(event: ProgressEvent, width: int = 24) -> str:
    if event.kind == "samples":
        rows = event.samples or []
        best = max((r.get("reward", float("nan")) for r in rows), default=float("nan"))
        return f"[samples] step {event.step}/{event.total_steps} {len(rows)} answers, best reward {best:.4g}"
    if event.kind in ("eval", "end", "start"):
        body = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.metrics.items()
        )
        return f"[{event.kind}] step {event.step}/{event.total_steps} {body}".rstrip()
    frac = event.step / max(1, event.total_steps)
    filled = int(frac * width)
    parts = [f"[{'#' * filled}{'.' * (width - filled)}] {event.step}/{event.total_steps}"]
    if event.loss is not None:
        parts.append(f"loss {event.loss:.4f}")
    if event.accuracy is not None:
        parts.append(f"acc {event.accuracy:.3f}")
    if event.lr is not None:
        parts.append(f"lr {event.lr:.2e}")
    if event.tokens_per_s is not None:
        parts.append(f"{event.tokens_per_s:,.0f} tok/s")
    parts.append(f"ETA {format_duration(event.eta_s)}")
    return "  ".join(parts)


class TextProgressBar:
    """tqdm-free progress bar: redraws one line on a terminal, prints a line every ``every`` steps otherwise."""

    def __init__(self, stream: TextIO | None = None, every: int = 10) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._open_line = False

    def __call__(self, event: ProgressEvent) -> None:
        line = format_event(event)
        if event.kind == "step" and self.tty:
            self.stream.write("\r" + line + "\x1b[K")
            self._open_line = True
        elif event.kind == "step" and event.step % self.every and event.step != event.total_steps:
            return
        else:
            if self._open_line:
                self.stream.write("\n")
                self._open_line = False
            self.stream.write(line + "\n")
        self.stream.flush()


class JsonLinesProgress:
    """One JSON object per event (for a supervising process parsing stdout)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: ProgressEvent) -> None:
        self.stream.write(json.dumps(event.to_dict()) + "\n")
        self.stream.flush()
