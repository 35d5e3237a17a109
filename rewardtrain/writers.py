"""Record schemas and the writer of one split as JSONL and Parquet, incrementally and byte-for-byte reproducibly.

A writer takes records one at a time (dicts) or a run of them column-wise (`Columns`, what the pairwise build
makes); both give the same bytes. JSONL lines are what `json.dumps` makes of a record in the schema's field order
(UTF-8, no ASCII escaping), Parquet files are written in row groups of `ROW_GROUP_ROWS` rows. Nothing in the
data files depends on the time or the machine, so the same records give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 5000

# JSON text exactly as `json.dumps(value, ensure_ascii=False)` writes it (the same encoder settings).
encode_json = json.JSONEncoder(ensure_ascii=False).encode

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


def prompts_schema() -> pa.Schema:
    """TRL's prompt-only conversational records: the conversation the policy answers, and its id."""
    return pa.schema([("prompt", MESSAGES), ("prompt_id", pa.int64())])


def schema_description(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Columns:
    """A run of records column-wise. `values` has every schema field's values (what Parquet stores); `encoded`
    has, for each field whose values are not plain numbers, every value's JSON text (`encode_json`), so a value
    shared by many rows is encoded once. Fields left out of `encoded` must hold ints or finite floats, whose
    `str` is their JSON. Rows sharing a nested value may share the object: it is converted to Arrow once."""

    values: dict[str, list[Any]]
    encoded: dict[str, list[str]]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()), []))


def _line_template(names: list[str]) -> str:
    """A `str.format` template of one JSONL line: `{"a": {}, "b": {}}` plus the newline, keys as json writes them."""
    keys = (encode_json(name).replace("{", "{{").replace("}", "}}") for name in names)
    return "{{" + ", ".join(f"{key}: {{}}" for key in keys) + "}}\n"


def _is_nested(type_: pa.DataType) -> bool:
    return pa.types.is_list(type_) or pa.types.is_struct(type_)


def arrow_column(values: list[Any], type_: pa.DataType) -> pa.Array:
    """One column of a row group. Nested values (message lists) are converted once per distinct object and
    repeated with `take`: a prompt or answer shared by many pairs is then converted once, not once a pair."""
    if not _is_nested(type_):
        return pa.array(values, type=type_)
    index: dict[int, int] = {}
    distinct: list[Any] = []
    positions: list[int] = []
    for value in values:
        position = index.get(id(value))
        if position is None:
            position = index[id(value)] = len(distinct)
            distinct.append(value)
        positions.append(position)
    if len(distinct) == len(values):
        return pa.array(values, type=type_)
    return pa.array(distinct, type=type_).take(pa.array(positions, type=pa.int32()))


class SplitWriter:
    """Writes one split to `<name>.jsonl` and `<name>.parquet` in `directory`, a row group at a time."""

    def __init__(self, directory: Path, name: str, schema: pa.Schema) -> None:
        self.schema = schema
        self.names = [f.name for f in schema]
        self.jsonl_path = directory / f"{name}.jsonl"
        self.parquet_path = directory / f"{name}.parquet"
        self._jsonl = self.jsonl_path.open("wb")
        # The JSONL file is hashed as it is written: it is the large one, not worth reading back.
        self._jsonl_sha256 = hashlib.sha256()
        self._parquet = pq.ParquetWriter(self.parquet_path, schema, compression="zstd")
        self._line = _line_template(self.names)
        # Rows not yet in a row group, column by column.
        self._buffer: dict[str, list[Any]] = {name: [] for name in self.names}
        self._buffered = 0
        self.records = 0
        self.prompts: set[int] = set()

    def write(self, record: dict[str, Any]) -> None:
        self._write_jsonl(json.dumps({k: record[k] for k in self.names}, ensure_ascii=False) + "\n")
        for name in self.names:
            self._buffer[name].append(record[name])
        prompt_id = record.get("prompt_id")
        if prompt_id is not None:
            self.prompts.add(prompt_id)
        self._added(1)

    def write_columns(self, columns: Columns) -> None:
        """Write a run of records given column-wise: the same bytes as writing them one by one."""
        n = len(columns)
        if not n:
            return
        pieces = [columns.encoded.get(name) or columns.values[name] for name in self.names]
        self._write_jsonl("".join(map(self._line.format, *pieces)))
        for name in self.names:
            self._buffer[name].extend(columns.values[name])
        if "prompt_id" in columns.values:
            self.prompts.update(columns.values["prompt_id"])
            self.prompts.discard(None)  # type: ignore[arg-type]
        self._added(n)

    def _write_jsonl(self, text: str) -> None:
        data = text.encode("utf-8")
        self._jsonl_sha256.update(data)
        self._jsonl.write(data)

    def _added(self, n: int) -> None:
        self.records += n
        self._buffered += n
        while self._buffered >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        if not rows:
            return
        columns = [arrow_column(self._buffer[f.name][:rows], f.type) for f in self.schema]
        self._parquet.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        for values in self._buffer.values():
            del values[:rows]
        self._buffered -= rows

    def close(self) -> dict[str, Any]:
        self._flush(self._buffered)
        self._jsonl.close()
        self._parquet.close()
        digests = {
            self.jsonl_path: self._jsonl_sha256.hexdigest(),
            self.parquet_path: sha256_of(self.parquet_path),
        }
        return {
            "records": self.records,
            "prompts": len(self.prompts),
            "files": {
                path.name: {"bytes": path.stat().st_size, "sha256": digest}
                for path, digest in digests.items()
            },
        }

    def abort(self) -> None:
        self._jsonl.close()
        self._parquet.close()
