"""Import of prompts (JSONL, CSV) and ranking items (a prompt with its K answers, JSONL).

An import is all-or-nothing: the whole file is parsed and checked first, every bad line and field is reported
together, and only a clean file is written, in one transaction. It is idempotent by external id: lines whose
prompt already exists with the same conversation (and, for ranking items, the same answers) add nothing.
"""

import csv
import io
import random
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import (
    Candidate,
    CandidateSource,
    Project,
    Prompt,
    PromptSource,
    Task,
    TaskCandidate,
    TaskKind,
)
from labeling.services.conversations import MAX_MESSAGE_CHARS, as_conversation, conversation_errors
from labeling.services.errors import FieldError, ValidationFailed, invalid, size_text
from labeling.services.jsonl import json_lines
from labeling.services.text import find_bad_text

MAX_REPORTED_ERRORS = 200
MAX_EXTERNAL_ID = 200
FORMATS = ("jsonl", "csv")
ANALYZE_AFTER_RECORDS = 1000
MAX_MODEL_NAME = Candidate._meta.get_field("model_name").max_length
PRIORITY_RANGE = (-(2**31), 2**31 - 1)  # Task.priority is a 32-bit integer column


@dataclass
class Answer:
    text: str
    model_name: str = ""
    sampling: dict = field(default_factory=dict)


@dataclass
class ImportRecord:
    line: int
    external_id: str
    messages: list[dict[str, str]]
    metadata: dict = field(default_factory=dict)
    priority: int = 0
    answers: list[Answer] = field(default_factory=list)


