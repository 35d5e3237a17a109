"""Streams a project's annotations as snapshot records, in a fixed order, with flat memory.

Rankings are read with one server-side cursor ordered by (task, id) and handled in batches that end on a task
boundary; candidate texts and prompts are fetched per batch. Each record is yielded with the split of its
prompt. Nothing is held beyond one batch (plus the set of prompt ids the writers count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.db.models import QuerySet

from labeling.models import Demonstration, Dialogue, Prompt, Ranking, ReviewStatus, TaskCandidate, TaskKind
from rewardtrain.pairs import aggregate_tiers, majority_pairs, pairs_from_tiers, split_of
from rewardtrain.params import SnapshotParams

BATCH_ROWS = 2000
CHUNK_SIZE = 2000


@dataclass
class Excluded:
    """What the filters left out, for the manifest."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, n: int = 1) -> None:
        if n:
            self.counts[reason] = self.counts.get(reason, 0) + n


@dataclass(frozen=True)
class RankingRow:
    id: int
    task_id: int
    prompt_id: int
    user_id: int
    guideline_version: int
    tiers: list[list[int]]
    flags: dict[str, list[str]]


def _messages(messages: list[dict]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def standard_prompt(messages: list[dict]) -> str:
    """A conversation as one string: a lone user message verbatim, otherwise the training package's plain
    template ("### User:\\n…\\n\\n### Assistant:\\n"), so a standard-format prompt reads the same at training."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    from rewardtrain.training.chat import render_prompt

    return render_prompt(None, _messages(messages))


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


def _ranking_batches(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[list[list[RankingRow]], dict[int, list[dict]], dict[int, str]]]:
    """Batches of tasks (each a list of its rankings), with the prompts and candidate texts they need."""
    qs = ranking_queryset(project_id, params, excluded_users)
    unrankable = qs.filter(unrankable=True).count()
    excluded.add("unrankable_rankings", unrankable)
    rows = (
        qs.filter(unrankable=False)
        .order_by("task_id", "id")
        .values_list("id", "task_id", "task__prompt_id", "user_id", "guideline__version", "tiers", "flags")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    batch: list[list[RankingRow]] = []
    size = 0
    for _, group in groupby((RankingRow(*values) for values in rows), key=lambda r: r.task_id):
        task_rows = list(group)
        batch.append(task_rows)
        size += len(task_rows)
        if size >= BATCH_ROWS:
            yield _with_texts(batch)
            batch, size = [], 0
    if batch:
        yield _with_texts(batch)


def _with_texts(
    batch: list[list[RankingRow]],
) -> tuple[list[list[RankingRow]], dict[int, list[dict]], dict[int, str]]:
    """Prompts and candidate texts of a batch. Rankings only place their task's candidates, so the task's links
    cover them. Dense batches are read by task id range (an index range scan, much cheaper than a long IN
    list); sparse ones (filters that skip most tasks) by the exact task ids, so memory stays bounded."""
    task_ids = [rows[0].task_id for rows in batch]
    first, last = task_ids[0], task_ids[-1]
    if last - first + 1 <= 2 * len(task_ids):
        prompt_filter = {"tasks__id__gte": first, "tasks__id__lte": last}
        link_filter = {"task_id__gte": first, "task_id__lte": last}
    else:
        prompt_filter, link_filter = {"tasks__id__in": task_ids}, {"task_id__in": task_ids}
    prompts = dict(Prompt.objects.filter(**prompt_filter).values_list("id", "messages").distinct())
    texts = dict(TaskCandidate.objects.filter(**link_filter).values_list("candidate_id", "candidate__text"))
    return batch, prompts, texts


def _flagged(row: RankingRow, cid: int, flags: set[str]) -> bool:
    return bool(flags) and bool(flags.intersection(row.flags.get(str(cid), ())))


def _pair_record(
    base: dict[str, Any],
    pair: Any,
    texts: dict[int, str],
    answer: Callable[[str], Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """One chosen/rejected record: the prompt fields, the two answers and the pair's margin, then `extra`."""
    return {
        **base,
        "chosen": answer(texts[pair.chosen]),
        "rejected": answer(texts[pair.rejected]),
        "margin": float(pair.margin),
        "chosen_id": pair.chosen,
        "rejected_id": pair.rejected,
        **extra,
    }


def pairwise_records(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[str, dict[str, Any]]]:
    conversational = params.format == "conversational"
    flags = set(params.exclude_flags)

    def answer(text: str) -> Any:
        return [{"role": "assistant", "content": text}] if conversational else text

    for batch, prompts, texts in _ranking_batches(project_id, params, excluded_users, excluded):
        for rows in batch:
            first = rows[0]
            messages = _messages(prompts[first.prompt_id])
            prompt = messages if conversational else standard_prompt(messages)
            split = split_of(first.prompt_id, params.seed, params.validation_fraction)
            base = {"prompt": prompt, "prompt_id": first.prompt_id, "task_id": first.task_id}
            if params.labelers_mode == "majority":
                version = max(r.guideline_version for r in rows)
                for pair in majority_pairs([r.tiers for r in rows]):
                    if any(_flagged(r, pair.chosen, flags) for r in rows):
                        excluded.add("flagged_pairs")
                        continue
                    extra = {"votes": pair.votes, "labelers": pair.labelers, "guideline_version": version}
                    yield split, _pair_record(base, pair, texts, answer, extra)
                continue
            for row in rows:
                for pair in pairs_from_tiers(row.tiers):
                    if _flagged(row, pair.chosen, flags):
                        excluded.add("flagged_pairs")
                        continue
                    extra = {
                        "ranking_id": row.id,
                        "labeler_id": row.user_id,
                        "guideline_version": row.guideline_version,
                    }
                    yield split, _pair_record(base, pair, texts, answer, extra)


def _without_flagged(tiers: list[list[int]], drop: set[int]) -> list[list[int]]:
    kept = [[cid for cid in tier if cid not in drop] for tier in tiers]
    return [tier for tier in kept if tier]


def kwise_records(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: Excluded
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record per ranking (or per task, aggregated); answers flagged with an excluded key are left out,
    and a record left with fewer than two tiers is dropped."""
    flags = set(params.exclude_flags)
    for batch, prompts, texts in _ranking_batches(project_id, params, excluded_users, excluded):
        for rows in batch:
            first = rows[0]
            split = split_of(first.prompt_id, params.seed, params.validation_fraction)
            base = {
                "prompt": _messages(prompts[first.prompt_id]),
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
                "messages": [*_messages(messages), {"role": "assistant", "content": text}],
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
                "messages": _messages(messages),
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
