"""Submitting work: rankings, demonstrations and written prompts.

Each submission is idempotent by a client-generated id, validated against the guideline version it was made
under, and saved in one transaction with its assignment's state and its task's completion count. Locks are
always taken task first, then assignment, the same order as claiming, so the two never deadlock.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from labeling.models import (
    Assignment,
    AssignmentStatus,
    Demonstration,
    Dialogue,
    Guideline,
    Project,
    Prompt,
    PromptSource,
    Ranking,
    Suggestion,
    SuggestionStatus,
    Task,
    TaskKind,
    TaskStatus,
    WrittenPrompt,
)
from labeling.selectors import guideline_current
from labeling.services import blind as blind_ids
from labeling.services.completion import task_recount
from labeling.services.conversations import MAX_MESSAGE_CHARS, conversation_errors, dialogue_errors
from labeling.services.edits import edit_distance
from labeling.services.errors import FieldError, ServiceError, conflict, invalid, not_found

MAX_SECONDS_SPENT = 24 * 3600
MAX_REASON = 1000


@dataclass
class SubmissionResult:
    annotation: Demonstration | Ranking | WrittenPrompt | Dialogue
    created: bool


def ranking_errors(
    *,
    tiers: Any,
    ratings: Any,
    flags: Any,
    candidate_ids: list[int],
    guideline: Guideline,
    allow_ties: bool,
) -> list[FieldError]:
    """Everything wrong with a ranking of a task's candidates; empty when it is valid."""
    errors: list[FieldError] = []
    expected = set(candidate_ids)
    if not isinstance(tiers, list) or not tiers:
        return [FieldError("must be a non-empty list of tiers (lists of candidate ids), best first", "tiers")]
    seen: set[int] = set()
    for i, tier in enumerate(tiers):
        if not isinstance(tier, list) or not tier:
            errors.append(
                FieldError(f"tier {i + 1} must be a non-empty list of candidate ids", f"tiers[{i}]")
            )
            continue
        if len(tier) > 1 and not allow_ties:
            errors.append(
                FieldError(
                    f"tier {i + 1} ties {len(tier)} candidates, but this project does not allow ties",
                    f"tiers[{i}]",
                )
            )
        for cid in tier:
            if not isinstance(cid, int) or isinstance(cid, bool):
                errors.append(FieldError(f"candidate id {cid!r} is not an integer", f"tiers[{i}]"))
            elif cid not in expected:
                errors.append(FieldError(f"candidate {cid} is not an answer of this task", f"tiers[{i}]"))
            elif cid in seen:
                errors.append(FieldError(f"candidate {cid} is placed more than once", f"tiers[{i}]"))
            else:
                seen.add(cid)
    missing = sorted(expected - seen)
    if missing:
        errors.append(
            FieldError(f"candidate(s) {missing} are missing: every answer must be placed once", "tiers")
        )
    errors += _rating_errors(ratings, expected, guideline)
    errors += _flag_errors(flags, expected, guideline)
    return errors


_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,17}")


def _candidate_key(key: Any, expected: set[int], field: str, errors: list[FieldError]) -> int | None:
    """The candidate id an object key names. Only the canonical spelling counts ("12", not "012", " 12" or
    "12.0"), so one answer can never collect two ratings under two spellings."""
    if isinstance(key, int) and not isinstance(key, bool):
        cid = key
    elif isinstance(key, str) and _CANONICAL_ID.fullmatch(key):
        cid = int(key)
    else:
        errors.append(
            FieldError(f'key {key!r} is not a candidate id (write it as a plain integer, like "12")', field)
        )
        return None
    if cid not in expected:
        errors.append(FieldError(f"candidate {cid} is not an answer of this task", field))
        return None
    return cid


def _repeated(cid: int, seen: set[int], field: str, errors: list[FieldError]) -> bool:
    """Only a Python caller can name one candidate twice (as 12 and "12"): JSON keys are unique strings."""
    if cid in seen:
        errors.append(FieldError(f"candidate {cid} is given more than once", field))
        return True
    seen.add(cid)
    return False


def _rating_errors(ratings: Any, expected: set[int], guideline: Guideline) -> list[FieldError]:
    if ratings in (None, {}):
        return []
    if not isinstance(ratings, dict):
        return [FieldError("must be an object mapping candidate id to a rating", "ratings")]
    errors: list[FieldError] = []
    low, high = guideline.rating_scale.get("min", 1), guideline.rating_scale.get("max", 7)
    seen: set[int] = set()
    for key, value in ratings.items():
        cid = _candidate_key(key, expected, "ratings", errors)
        if cid is None or _repeated(cid, seen, "ratings", errors):
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors.append(
                FieldError(
                    f"rating {value!r} for candidate {cid} is outside the scale {low} to {high} "
                    f"of guideline v{guideline.version}",
                    f"ratings.{cid}",
                )
            )
    return errors


