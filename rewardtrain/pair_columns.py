"""The pairwise export, built column-wise: for each batch of tasks the rankings read (`records.ranking_batches`),
one `Columns` run per split, which its `SplitWriter` turns into JSONL lines and Parquet row groups.

A pairwise snapshot repeats its text: a task's prompt is in every one of its pairs and an answer in K - 1 pairs
per ranking. So each prompt and answer is made into its record value and its JSON text once per batch, and the
pairs share them (the JSONL lines join the encoded pieces; Parquet converts each shared object once). The pairs
and their order are those of the record-at-a-time build this replaced, and so are the bytes of every file.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from rewardtrain import records
from rewardtrain.pairs import SPLITS, majority_pairs, split_of, tier_pairs
from rewardtrain.params import SnapshotParams
from rewardtrain.writers import Columns, encode_json

# A record value (a string, or a list of messages) with its JSON text.
Text = tuple[Any, str]

EXTRA_ALL = ("ranking_id", "labeler_id", "guideline_version")
EXTRA_MAJORITY = ("votes", "labelers", "guideline_version")


def _text(value: Any) -> Text:
    return value, encode_json(value)


def _column(rows: list[tuple], index: int) -> list[Any]:
    return list(map(itemgetter(index), rows))


class SplitPairs:
    """The pairs of one split not yet handed to its writer: each pair's (chosen id, rejected id, margin) and what
    it shares with its task and ranking, turned into columns at once (C-level maps, no per-pair Python code)."""

    def __init__(self, extra_names: tuple[str, str, str]) -> None:
        self.extra_names = extra_names
        self.pairs: list[tuple[int, int, Any]] = []
        # Per pair: (prompt, prompt JSON, prompt id, task id, then the three extra fields).
        self.shared: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.pairs)

    def add(self, pairs: list[tuple[int, int, Any]], shared: tuple[Any, ...] | list[tuple[Any, ...]]) -> None:
        """Pairs with what they share: one tuple for all of them, or a list of one a pair."""
        self.pairs += pairs
        self.shared += shared if isinstance(shared, list) else [shared] * len(pairs)

    def columns(self, answers: dict[int, Text]) -> Columns:
        chosen_id, rejected_id = _column(self.pairs, 0), _column(self.pairs, 1)
        chosen = list(map(answers.__getitem__, chosen_id))
        rejected = list(map(answers.__getitem__, rejected_id))
        prompt, prompt_json, prompt_id, task_id, *extra = (_column(self.shared, i) for i in range(7))
        values = {
            "prompt": prompt,
            "chosen": _column(chosen, 0),
            "rejected": _column(rejected, 0),
            "margin": list(map(float, _column(self.pairs, 2))),
            "prompt_id": prompt_id,
            "task_id": task_id,
            "chosen_id": chosen_id,
            "rejected_id": rejected_id,
            **dict(zip(self.extra_names, extra, strict=True)),
        }
        encoded = {"prompt": prompt_json, "chosen": _column(chosen, 1), "rejected": _column(rejected, 1)}
        return Columns(values, encoded)


def _flagged(row: records.RankingRow, cid: int, flags: set[str]) -> bool:
    return bool(flags.intersection(row.flags.get(str(cid), ())))


def _unflagged(
    pairs: list[tuple[int, int, Any]],
    rows: list[records.RankingRow],
    flags: set[str],
    excluded: records.Excluded,
) -> list[tuple[int, int, Any]]:
    """The pairs whose chosen answer none of `rows` flagged with one of `flags`; the others are counted."""
    if not flags:
        return pairs
    kept = [pair for pair in pairs if not any(_flagged(row, pair[0], flags) for row in rows)]
    excluded.add("flagged_pairs", len(pairs) - len(kept))
    return kept


def _prompt_text(messages: list[dict], conversational: bool) -> Text:
    plain = records.plain_messages(messages)
    return _text(plain if conversational else records.standard_prompt(plain))


def _answer_texts(texts: dict[int, str], conversational: bool) -> dict[int, Text]:
    if conversational:
        return {cid: _text([{"role": "assistant", "content": text}]) for cid, text in texts.items()}
    return {cid: _text(text) for cid, text in texts.items()}


def _add_task(
    out: SplitPairs,
    rows: list[records.RankingRow],
    prompt: Text,
    params: SnapshotParams,
    excluded: records.Excluded,
) -> None:
    flags = set(params.exclude_flags)
    task = (*prompt, rows[0].prompt_id, rows[0].task_id)
    if params.labelers_mode == "majority":
        version = max(r.guideline_version for r in rows)
        found = majority_pairs([r.tiers for r in rows])
        kept = _unflagged(
            [(p.chosen, p.rejected, p.margin, p.votes, p.labelers) for p in found], rows, flags, excluded
        )
        out.add(
            [pair[:3] for pair in kept], [(*task, votes, labelers, version) for *_, votes, labelers in kept]
        )
        return
    for row in rows:
        kept = _unflagged(tier_pairs(row.tiers), [row], flags, excluded)
        out.add(kept, (*task, row.id, row.user_id, row.guideline_version))


def pairwise_columns(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: records.Excluded
) -> Iterator[tuple[str, Columns]]:
    """(split, columns) runs: per batch of tasks, the pairs of each split, in task then ranking order."""
    conversational = params.format == "conversational"
    extra_names = EXTRA_MAJORITY if params.labelers_mode == "majority" else EXTRA_ALL
    for batch, prompts, texts in records.ranking_batches(project_id, params, excluded_users, excluded):
        answers = _answer_texts(texts, conversational)
        out = {split: SplitPairs(extra_names) for split in SPLITS}
        for rows in batch:
            prompt_id = rows[0].prompt_id
            split = split_of(prompt_id, params.seed, params.validation_fraction)
            prompt = _prompt_text(prompts[prompt_id], conversational)
            _add_task(out[split], rows, prompt, params, excluded)
        for split in SPLITS:
            if len(out[split]):
                yield split, out[split].columns(answers)
