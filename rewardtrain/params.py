"""The settings of a snapshot build: what kind of records, which annotations, how to split. Checked once, stored
on the snapshot as a plain dict, and read back by the build."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from labeling.services.errors import FieldError, invalid
from rewardtrain.snapshots.models import SnapshotKind

FORMATS = ("conversational", "standard")
LABELER_MODES = ("all", "majority")
SFT_STATUSES = ("accepted", "pending")
# Settings that choose annotations: a prompts snapshot exports every prompt of the project, so they would
# silently do nothing there.
PROMPTS_REFUSED = frozenset(
    {
        "guideline_versions",
        "date_from",
        "date_to",
        "labelers",
        "min_agreement",
        "min_gold_accuracy",
        "exclude_flags",
        "include_gold",
    }
)


@dataclass
class SnapshotParams:
    kind: str
    # pairwise: TRL "conversational" (message lists) or "standard" (strings); every labeler's pairs ("all")
    # or only pairs a strict majority of a task's labelers agree on ("majority").
    format: str = "conversational"
    labelers_mode: str = "all"
    # kwise: one record per ranking (False) or one per task with tiers aggregated by mean position (True).
    aggregate: bool = False
    # sft: which review states count; rejected demonstrations never do. Assisted demonstrations whose edit
    # ratio from the model's suggestion is below `min_edit_ratio` are left out (unassisted ones are kept).
    sft_statuses: list[str] = field(default_factory=lambda: list(SFT_STATUSES))
    min_edit_ratio: float | None = None
    # filters
    guideline_versions: list[int] | None = None
    date_from: str | None = None
    date_to: str | None = None
    labelers: list[int] | None = None
    min_agreement: float | None = None
    min_gold_accuracy: float | None = None
    exclude_flags: list[str] = field(default_factory=list)
    include_gold: bool = False
    # split
    validation_fraction: float = 0.05
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def date_range(self) -> tuple[date | None, date | None]:
        return (
            date.fromisoformat(self.date_from) if self.date_from else None,
            date.fromisoformat(self.date_to) if self.date_to else None,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(data: dict, name: str, errors: list[FieldError]) -> None:
    value = data.get(name)
    if value is None:
        return
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        errors.append(FieldError("must be a list of integers", name))


def _fraction(data: dict, name: str, errors: list[FieldError], *, upper_open: bool = False) -> None:
    value = data.get(name)
    if value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok or (upper_open and value >= 1):
        errors.append(FieldError("must be a number from 0 to 1" + (" (below 1)" if upper_open else ""), name))


def snapshot_params_from(data: dict[str, Any]) -> SnapshotParams:
    """Check a request's settings; raises `invalid` naming every bad field."""
    errors: list[FieldError] = []
    known = {f.name for f in fields(SnapshotParams)}
    for name in sorted(set(data) - known):
        errors.append(FieldError(f"unknown setting; known: {', '.join(sorted(known))}", name))
    if data.get("kind") not in SnapshotKind.values:
        errors.append(FieldError(f"must be one of {', '.join(SnapshotKind.values)}", "kind"))
    if data.get("format", FORMATS[0]) not in FORMATS:
        errors.append(FieldError(f"must be one of {', '.join(FORMATS)}", "format"))
    if data.get("labelers_mode", "all") not in LABELER_MODES:
        errors.append(FieldError(f"must be one of {', '.join(LABELER_MODES)}", "labelers_mode"))
    for name in ("aggregate", "include_gold"):
        if name in data and not isinstance(data[name], bool):
            errors.append(FieldError("must be true or false", name))
    statuses = data.get("sft_statuses", list(SFT_STATUSES))
    if not isinstance(statuses, list) or not statuses or any(s not in SFT_STATUSES for s in statuses):
        errors.append(FieldError(f"must be a non-empty list of {', '.join(SFT_STATUSES)}", "sft_statuses"))
    _int_list(data, "guideline_versions", errors)
    _int_list(data, "labelers", errors)
    for name in ("date_from", "date_to"):
        value = data.get(name)
        if value is None:
            continue
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            errors.append(FieldError("must be a date, YYYY-MM-DD", name))
    _fraction(data, "min_agreement", errors)
    _fraction(data, "min_gold_accuracy", errors)
    _fraction(data, "min_edit_ratio", errors)
    if data.get("min_edit_ratio") is not None and data.get("kind") != SnapshotKind.SFT:
        errors.append(FieldError("only applies to sft snapshots", "min_edit_ratio"))
    if data.get("kind") == SnapshotKind.PROMPTS:
        for name in sorted(PROMPTS_REFUSED & {n for n, v in data.items() if v not in (None, [], False)}):
            errors.append(FieldError("filters annotations; a prompts snapshot holds every prompt", name))
    _fraction(data, "validation_fraction", errors, upper_open=True)
    flags = data.get("exclude_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) and f for f in flags):
        errors.append(FieldError("must be a list of flag keys", "exclude_flags"))
    if "seed" in data and not _is_int(data["seed"]):
        errors.append(FieldError("must be an integer", "seed"))
    if errors:
        raise invalid("Invalid snapshot settings", *errors)
    params = SnapshotParams.from_dict(data)
    params.exclude_flags = sorted(set(params.exclude_flags))
    params.sft_statuses = sorted(set(params.sft_statuses))
    return params
