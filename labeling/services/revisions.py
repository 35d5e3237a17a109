"""Revising a submitted ranking or demonstration while its task is still open; the earlier version is kept."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.forms.models import model_to_dict

from labeling.models import (
    AnnotationRevision,
    AssignmentStatus,
    Demonstration,
    Dialogue,
    Ranking,
    ReviewStatus,
    TaskKind,
    TaskStatus,
)
from labeling.services.completion import task_recount
from labeling.services.errors import FieldError, conflict, invalid, not_found
from labeling.services.submission import (
    MAX_SECONDS_SPENT,
    _check_common,
    _demonstration_fields,
    _dialogue_fields,
    _lock,
    _ranking_fields,
    _resolve_guideline,
)

_KINDS = {
    TaskKind.RANKING: (Ranking, _ranking_fields),
    TaskKind.DEMONSTRATION: (Demonstration, _demonstration_fields),
    TaskKind.DIALOGUE: (Dialogue, _dialogue_fields),
}
REVISABLE_KINDS = frozenset(_KINDS)
_AUDIT_EXCLUDE = ["id", "task", "assignment", "user", "client_id", "created_at"]


@transaction.atomic
def annotation_revise(
    *,
    user: AbstractBaseUser,
    assignment_id: int,
    seconds_spent: Any = 0,
    guideline_version: int | None = None,
    project_id: int | None = None,
    blind: bool = False,
    **work: Any,
) -> Ranking | Demonstration | Dialogue:
    """Replace the work the user submitted on an assignment, while the task is still open.

    The same checks as a submission apply (against the guideline version given, else the assignment's); the
    annotation row is updated in place (so exports read the latest) and its earlier fields are stored as an
    `AnnotationRevision`. A revised demonstration goes back to pending review. `seconds_spent` is added; the
    total stays within MAX_SECONDS_SPENT.
    `blind`: a ranking names answers by the labeler's ids, as in `assignment_submit`.
    """
    _check_common(seconds_spent, work.pop("client_id", "00000000-0000-0000-0000-000000000000"))
    assignment = _lock(user, assignment_id, project_id)
    task = assignment.task
    if task.kind not in _KINDS:
        raise invalid(f"A {task.kind} task cannot be revised.", code="wrong_kind")
    if assignment.status != AssignmentStatus.SUBMITTED:
        raise conflict("Only submitted work can be revised.", code="not_submitted")
    if task.status != TaskStatus.OPEN:
        raise conflict(
            "This task is no longer open (it has all its annotations), so its annotations are final.",
            code="task_closed",
        )
    model, build = _KINDS[task.kind]
    annotation = model.objects.select_for_update().filter(assignment=assignment, user=user).first()
    if annotation is None:
        raise not_found("No submitted annotation on this assignment.")
    total = float(annotation.seconds_spent) + float(seconds_spent)
    if total > MAX_SECONDS_SPENT:
        # The cap is on the annotation's total, so repeated revisions cannot add up past it.
        left = max(0.0, MAX_SECONDS_SPENT - float(annotation.seconds_spent))
        raise invalid(
            "Invalid revision",
            FieldError(
                f"this annotation already has {float(annotation.seconds_spent):g} seconds; its total may not "
                f"pass {MAX_SECONDS_SPENT}, so at most {left:g} more",
                "seconds_spent",
            ),
            code="seconds_spent_over_cap",
        )
    guideline = _resolve_guideline(assignment, guideline_version)
    fields = build(assignment, guideline, work, blind=blind)
    previous = model_to_dict(annotation, exclude=_AUDIT_EXCLUDE)
    previous["guideline_version"] = annotation.guideline.version
    previous["revised_from_created_at"] = annotation.created_at.isoformat()
    previous.pop("guideline", None)
    AnnotationRevision.objects.create(
        kind=task.kind, annotation_id=annotation.pk, assignment=assignment, user=user, previous=previous
    )
    for name, value in fields.items():
        setattr(annotation, name, value)
    annotation.guideline = guideline
    annotation.seconds_spent = total
    if isinstance(annotation, Demonstration | Dialogue):
        annotation.review_status = ReviewStatus.PENDING
    annotation.save()
    # A rejected demonstration or dialogue revised back to pending counts again.
    task_recount(task)
    return annotation
