"""Reviews of demonstrations and dialogues: accept, or reject with a comment (which reopens the task)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import Demonstration, Dialogue, Review, ReviewDecision, ReviewStatus, Task
from labeling.services.completion import task_recount
from labeling.services.errors import FieldError, forbidden, invalid

MAX_COMMENT = 5000


@transaction.atomic
def demonstration_review(
    *, reviewer: AbstractBaseUser, demonstration: Demonstration, decision: str, comment: str = ""
) -> Review:
    return _review(reviewer, demonstration, decision, comment)


@transaction.atomic
def dialogue_review(
    *, reviewer: AbstractBaseUser, dialogue: Dialogue, decision: str, comment: str = ""
) -> Review:
    """Same rules as for a demonstration: nobody reviews their own; a rejected dialogue stops counting and its
    task reopens."""
    return _review(reviewer, dialogue, decision, comment)


def _review(
    reviewer: AbstractBaseUser, annotation: Demonstration | Dialogue, decision: str, comment: str
) -> Review:
    if annotation.user_id == reviewer.pk:
        # Admins included: a review is a second pair of eyes, and counts and exports trust accepted work.
        raise forbidden(
            f"You wrote this {annotation._meta.verbose_name}; someone else must review it.", code="own_work"
        )
    if decision not in ReviewDecision.values:
        raise invalid(
            "Invalid review", FieldError(f"must be one of {', '.join(ReviewDecision.values)}", "decision")
        )
    comment = (comment or "").strip()
    if decision == ReviewDecision.REJECT and not comment:
        raise invalid(
            "A rejection needs a comment", FieldError("say what is wrong, for the labeler", "comment")
        )
    if len(comment) > MAX_COMMENT:
        raise invalid("Comment too long", FieldError(f"at most {MAX_COMMENT} characters", "comment"))
    task = Task.objects.select_for_update().get(pk=annotation.task_id)
    annotation = type(annotation).objects.select_for_update().get(pk=annotation.pk)
    annotation.review_status = (
        ReviewStatus.ACCEPTED if decision == ReviewDecision.ACCEPT else ReviewStatus.REJECTED
    )
    annotation.save(update_fields=["review_status"])
    task_recount(task)
    field = "dialogue" if isinstance(annotation, Dialogue) else "demonstration"
    review = Review.objects.create(
        **{field: annotation}, reviewer=reviewer, decision=decision, comment=comment
    )
    audit_record(
        AuditAction.REVIEW,
        project=task.project,
        actor=reviewer,
        target=annotation,
        details={"decision": decision, "labeler_id": annotation.user_id},
    )
    return review