def _flag_errors(flags: Any, expected: set[int], guideline: Guideline) -> list[FieldError]:
    if flags in (None, {}):
        return []
    if not isinstance(flags, dict):
        return [FieldError("must be an object mapping candidate id to a list of flag keys", "flags")]
    errors: list[FieldError] = []
    allowed = guideline.flag_keys
    seen: set[int] = set()
    for key, values in flags.items():
        cid = _candidate_key(key, expected, "flags", errors)
        if cid is None or _repeated(cid, seen, "flags", errors):
            continue
        if not isinstance(values, list):
            errors.append(
                FieldError(f"flags for candidate {cid} must be a list of flag keys", f"flags.{cid}")
            )
            continue
        if not all(isinstance(flag, str) for flag in values):
            errors.append(
                FieldError(f"flags for candidate {cid} must be a list of flag keys (strings)", f"flags.{cid}")
            )
            continue
        for flag in values:
            if flag not in allowed:
                errors.append(
                    FieldError(
                        f"unknown flag {flag!r} for candidate {cid}; guideline v{guideline.version} "
                        f"allows: {', '.join(sorted(allowed))}",
                        f"flags.{cid}",
                    )
                )
        if len(set(map(str, values))) != len(values):
            errors.append(FieldError(f"a flag is repeated for candidate {cid}", f"flags.{cid}"))
    return errors


def _resolve_guideline(assignment: Assignment, version: int | None) -> Guideline:
    """The version the client says it showed, else the one the lease was handed out under."""
    if version is None:
        return assignment.guideline or guideline_current(assignment.task.project)
    guideline = Guideline.objects.filter(project_id=assignment.task.project_id, version=version).first()
    if guideline is None:
        raise invalid(
            "Unknown guideline version",
            FieldError(f"version {version} does not exist in this project", "guideline_version"),
        )
    return guideline


def _check_common(seconds_spent: Any, client_id: Any) -> uuid.UUID:
    errors = []
    try:
        parsed = uuid.UUID(str(client_id))
    except ValueError:
        errors.append(FieldError("must be a UUID generated by the client", "client_id"))
    if (
        not isinstance(seconds_spent, int | float)
        or isinstance(seconds_spent, bool)
        or not (0 <= seconds_spent <= MAX_SECONDS_SPENT)
    ):
        errors.append(
            FieldError(f"must be a number of seconds between 0 and {MAX_SECONDS_SPENT}", "seconds_spent")
        )
    if errors:
        raise invalid("Invalid submission", *errors)
    return parsed


_LOCK_TASK_SQL = """
SELECT t.* FROM labeling_task t
WHERE t.id = (SELECT a.task_id FROM labeling_assignment a WHERE a.id = %s AND a.user_id = %s) {project} {lock}
"""


def _lock(user: AbstractBaseUser, assignment_id: int, project_id: int | None) -> Assignment:
    """Lock the task, then the assignment (with its task attached); 404 unless the assignment is the user's.

    In SQL: this runs on every submission, and building the equivalent querysets cost more than running them."""
    lock = "FOR UPDATE" if connection.features.has_select_for_update else ""
    params: list[Any] = [assignment_id, user.pk]
    project = ""
    if project_id is not None:
        project, params = "AND t.project_id = %s", [*params, project_id]
    task = next(iter(Task.objects.raw(_LOCK_TASK_SQL.format(project=project, lock=lock), params)), None)
    if task is None:
        raise not_found(f"Assignment {assignment_id} does not exist or is not yours.")
    task.project = Project.objects.get(pk=task.project_id)
    assignment = next(
        iter(
            Assignment.objects.raw(f"SELECT * FROM labeling_assignment WHERE id = %s {lock}", [assignment_id])
        )
    )
    assignment.task = task
    return assignment


def _check_open(assignment: Assignment) -> None:
    task = assignment.task
    if assignment.status in (AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED):
        raise conflict(
            f"This assignment was already {assignment.status}; nothing new was stored.",
            code=f"already_{assignment.status}",
        )
    lease_over = assignment.status == AssignmentStatus.EXPIRED or assignment.expires_at <= timezone.now()
    if lease_over and (task.status != TaskStatus.OPEN or task.completed_count >= task.required_annotations):
        raise conflict(
            f"Your lease on this task expired at {assignment.expires_at.isoformat()} and the task has since "
            "received all the annotations it needs, so this submission was not stored.",
            code="lease_expired",
        )


