"""Reviews of demonstrations: accept, or reject with a comment (which reopens the task)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from labeling.models import Demonstration, Review, ReviewDecision, ReviewStatus, Task, TaskStatus
from labeling.services.errors import FieldError, invalid

MAX_COMMENT = 5000


@transaction.atomic
def demonstration_review(
    *, reviewer: AbstractBaseUser, demonstration: Demonstration, decision: str, comment: str = ""
) -> Review:
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
    task = Task.objects.select_for_update().get(pk=demonstration.task_id)
    demonstration = Demonstration.objects.select_for_update().get(pk=demonstration.pk)
    was_counted = demonstration.review_status != ReviewStatus.REJECTED
    demonstration.review_status = (
        ReviewStatus.ACCEPTED if decision == ReviewDecision.ACCEPT else ReviewStatus.REJECTED
    )
    demonstration.save(update_fields=["review_status"])
    counted = demonstration.review_status != ReviewStatus.REJECTED
    if was_counted != counted:
        task.completed_count += 1 if counted else -1
        if task.status != TaskStatus.CLOSED:
            task.status = (
                TaskStatus.COMPLETE if task.completed_count >= task.required_annotations else TaskStatus.OPEN
            )
        task.save(update_fields=["completed_count", "status"])
    return Review.objects.create(
        demonstration=demonstration, reviewer=reviewer, decision=decision, comment=comment
    )
