"""Streams a project's annotations as snapshot records, in a fixed order, with flat memory (the pairwise kind
is built column-wise from the same batches, in `pair_columns.py`).

Rankings are read with one server-side cursor ordered by (task, id) and handled in batches that end on a task
boundary; candidate texts and prompts are fetched per batch. Each record is yielded with the split of its
prompt. Nothing is held beyond one batch (plus the set of prompt ids the writers count).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, NamedTuple

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from labeling.models import (
    Candidate,
    Demonstration,
    Dialogue,
    Prompt,
    Ranking,
    ReviewStatus,
    TaskKind,
)
from rewardtrain.pairs import aggregate_tiers, split_of
from rewardtrain.params import SnapshotParams
from rewardtrain.training.chat import render_prompt

BATCH_ROWS = 2000
CHUNK_SIZE = 2000


@dataclass
class Excluded:
    """What the filters left out, for the manifest."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, n: int = 1) -> None:
        if n:
            self.counts[reason] = self.counts.get(reason, 0) + n


class RankingRow(NamedTuple):
    """One ranking as the export reads it (a tuple: a large export makes a hundred thousand of them)."""

    id: int
    task_id: int
    prompt_id: int
    user_id: int
    guideline_version: int
    tiers: list[list[int]]
    flags: dict[str, list[str]]


