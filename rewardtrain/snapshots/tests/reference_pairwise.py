"""The pairwise export as it was before the column-wise build: one dict per pair, `json.dumps` per line and
`pa.array` over the rows' dicts per row group. Kept only as the reference the byte-identity test compares the
real build against, so it reads the whole project at once and favours plain code over speed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from labeling.models import Prompt, TaskCandidate
from rewardtrain import records, writers
from rewardtrain.pairs import SPLITS, majority_pairs, pairs_from_tiers, split_of
from rewardtrain.params import SnapshotParams


def _flagged(flags_of: dict[str, list[str]], cid: int, flags: set[str]) -> bool:
    return bool(flags) and bool(flags.intersection(flags_of.get(str(cid), ())))


def reference_pairwise_records(
    project_id: int, params: SnapshotParams, excluded_users: set[int], excluded: records.Excluded
) -> Iterator[tuple[str, dict[str, Any]]]:
    qs = records.ranking_queryset(project_id, params, excluded_users)
    excluded.add("unrankable_rankings", qs.filter(unrankable=True).count())
    rows = list(
        qs.filter(unrankable=False)
        .order_by("task_id", "id")
        .values_list("id", "task_id", "task__prompt_id", "user_id", "guideline__version", "tiers", "flags")
    )
    prompts = dict(Prompt.objects.values_list("id", "messages"))
    texts = dict(TaskCandidate.objects.values_list("candidate_id", "candidate__text"))
    conversational = params.format == "conversational"
    flags = set(params.exclude_flags)

    def answer(text: str) -> Any:
        return [{"role": "assistant", "content": text}] if conversational else text

    for (task_id, prompt_id), group in groupby(rows, key=lambda r: (r[1], r[2])):
        task_rows = list(group)
        messages = [{"role": m["role"], "content": m["content"]} for m in prompts[prompt_id]]
        base = {
            "prompt": messages if conversational else records.standard_prompt(messages),
            "prompt_id": prompt_id,
            "task_id": task_id,
        }
        split = split_of(prompt_id, params.seed, params.validation_fraction)
        if params.labelers_mode == "majority":
            version = max(r[4] for r in task_rows)
            for pair in majority_pairs([r[5] for r in task_rows]):
                if any(_flagged(r[6], pair.chosen, flags) for r in task_rows):
                    excluded.add("flagged_pairs")
                    continue
                yield (
                    split,
                    {
                        **base,
                        "chosen": answer(texts[pair.chosen]),
                        "rejected": answer(texts[pair.rejected]),
                        "margin": float(pair.margin),
                        "chosen_id": pair.chosen,
                        "rejected_id": pair.rejected,
                        "votes": pair.votes,
                        "labelers": pair.labelers,
                        "guideline_version": version,
                    },
                )
            continue
        for ranking_id, _, _, user_id, version, tiers, flags_of in task_rows:
            for pair in pairs_from_tiers(tiers):
                if _flagged(flags_of, pair.chosen, flags):
                    excluded.add("flagged_pairs")
                    continue
                yield (
                    split,
                    {
                        **base,
                        "chosen": answer(texts[pair.chosen]),
                        "rejected": answer(texts[pair.rejected]),
                        "margin": float(pair.margin),
                        "chosen_id": pair.chosen,
                        "rejected_id": pair.rejected,
                        "ranking_id": ranking_id,
                        "labeler_id": user_id,
                        "guideline_version": version,
                    },
                )


class ReferenceSplitWriter:
    """`writers.SplitWriter` as it was: records buffered as dicts, a row group every `ROW_GROUP_ROWS`."""

    def __init__(self, directory: Path, name: str, schema: pa.Schema) -> None:
        self.schema = schema
        self.names = [f.name for f in schema]
        self._jsonl = (directory / f"{name}.jsonl").open("w", encoding="utf-8", newline="\n")
        self._parquet = pq.ParquetWriter(directory / f"{name}.parquet", schema, compression="zstd")
        self._buffer: list[dict[str, Any]] = []
        self.records = 0

    def write(self, record: dict[str, Any]) -> None:
        self._jsonl.write(json.dumps({k: record[k] for k in self.names}, ensure_ascii=False) + "\n")
        self._buffer.append(record)
        self.records += 1
        if len(self._buffer) >= writers.ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            columns = [pa.array([row[f.name] for row in self._buffer], type=f.type) for f in self.schema]
            self._parquet.write_table(pa.Table.from_arrays(columns, schema=self.schema))
            self._buffer = []

    def close(self) -> int:
        self._flush()
        self._jsonl.close()
        self._parquet.close()
        return self.records


def write_reference_pairwise(
    project_id: int, params: SnapshotParams, directory: Path, excluded_users: set[int] | None = None
) -> dict[str, Any]:
    """Write the reference files into `directory`; returns each split's record count and what was left out."""
    schema = writers.pairwise_schema(params.format == "conversational", params.labelers_mode == "majority")
    split_writers = {name: ReferenceSplitWriter(directory, name, schema) for name in SPLITS}
    excluded = records.Excluded()
    for split, record in reference_pairwise_records(project_id, params, excluded_users or set(), excluded):
        split_writers[split].write(record)
    return {
        "splits": {name: writer.close() for name, writer in split_writers.items()},
        "excluded": dict(sorted(excluded.counts.items())),
    }
