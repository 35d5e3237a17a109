"""Reviews of demonstrations and dialogues: accept, or reject with a comment (which reopens the task); and undo
of a decision made by mistake, shortly after."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import (
    Assignment,
    Demonstration,
    Dialogue,
    Review,
    ReviewDecision,
    ReviewStatus,
    Task,
)
from labeling.services.completion import task_recount
from labeling.services.errors import FieldError, conflict, forbidden, invalid

MAX_COMMENT = 5000
# How long a reviewer may take back a decision: long enough to notice a wrong key, short enough that nobody
# (an export, a snapshot, the labeler reading a rejection) has relied on it.
UNDO_WINDOW = timedelta(minutes=10)


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


@transaction.atomic
def review_undo(
    *, reviewer: AbstractBaseUser, review: Review, now: datetime | None = None
) -> Demonstration | Dialogue:
    """Take back a review: the work is pending review again (where the review queue showed it), the count of its
    task is recomputed, and the review row goes (the audit log keeps both the decision and its undo).

    Only the reviewer who made it, within UNDO_WINDOW, and only while nothing has followed it: it is still the
    latest review of the work, the work still has the status it gave (the labeler has not revised a rejection),
    and after a rejection nobody else has leased the task it reopened (undoing then would over-fill the task)."""
    if review.reviewer_id != reviewer.pk:
        raise forbidden("Only the reviewer who made a decision can undo it.", code="not_your_review")
    now = now or timezone.now()
    if now - review.created_at > UNDO_WINDOW:
        minutes = int(UNDO_WINDOW.total_seconds() // 60)
        raise conflict(f"A review can be undone for {minutes} minutes only.", code="undo_too_late")
    annotation = review.demonstration or review.dialogue
    task = Task.objects.select_for_update().get(pk=annotation.task_id)
    annotation = type(annotation).objects.select_for_update().get(pk=annotation.pk)
    review = Review.objects.select_for_update().filter(pk=review.pk).first()
    if review is None:
        raise conflict("This review was already undone.", code="review_undone")
    latest = annotation.reviews.order_by("-id").values_list("id", flat=True).first()
    given = ReviewStatus.ACCEPTED if review.decision == ReviewDecision.ACCEPT else ReviewStatus.REJECTED
    if latest != review.pk or annotation.review_status != given:
        raise conflict(
            f"This {annotation._meta.verbose_name} was revised or reviewed again since; review it anew.",
            code="review_superseded",
        )
    if (
        review.decision == ReviewDecision.REJECT
        and Assignment.objects.filter(task_id=task.pk, leased_at__gt=review.created_at)
        .exclude(user_id=annotation.user_id)
        .exists()
    ):
        raise conflict(
            "Another labeler has taken up the task this rejection reopened; review their work instead.",
            code="task_taken_up",
        )
    annotation.review_status = ReviewStatus.PENDING
    annotation.save(update_fields=["review_status"])
    task_recount(task)
    undone = {"review_id": review.pk, "decision": review.decision}
    review.delete()
    audit_record(
        AuditAction.REVIEW,
        project=task.project,
        actor=reviewer,
        target=annotation,
        details={"undo": undone, "labeler_id": annotation.user_id},
    )
    return annotation
