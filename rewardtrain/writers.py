"""Record schemas and the writer of one split as JSONL and Parquet, incrementally and byte-for-byte reproducibly.

Records are dicts whose keys follow the schema's field order; JSONL lines are `json.dumps` in that order
(UTF-8, no ASCII escaping), Parquet files are written in row groups of `ROW_GROUP_ROWS` rows. Nothing in the
data files depends on the time or the machine, so the same records give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 5000

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
CANDIDATE = pa.struct([("id", pa.int64()), ("text", pa.string()), ("tier", pa.int64())])


def pairwise_schema(conversational: bool, majority: bool) -> pa.Schema:
    text = MESSAGES if conversational else pa.string()
    fields = [
        ("prompt", text),
        ("chosen", text),
        ("rejected", text),
        ("margin", pa.float64()),
        ("prompt_id", pa.int64()),
        ("task_id", pa.int64()),
        ("chosen_id", pa.int64()),
        ("rejected_id", pa.int64()),
    ]
    if majority:
        fields += [("votes", pa.int64()), ("labelers", pa.int64()), ("guideline_version", pa.int64())]
    else:
        fields += [("ranking_id", pa.int64()), ("labeler_id", pa.int64()), ("guideline_version", pa.int64())]
    return pa.schema(fields)


def kwise_schema(aggregated: bool) -> pa.Schema:
    fields = [
        ("prompt", MESSAGES),
        ("prompt_id", pa.int64()),
        ("task_id", pa.int64()),
        ("candidates", pa.list_(CANDIDATE)),
    ]
    if aggregated:
        fields += [("labelers", pa.int64()), ("guideline_version", pa.int64())]
    else:
        fields += [("ranking_id", pa.int64()), ("labeler_id", pa.int64()), ("guideline_version", pa.int64())]
    return pa.schema(fields)


# How an SFT record was written: `source` is "demonstration" or "dialogue"; an assisted demonstration keeps the
# model suggestion it started from and how much the labeler changed it (null when unassisted).
SFT_METADATA = pa.struct(
    [
        ("source", pa.string()),
        ("assisted", pa.bool_()),
        ("suggestion_model", pa.string()),
        ("suggestion", pa.string()),
        ("edit_distance", pa.int64()),
        ("edit_ratio", pa.float64()),
    ]
)


def sft_schema() -> pa.Schema:
    """`prompt_id` is the seed prompt of a dialogue (null for one written from nothing); `demonstration_id` and
    `dialogue_id` say which annotation a record is (the other is null)."""
    return pa.schema(
        [
            ("messages", MESSAGES),
            ("prompt_id", pa.int64()),
            ("task_id", pa.int64()),
            ("demonstration_id", pa.int64()),
            ("dialogue_id", pa.int64()),
            ("labeler_id", pa.int64()),
            ("guideline_version", pa.int64()),
            ("review_status", pa.string()),
            ("metadata", SFT_METADATA),
        ]
    )


def schema_description(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SplitWriter:
    """Writes one split to `<name>.jsonl` and `<name>.parquet` in `directory`, a row group at a time."""

    def __init__(self, directory: Path, name: str, schema: pa.Schema) -> None:
        self.schema = schema
        self.names = [f.name for f in schema]
        self.jsonl_path = directory / f"{name}.jsonl"
        self.parquet_path = directory / f"{name}.parquet"
        self._jsonl = self.jsonl_path.open("w", encoding="utf-8", newline="\n")
        self._parquet = pq.ParquetWriter(self.parquet_path, schema, compression="zstd")
        self._buffer: list[dict[str, Any]] = []
        self.records = 0
        self.prompts: set[int] = set()

    def write(self, record: dict[str, Any]) -> None:
        self._jsonl.write(json.dumps({k: record[k] for k in self.names}, ensure_ascii=False) + "\n")
        self._buffer.append(record)
        self.records += 1
        prompt_id = record.get("prompt_id")
        if prompt_id is not None:
            self.prompts.add(prompt_id)
        if len(self._buffer) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            columns = [pa.array([row[f.name] for row in self._buffer], type=f.type) for f in self.schema]
            self._parquet.write_table(pa.Table.from_arrays(columns, schema=self.schema))
            self._buffer = []

    def close(self) -> dict[str, Any]:
        self._flush()
        self._jsonl.close()
        self._parquet.close()
        return {
            "records": self.records,
            "prompts": len(self.prompts),
            "files": {
                path.name: {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
                for path in (self.jsonl_path, self.parquet_path)
            },
        }

    def abort(self) -> None:
        self._jsonl.close()
        self._parquet.close()