def _finish(assignment: Assignment) -> None:
    task = assignment.task
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.finished_at = timezone.now()
    # Plain statements on the hot path (the ORM's save and delete machinery cost more than they do); the rows
    # are locked by `_lock`, and nothing cascades from a draft. The task's count is recomputed from its
    # annotations (the one just stored included) in one UPDATE, never incremented.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE labeling_assignment SET status = %s, finished_at = %s WHERE id = %s",
            [
                assignment.status,
                connection.ops.adapt_datetimefield_value(assignment.finished_at),
                assignment.pk,
            ],
        )
        # The work is stored: the server-side draft of it has served its purpose.
        cursor.execute("DELETE FROM labeling_draft WHERE assignment_id = %s", [assignment.pk])
    task_recount(task)


def _ranking_fields(assignment: Assignment, guideline: Guideline, work: dict, *, blind: bool = False) -> dict:
    """The ranking's stored fields. With `blind`, the work names answers by the labeler's ids (see
    `labeling.services.blind`): they are checked as such, and stored as database ids."""
    tiers, ratings, flags = work.get("tiers"), work.get("ratings"), work.get("flags")
    reason = (work.get("unrankable_reason") or "").strip()
    if reason:
        if tiers:
            raise invalid(
                "Give either tiers or an unrankable reason, not both", FieldError("must be empty", "tiers")
            )
        if len(reason) > MAX_REASON:
            raise invalid(
                "Reason too long", FieldError(f"at most {MAX_REASON} characters", "unrankable_reason")
            )
        tiers, ratings, flags = [], {}, {}
    else:
        candidate_ids = list(assignment.task.task_candidates.values_list("candidate_id", flat=True))
        to_internal = blind_ids.internal_ids(assignment.pk, candidate_ids) if blind else None
        errors = ranking_errors(
            tiers=tiers,
            ratings=ratings,
            flags=flags,
            candidate_ids=list(to_internal) if to_internal else candidate_ids,
            guideline=guideline,
            allow_ties=assignment.task.project.allow_ties,
        )
        if errors:
            raise invalid("Invalid ranking", *errors, code="invalid_ranking")
        if to_internal:
            tiers, ratings, flags = blind_ids.ranking_to_internal(to_internal, tiers, ratings, flags)
    return {
        "tiers": tiers,
        "ratings": {str(k): v for k, v in (ratings or {}).items()},
        "flags": {str(k): v for k, v in (flags or {}).items() if v},
        "unrankable": bool(reason),
        "unrankable_reason": reason,
        "comment": (work.get("comment") or "")[:MAX_MESSAGE_CHARS],
    }


def _demonstration_fields(
    assignment: Assignment, guideline: Guideline, work: dict, *, blind: bool = False
) -> dict:
    text = work.get("text")
    if not isinstance(text, str) or not text.strip():
        raise invalid("Invalid demonstration", FieldError("must be a non-empty answer", "text"))
    if len(text) > MAX_MESSAGE_CHARS:
        raise invalid("Invalid demonstration", FieldError(f"at most {MAX_MESSAGE_CHARS} characters", "text"))
    suggestion = _used_suggestion(assignment, work.get("suggestion_id"))
    if suggestion is None:
        return {
            "text": text,
            "suggestion": "",
            "suggestion_model": "",
            "edit_distance": None,
            "edit_ratio": None,
        }
    distance, ratio = edit_distance(suggestion.text, text)
    return {
        "text": text,
        "suggestion": suggestion.text,
        "suggestion_model": suggestion.model_name,
        "edit_distance": distance,
        "edit_ratio": ratio,
    }


def _used_suggestion(assignment: Assignment, suggestion_id: Any) -> Suggestion | None:
    """The suggestion a demonstration started from: the one named by `suggestion_id`, else the newest one the
    labeler received on this assignment; None when they asked for none. Only the text stored on the server
    counts, so the edit distance cannot be faked by the client."""
    done = Suggestion.objects.filter(assignment=assignment, status=SuggestionStatus.DONE)
    if suggestion_id is None:
        return done.order_by("-id").first()
    if not isinstance(suggestion_id, int) or isinstance(suggestion_id, bool):
        raise invalid(
            "Invalid demonstration", FieldError("must be a suggestion id (an integer)", "suggestion_id")
        )
    found = done.filter(pk=suggestion_id).first()
    if found is None:
        raise invalid(
            "Invalid demonstration",
            FieldError(
                f"suggestion {suggestion_id} is not a finished suggestion of this assignment", "suggestion_id"
            ),
        )
    return found