@dataclass
class ImportResult:
    records: int = 0
    prompts_created: int = 0
    unchanged: int = 0
    tasks_created: int = 0
    candidates_created: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class _Errors:
    """Collects line errors, keeping the first MAX_REPORTED_ERRORS and a count of all."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []
        self.total = 0

    def add(self, line: int, message: str, field_name: str | None = None) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append(FieldError(message, field_name, line))

    def raise_if_any(self) -> None:
        if self.total:
            more = (
                f" ({self.total - len(self.items)} more not listed)" if self.total > len(self.items) else ""
            )
            raise invalid(f"The file has {self.total} error(s); nothing was imported{more}", *self.items)


def _decode(data: bytes) -> str:
    limit = settings.IMPORT_MAX_BYTES
    if len(data) > limit:
        raise invalid(
            f"The file has {len(data):,} bytes; the import limit is {size_text(limit)} ({limit:,} bytes). "
            "Split it into parts.",
            code="too_large",
        )
    if not data.strip():
        raise invalid("The file is empty.")
    if b"\x00" in data[:65536]:
        raise invalid("The file is binary (it contains NUL bytes); send JSONL or CSV text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise invalid(
            "The file is not valid UTF-8", FieldError(f"invalid byte at position {exc.start}", None, line)
        ) from exc


def _check_count(n: int) -> None:
    if n > settings.IMPORT_MAX_RECORDS:
        raise invalid(
            f"The file has {n} records; at most {settings.IMPORT_MAX_RECORDS} are imported at once.",
            code="too_large",
        )


def _common_fields(obj: dict, line: int, errors: _Errors) -> ImportRecord | None:
    external_id = obj.get("external_id", obj.get("id"))
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    ok = True
    if not isinstance(external_id, str) or not external_id.strip():
        errors.add(line, "is required: a non-empty string (or integer) unique in the project", "external_id")
        ok = False
    elif len(external_id) > MAX_EXTERNAL_ID:
        errors.add(line, f"is longer than {MAX_EXTERNAL_ID} characters", "external_id")
        ok = False
    if "messages" in obj and "prompt" in obj:
        errors.add(line, "give either 'prompt' (text) or 'messages' (a conversation), not both", "prompt")
        return None
    if "messages" in obj:
        messages = obj["messages"]
        problems = conversation_errors(messages)
    elif isinstance(obj.get("prompt"), str) and obj["prompt"].strip():
        messages = as_conversation(obj["prompt"])
        problems = conversation_errors(messages, field="prompt")
    else:
        errors.add(line, "is required: a non-empty string, or give 'messages' instead", "prompt")
        return None
    for problem in problems:
        errors.add(line, problem.message, problem.field)
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        errors.add(line, "must be an object", "metadata")
        ok = False
    priority = obj.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        errors.add(line, "must be an integer", "priority")
        ok = False
    elif not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
        errors.add(line, f"must be between {PRIORITY_RANGE[0]} and {PRIORITY_RANGE[1]}", "priority")
        ok = False
    if problems or not ok:
        return None
    return ImportRecord(
        line=line, external_id=external_id.strip(), messages=messages, metadata=metadata, priority=priority
    )


def _jsonl_objects(text: str, errors: _Errors) -> list[tuple[int, dict]]:
    objects = list(json_lines(text, errors))
    _check_count(len(objects))
    return objects


def _csv_objects(text: str, errors: _Errors) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in ("external_id", "prompt") if name not in header]
    if missing:
        raise invalid(
            "The CSV header must name the columns external_id and prompt",
            *(FieldError("column is missing from the header", name, 1) for name in missing),
        )
    objects = []
    for row in reader:
        line = reader.line_num
        bad = find_bad_text({name: value for name, value in row.items() if isinstance(name, str)})
        if bad is not None:  # named by its column
            errors.add(line, bad.reason, bad.path or None)
            continue
        obj: dict[str, Any] = {"external_id": row.get("external_id") or "", "prompt": row.get("prompt") or ""}
        if row.get("system"):
            obj = {
                "external_id": obj["external_id"],
                "messages": [
                    {"role": "system", "content": row["system"]},
                    {"role": "user", "content": obj["prompt"]},
                ],
            }
        if row.get("priority"):
            try:
                obj["priority"] = int(row["priority"])
            except ValueError:
                errors.add(line, f"must be an integer, not {row['priority']!r}", "priority")
                continue
        objects.append((line, obj))
    _check_count(len(objects))
    return objects


def _parse_answers(obj: dict, line: int, k: int, errors: _Errors) -> list[Answer] | None:
    raw = obj.get("answers", obj.get("candidates"))
    if not isinstance(raw, list):
        errors.add(line, f"is required: a list of the {k} answers to rank", "answers")
        return None
    if len(raw) != k:
        errors.add(line, f"has {len(raw)} answers; this project ranks K={k}", "answers")
        return None
    answers: list[Answer] = []
    for i, item in enumerate(raw):
        where = f"answers[{i}]"
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            errors.add(line, "must be a string or an object with text", where)
            return None
        text, model_name, sampling = item.get("text"), item.get("model", ""), item.get("sampling", {})
        if not isinstance(text, str) or not text.strip():
            errors.add(line, "text must be a non-empty string", f"{where}.text")
            return None
        if len(text) > MAX_MESSAGE_CHARS:
            errors.add(line, f"text has {len(text)} characters; at most {MAX_MESSAGE_CHARS}", f"{where}.text")
            return None
        if not isinstance(model_name, str) or not isinstance(sampling, dict):
            errors.add(line, "model must be a string and sampling an object", where)
            return None
        if len(model_name) > MAX_MODEL_NAME:
            errors.add(line, f"has {len(model_name)} characters; at most {MAX_MODEL_NAME}", f"{where}.model")
            return None
        answers.append(Answer(text=text, model_name=model_name, sampling=sampling))
    texts = [a.text for a in answers]
    if len(set(texts)) != len(texts):
        errors.add(line, "two answers have the same text; each answer must differ", "answers")
        return None
    return answers


def parse_file(data: bytes, *, kind: str, fmt: str, k: int) -> list[ImportRecord]:
    """Parse and check a whole file. Raises ValidationFailed naming every bad line and field."""
    if kind not in ("prompts", "ranking_items"):
        raise invalid("Unknown import kind", FieldError("must be 'prompts' or 'ranking_items'", "kind"))
    if fmt not in FORMATS:
        raise invalid("Unknown file format", FieldError(f"must be one of {', '.join(FORMATS)}", "format"))
    if kind == "ranking_items" and fmt != "jsonl":
        raise invalid("Ranking items are imported from JSONL only", FieldError("must be 'jsonl'", "format"))
    text = _decode(data)
    errors = _Errors()
    objects = _jsonl_objects(text, errors) if fmt == "jsonl" else _csv_objects(text, errors)
    records: list[ImportRecord] = []
    first_line: dict[str, int] = {}
    for line, obj in objects:
        record = _common_fields(obj, line, errors)
        answers = _parse_answers(obj, line, k, errors) if kind == "ranking_items" else []
        if record is None or answers is None:
            continue
        if record.external_id in first_line:
            errors.add(
                line,
                f"'{record.external_id}' already appears on line {first_line[record.external_id]}",
                "external_id",
            )
            continue
        first_line[record.external_id] = line
        record.answers = answers
        records.append(record)
    if not objects and not errors.total:
        errors.add(1, "the file holds no records")
    errors.raise_if_any()
    return records


def _shuffled_positions(n: int, seed: str) -> list[int]:
    # Answers are shown in an order unrelated to their source; seeded so a task always shows the same order.
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def import_file(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    data: bytes,
    kind: str,
    fmt: str = "jsonl",
    create_tasks: bool = True,
) -> ImportResult:
    records = parse_file(data, kind=kind, fmt=fmt, k=project.k_answers)
    result = ImportResult(records=len(records))
    with transaction.atomic():
        existing = {
            p.external_id: p
            for p in Prompt.objects.filter(project=project, external_id__in=[r.external_id for r in records])
        }
        errors = _Errors()
        for record in records:
            prompt = existing.get(record.external_id)
            if prompt is not None and prompt.messages != record.messages:
                errors.add(
                    record.line,
                    f"'{record.external_id}' already exists in this project with a different conversation",
                    "external_id",
                )
        errors.raise_if_any()

        new_prompts = Prompt.objects.bulk_create(
            [
                Prompt(
                    project=project,
                    external_id=r.external_id,
                    messages=r.messages,
                    metadata=r.metadata,
                    source=PromptSource.IMPORT,
                    created_by=user,
                )
                for r in records
                if r.external_id not in existing
            ]
        )
        result.prompts_created = len(new_prompts)
        prompts = {**existing, **{p.external_id: p for p in new_prompts}}
        if kind == "prompts":
            _prompt_tasks(project, records, existing, prompts, create_tasks, result)
        else:
            _ranking_tasks(project, records, prompts, result)
        if len(records) >= ANALYZE_AFTER_RECORDS:
            transaction.on_commit(_refresh_planner_statistics)
        audit_record(
            AuditAction.IMPORT,
            project=project,
            actor=user,
            details={"kind": kind, "format": fmt, "bytes": len(data), **result.as_dict()},
        )
    return result


def _refresh_planner_statistics() -> None:
    # A large bulk insert leaves PostgreSQL's row estimates stale until autovacuum catches up, and the planner
    # then picks sequential scans for the labeling hot path; refresh them at once.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Prompt, Candidate, Task, TaskCandidate):
                cursor.execute(f'ANALYZE "{model._meta.db_table}"')


def _prompt_tasks(project, records, existing, prompts, create_tasks, result) -> None:
    result.unchanged = sum(1 for r in records if r.external_id in existing)
    if create_tasks:
        tasks = Task.objects.bulk_create(
            [
                Task(
                    project=project,
                    kind=TaskKind.DEMONSTRATION,
                    prompt=prompts[r.external_id],
                    priority=r.priority,
                    required_annotations=project.redundancy,
                )
                for r in records
                if r.external_id not in existing
            ]
        )
        result.tasks_created = len(tasks)


def _ranking_tasks(project, records, prompts, result) -> None:
    prompt_ids = [p.pk for p in prompts.values()]
    known_answer_sets: dict[int, set[frozenset[str]]] = {}
    for task in Task.objects.filter(prompt_id__in=prompt_ids, kind=TaskKind.RANKING).prefetch_related(
        "candidates"
    ):
        known_answer_sets.setdefault(task.prompt_id, set()).add(
            frozenset(c.text for c in task.candidates.all())
        )
    todo = [
        r
        for r in records
        if frozenset(a.text for a in r.answers) not in known_answer_sets.get(prompts[r.external_id].pk, set())
    ]
    result.unchanged = len(records) - len(todo)
    candidates = Candidate.objects.bulk_create(
        [
            Candidate(
                prompt=prompts[r.external_id],
                text=a.text,
                source=CandidateSource.IMPORT,
                model_name=a.model_name,
                sampling=a.sampling,
            )
            for r in todo
            for a in r.answers
        ]
    )
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=project,
                kind=TaskKind.RANKING,
                prompt=prompts[r.external_id],
                priority=r.priority,
                required_annotations=project.redundancy,
            )
            for r in todo
        ]
    )
    links = []
    offset = 0
    for record, task in zip(todo, tasks, strict=True):
        n = len(record.answers)
        positions = _shuffled_positions(n, f"{project.pk}:{record.external_id}")
        links += [
            TaskCandidate(task=task, candidate=candidates[offset + i], position=positions[i])
            for i in range(n)
        ]
        offset += n
    TaskCandidate.objects.bulk_create(links)
    result.tasks_created = len(tasks)
    result.candidates_created = len(candidates)


__all__ = ["ImportResult", "ValidationFailed", "import_file", "parse_file"]