def plain_messages(messages: list[dict]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def standard_prompt(messages: list[dict]) -> str:
    """A conversation as one string: a lone user message verbatim, otherwise the training package's plain
    template ("### User:\\n…\\n\\n### Assistant:\\n"), so a standard-format prompt reads the same at training."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return render_prompt(None, plain_messages(messages))


def _annotation_filters(qs: QuerySet, params: SnapshotParams, excluded_users: set[int]) -> QuerySet:
    if params.guideline_versions:
        qs = qs.filter(guideline__version__in=params.guideline_versions)
    date_from, date_to = params.date_range
    if date_from:
        qs = qs.filter(created_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(created_at__date__lte=date_to)
    if params.labelers:
        qs = qs.filter(user_id__in=params.labelers)
    if excluded_users:
        qs = qs.exclude(user_id__in=sorted(excluded_users))
    if not params.include_gold:
        qs = qs.filter(task__is_gold=False)
    return qs


def ranking_queryset(project_id: int, params: SnapshotParams, excluded_users: set[int]) -> QuerySet:
    qs = Ranking.objects.filter(task__project_id=project_id, task__kind=TaskKind.RANKING)
    return _annotation_filters(qs, params, excluded_users)


def _json_text(field: str) -> Cast:
    """A JSON column read as its text, for `_loads`: Django's JSON converter costs several times the decoding
    itself, which adds up over a large export's hundreds of thousands of values."""
    return Cast(field, output_field=TextField())


def _loads(text: str | None) -> Any:
    if text == "{}":  # most rankings flag nothing
        return {}
    return None if text is None else json.loads(text)


def ranking_batches(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[list[list[RankingRow]], dict[int, list[dict]], dict[int, str]]]:
    """Batches of tasks (each a list of its rankings), with the prompts and candidate texts they need."""
    qs = ranking_queryset(project_id, params, excluded_users)
    unrankable = qs.filter(unrankable=True).count()
    excluded.add("unrankable_rankings", unrankable)
    rows = (
        qs.filter(unrankable=False)
        .order_by("task_id", "id")
        .values_list(
            "id",
            "task_id",
            "task__prompt_id",
            "user_id",
            "guideline__version",
            _json_text("tiers"),
            _json_text("flags"),
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
    ranking_rows = (RankingRow(*values[:5], _loads(values[5]), _loads(values[6])) for values in rows)
    batch: list[list[RankingRow]] = []
    size = 0
    for _, group in groupby(ranking_rows, key=lambda r: r.task_id):
        task_rows = list(group)
        batch.append(task_rows)
        size += len(task_rows)
        if size >= BATCH_ROWS:
            yield _with_texts(batch)
            batch, size = [], 0
    if batch:
        yield _with_texts(batch)


def _by_ids(ids: list[int], field: str = "id") -> dict[str, Any]:
    """A filter on sorted ids: their range when they are dense (an index range scan, much cheaper than a long
    IN list), the exact ids when they are sparse (filters that skip most tasks), so memory stays bounded."""
    if ids[-1] - ids[0] + 1 <= 2 * len(ids):
        return {f"{field}__gte": ids[0], f"{field}__lte": ids[-1]}
    return {f"{field}__in": ids}


def _with_texts(
    batch: list[list[RankingRow]],
) -> tuple[list[list[RankingRow]], dict[int, list[dict]], dict[int, str]]:
    """Prompts and candidate texts of a batch: the texts of the answers its rankings place. Each table is read
    by its own primary key, so the cost of a batch does not grow with the tables (a join from the task's links
    let PostgreSQL scan all of `labeling_candidate` for every batch)."""
    prompt_ids = sorted({rows[0].prompt_id for rows in batch} - {None})
    prompts: dict[int, list[dict]] = {}
    if prompt_ids:
        found_prompts = Prompt.objects.filter(**_by_ids(prompt_ids)).values_list("id", _json_text("messages"))
        prompts = {pid: _loads(messages) for pid, messages in found_prompts}
    placed = {cid for rows in batch for row in rows for tier in row.tiers for cid in tier}
    texts: dict[int, str] = {}
    if placed:
        found = Candidate.objects.filter(**_by_ids(sorted(placed))).values_list("id", "text")
        texts = {cid: text for cid, text in found if cid in placed}
    return batch, prompts, texts


def _flagged(row: RankingRow, cid: int, flags: set[str]) -> bool:
    return bool(flags) and bool(flags.intersection(row.flags.get(str(cid), ())))


def _without_flagged(tiers: list[list[int]], drop: set[int]) -> list[list[int]]:
    kept = [[cid for cid in tier if cid not in drop] for tier in tiers]
    return [tier for tier in kept if tier]


def kwise_records(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record per ranking (or per task, aggregated); answers flagged with an excluded key are left out,
    and a record left with fewer than two tiers is dropped."""
    flags = set(params.exclude_flags)
    for batch, prompts, texts in ranking_batches(project_id, params, excluded_users, excluded):
        for rows in batch:
            first = rows[0]
            split = split_of(first.prompt_id, params.seed, params.validation_fraction)
            base = {
                "prompt": plain_messages(prompts[first.prompt_id]),
                "prompt_id": first.prompt_id,
                "task_id": first.task_id,
            }
            if params.aggregate:
                drop = {cid for r in rows for tier in r.tiers for cid in tier if _flagged(r, cid, flags)}
                units = [
                    (
                        aggregate_tiers([r.tiers for r in rows]),
                        drop,
                        {
                            "labelers": len(rows),
                            "guideline_version": max(r.guideline_version for r in rows),
                        },
                    )
                ]
            else:
                units = [
                    (
                        r.tiers,
                        {cid for tier in r.tiers for cid in tier if _flagged(r, cid, flags)},
                        {
                            "ranking_id": r.id,
                            "labeler_id": r.user_id,
                            "guideline_version": r.guideline_version,
                        },
                    )
                    for r in rows
                ]
            for tiers, drop, extra in units:
                excluded.add("flagged_answers", len(drop))
                kept = _without_flagged(tiers, drop)
                if len(kept) < 2:
                    excluded.add("records_left_without_pairs")
                    continue
                candidates = [
                    {"id": cid, "text": texts[cid], "tier": i} for i, tier in enumerate(kept) for cid in tier
                ]
                yield split, {**base, "candidates": candidates, **extra}


def _sft_metadata(
    source: str,
    suggestion: str = "",
    model: str = "",
    distance: int | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    assisted = bool(model)
    return {
        "source": source,
        "assisted": assisted,
        "suggestion_model": model if assisted else None,
        "suggestion": suggestion if assisted else None,
        "edit_distance": distance,
        "edit_ratio": ratio,
    }


def sft_records(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record per demonstration, then one per dialogue, in the chosen review states (accepted and pending by
    default; rejected never). A demonstration is the prompt's messages followed by its text as the assistant's
    answer; assisted ones whose edit ratio is below `min_edit_ratio` are left out. A dialogue is its whole
    conversation; it falls in the split of its seed prompt, or of its task when it has none."""
    statuses = [s for s in params.sft_statuses if s != ReviewStatus.REJECTED]
    demos = _annotation_filters(
        Demonstration.objects.filter(task__project_id=project_id), params, excluded_users
    )
    excluded.add("rejected_demonstrations", demos.filter(review_status=ReviewStatus.REJECTED).count())
    demos = demos.filter(review_status__in=statuses)
    if params.min_edit_ratio is not None:
        light = demos.exclude(suggestion_model="").filter(edit_ratio__lt=params.min_edit_ratio)
        excluded.add("lightly_edited_demonstrations", light.count())
        demos = demos.exclude(pk__in=light.values("pk"))
    rows = (
        demos.order_by("task_id", "id")
        .values_list(
            "id",
            "task_id",
            "task__prompt_id",
            "task__prompt__messages",
            "user_id",
            "guideline__version",
            "text",
            "review_status",
            "suggestion",
            "suggestion_model",
            "edit_distance",
            "edit_ratio",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for demo_id, task_id, prompt_id, messages, user_id, version, text, status, *assist in rows:
        yield (
            split_of(prompt_id, params.seed, params.validation_fraction),
            {
                "messages": [*plain_messages(messages), {"role": "assistant", "content": text}],
                "prompt_id": prompt_id,
                "task_id": task_id,
                "demonstration_id": demo_id,
                "dialogue_id": None,
                "labeler_id": user_id,
                "guideline_version": version,
                "review_status": status,
                "metadata": _sft_metadata("demonstration", *assist),
            },
        )
    dialogues = _annotation_filters(
        Dialogue.objects.filter(task__project_id=project_id), params, excluded_users
    )
    excluded.add("rejected_dialogues", dialogues.filter(review_status=ReviewStatus.REJECTED).count())
    rows = (
        dialogues.filter(review_status__in=statuses)
        .order_by("task_id", "id")
        .values_list(
            "id", "task_id", "task__prompt_id", "messages", "user_id", "guideline__version", "review_status"
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for dialogue_id, task_id, prompt_id, messages, user_id, version, status in rows:
        split_key = prompt_id if prompt_id is not None else f"task:{task_id}"
        yield (
            split_of(split_key, params.seed, params.validation_fraction),
            {
                "messages": plain_messages(messages),
                "prompt_id": prompt_id,
                "task_id": task_id,
                "demonstration_id": None,
                "dialogue_id": dialogue_id,
                "labeler_id": user_id,
                "guideline_version": version,
                "review_status": status,
                "metadata": _sft_metadata("dialogue"),
            },
        )


def prompt_records(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record per prompt of the project, whatever its source (imported, written by a labeler, created
    through the API) and whether or not a task uses it: TRL's prompt-only conversational record, the
    policy's input in RL. The annotation filters do not apply (`snapshot_params_from` refuses them)."""
    rows = (
        Prompt.objects.filter(project_id=project_id)
        .order_by("id")
        .values_list("id", _json_text("messages"))
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for prompt_id, messages in rows:
        yield (
            split_of(prompt_id, params.seed, params.validation_fraction),
            {"prompt": plain_messages(_loads(messages)), "prompt_id": prompt_id},
        )