def _written_prompt_fields(
    assignment: Assignment, guideline: Guideline, work: dict, *, blind: bool = False
) -> dict:
    messages = work.get("messages")
    errors = conversation_errors(messages)
    if errors:
        raise invalid("Invalid prompt", *errors)
    project = assignment.task.project
    prompt = Prompt.objects.create(
        project=project,
        external_id=f"written-{uuid.uuid4()}",
        messages=messages,
        source=PromptSource.LABELER,
        created_by=assignment.user,
    )
    Task.objects.create(
        project=project, kind=TaskKind.DEMONSTRATION, prompt=prompt, required_annotations=project.redundancy
    )
    return {"prompt": prompt}


def _dialogue_fields(
    assignment: Assignment, guideline: Guideline, work: dict, *, blind: bool = False
) -> dict:
    messages = work.get("messages")
    errors = dialogue_errors(messages)
    if errors:
        raise invalid("Invalid dialogue", *errors, code="invalid_dialogue")
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}


# What each kind of task stores, and how its work is checked and shaped (`blind`: the work names a ranking's
# answers by the labeler's ids; the other kinds have no answers to name).
_KINDS: dict[str, tuple[type[models.Model], Any]] = {
    TaskKind.RANKING: (Ranking, _ranking_fields),
    TaskKind.DEMONSTRATION: (Demonstration, _demonstration_fields),
    TaskKind.PROMPT: (WrittenPrompt, _written_prompt_fields),
    TaskKind.DIALOGUE: (Dialogue, _dialogue_fields),
}


@transaction.atomic
def assignment_submit(
    *,
    user: AbstractBaseUser,
    assignment_id: int,
    client_id: Any,
    seconds_spent: Any = 0,
    guideline_version: int | None = None,
    expected_kind: str | None = None,
    project_id: int | None = None,
    blind: bool = False,
    **work: Any,
) -> SubmissionResult:
    """Store the work of an assignment: a ranking, a demonstration or a written prompt, by the task's kind.

    Rankings take `tiers` (best first; a tier of several ids is a tie), `ratings`, `flags`, `comment`, or an
    `unrankable_reason` instead of tiers; demonstrations take `text` (and optionally the `suggestion_id` they
    started from); prompt and dialogue tasks take `messages`.
    `project_id` confines the lookup to one project (for tokens scoped to it). `blind`: the ranking names
    answers by the labeler's ids, as the API shows them (`labeling.services.blind`).
    """
    cid = _check_common(seconds_spent, client_id)
    assignment = _lock(user, assignment_id, project_id)
    model, build = _KINDS[assignment.task.kind]
    if assignment.status != AssignmentStatus.ACTIVE:
        earlier = model.objects.filter(user=user, client_id=cid).first()
        if earlier is not None and earlier.assignment_id == assignment.pk:
            return SubmissionResult(earlier, created=False)
    if expected_kind is not None and expected_kind != assignment.task.kind:
        raise invalid(
            f"This is a {assignment.task.kind} task; submit a {assignment.task.kind}, not a {expected_kind}.",
            code="wrong_kind",
        )
    _check_open(assignment)
    guideline = _resolve_guideline(assignment, guideline_version)
    fields = build(assignment, guideline, work, blind=blind)
    try:
        # No savepoint: on this error the whole submission is rolled back anyway, as the conflict propagates.
        annotation = model.objects.create(
            task=assignment.task,
            assignment=assignment,
            user=user,
            guideline=guideline,
            client_id=cid,
            seconds_spent=float(seconds_spent),
            **fields,
        )
    except IntegrityError as exc:
        raise conflict("This client_id was already used for another submission; generate a new one.") from exc
    _finish(assignment)
    return SubmissionResult(annotation, created=True)


def ranking_submit(**kwargs: Any) -> SubmissionResult:
    return assignment_submit(expected_kind=TaskKind.RANKING, **kwargs)


def demonstration_submit(**kwargs: Any) -> SubmissionResult:
    return assignment_submit(expected_kind=TaskKind.DEMONSTRATION, **kwargs)


def prompt_submit(**kwargs: Any) -> SubmissionResult:
    return assignment_submit(expected_kind=TaskKind.PROMPT, **kwargs)


def dialogue_submit(**kwargs: Any) -> SubmissionResult:
    return assignment_submit(expected_kind=TaskKind.DIALOGUE, **kwargs)


__all__ = [
    "ServiceError",
    "SubmissionResult",
    "assignment_submit",
    "demonstration_submit",
    "dialogue_submit",
    "prompt_submit",
    "ranking_errors",
    "ranking_submit",
]
