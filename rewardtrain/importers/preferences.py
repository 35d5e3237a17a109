"""Import of existing preference data (HH-RLHF, TRL JSONL, oasst1) as completed rankings.

Each ranked item becomes a prompt (shared by every item with the same conversation), its answers as candidates,
a completed ranking task, a submitted assignment and a ranking, all made by a per-source system user
(`import:hh-rlhf`, `import:trl`, `import:oasst1`: inactive, no password) under the project's current guideline.
All-or-nothing: a file with any malformed record is refused with every bad line listed. Idempotent: an item
whose prompt already has a ranking task with the same answers is skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import uuid
from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from labeling.models import (
    Assignment,
    AssignmentStatus,
    Candidate,
    CandidateSource,
    Project,
    Prompt,
    PromptSource,
    Ranking,
    Task,
    TaskCandidate,
    TaskKind,
    TaskStatus,
)
from labeling.selectors import guideline_current
from labeling.services.errors import FieldError, invalid, size_text
from rewardtrain.importers import LineErrors, PreferenceItem
from rewardtrain.importers.parsers import FORMATS, PARSERS

SYSTEM_USERNAMES = {"hh": "import:hh-rlhf", "trl": "import:trl", "oasst": "import:oasst1"}
MAX_DECOMPRESSED_BYTES_FACTOR = 10  # a gzip file may expand to this many times the import limit
_NAMESPACE = uuid.UUID("5b0d7c1e-3f9a-4c1b-9a55-6e1d2f4a8b30")


@dataclass
class PreferenceImportResult:
    records: int = 0
    prompts_created: int = 0
    rankings_created: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _text(data: bytes) -> str:
    limit = settings.IMPORT_MAX_BYTES
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
                data = fh.read(limit * MAX_DECOMPRESSED_BYTES_FACTOR + 1)
        except (OSError, EOFError) as exc:
            raise invalid(f"The gzip file is damaged: {exc}") from exc
        limit *= MAX_DECOMPRESSED_BYTES_FACTOR
    if len(data) > limit:
        raise invalid(
            f"The file is larger than the import limit of {size_text(limit)} ({limit:,} bytes).",
            code="too_large",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise invalid(
            "The file is not valid UTF-8", FieldError(f"invalid byte at {exc.start}", None, line)
        ) from exc


def parse_preferences(data: bytes, fmt: str) -> list[PreferenceItem]:
    """Parse a whole file; raises `invalid` listing every malformed record by line."""
    if fmt not in FORMATS:
        raise invalid("Unknown format", FieldError(f"must be one of {', '.join(FORMATS)}", "format"))
    errors = LineErrors()
    items = PARSERS[fmt](_text(data), errors)
    if errors.total:
        more = (
            f" ({errors.total - len(errors.items)} more not listed)"
            if errors.total > len(errors.items)
            else ""
        )
        raise invalid(
            f"The file has {errors.total} error(s); nothing was imported{more}",
            *(FieldError(e.message, e.field, e.line) for e in errors.items),
        )
    if not items:
        raise invalid("The file holds no ranked items.")
    if len(items) > settings.IMPORT_MAX_RECORDS:
        raise invalid(
            f"The file has {len(items)} items; at most {settings.IMPORT_MAX_RECORDS} are imported at once.",
            code="too_large",
        )
    return items


def system_user(fmt: str) -> AbstractBaseUser:
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAMES[fmt], defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _prompt_key(fmt: str, messages: list[dict[str, str]]) -> str:
    digest = hashlib.sha256(json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return f"{SYSTEM_USERNAMES[fmt]}:{digest[:40]}"


@transaction.atomic
def preferences_import(*, project: Project, data: bytes, fmt: str) -> PreferenceImportResult:
    """Import a file of ranked items into a project as completed rankings (see the module doc)."""
    items = parse_preferences(data, fmt)
    result = PreferenceImportResult(records=len(items))
    user = system_user(fmt)
    guideline = guideline_current(project)
    keys = [_prompt_key(fmt, item.messages) for item in items]
    prompts = {p.external_id: p for p in Prompt.objects.filter(project=project, external_id__in=set(keys))}
    known: set[tuple[int, frozenset[str]]] = set()
    for task in Task.objects.filter(
        prompt__in=list(prompts.values()), kind=TaskKind.RANKING
    ).prefetch_related("candidates"):
        known.add((task.prompt_id, frozenset(c.text for c in task.candidates.all())))

    new_prompts: dict[str, Prompt] = {}
    for item, key in zip(items, keys, strict=True):
        if key not in prompts and key not in new_prompts:
            new_prompts[key] = Prompt(
                project=project,
                external_id=key,
                messages=item.messages,
                metadata={
                    "source": SYSTEM_USERNAMES[fmt],
                    **({"source_id": item.source_id} if item.source_id else {}),
                },
                source=PromptSource.IMPORT,
            )
    Prompt.objects.bulk_create(list(new_prompts.values()))
    result.prompts_created = len(new_prompts)
    prompts.update(new_prompts)

    todo: list[tuple[PreferenceItem, Prompt]] = []
    seen_in_file: set[tuple[int, frozenset[str]]] = set()
    for item, key in zip(items, keys, strict=True):
        signature = (prompts[key].pk, frozenset(item.answers))
        if signature in known or signature in seen_in_file:
            result.unchanged += 1
            continue
        seen_in_file.add(signature)
        todo.append((item, prompts[key]))
    if not todo:
        return result

    candidates = Candidate.objects.bulk_create(
        [
            Candidate(prompt=prompt, text=text, source=CandidateSource.IMPORT)
            for item, prompt in todo
            for text in item.answers
        ]
    )
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=project,
                kind=TaskKind.RANKING,
                prompt=prompt,
                required_annotations=1,
                completed_count=1,
                status=TaskStatus.COMPLETE,
            )
            for _, prompt in todo
        ]
    )
    now = timezone.now()
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                task=task,
                user=user,
                status=AssignmentStatus.SUBMITTED,
                guideline=guideline,
                leased_at=now,
                expires_at=now,
                finished_at=now,
            )
            for task in tasks
        ]
    )
    links, rankings = [], []
    offset = 0
    for (item, _), task, assignment in zip(todo, tasks, assignments, strict=True):
        ids = [c.pk for c in candidates[offset : offset + len(item.answers)]]
        offset += len(item.answers)
        links += [TaskCandidate(task=task, candidate_id=cid, position=i) for i, cid in enumerate(ids)]
        rankings.append(
            Ranking(
                task=task,
                assignment=assignment,
                user=user,
                guideline=guideline,
                client_id=uuid.uuid5(_NAMESPACE, f"{project.pk}:{task.pk}"),
                tiers=[[ids[i] for i in tier] for tier in item.tiers],
            )
        )
    TaskCandidate.objects.bulk_create(links)
    Ranking.objects.bulk_create(rankings)
    result.rankings_created = len(rankings)
    return result
