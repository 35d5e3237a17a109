"""Assisted demonstrations: a labeler asks the project's current SFT model for an answer, then edits it.

The web process only records the request (a pending `Suggestion`) and queues `rewardtrain.tasks.gpu_suggest`
after commit; a `gpu` worker samples the answer with a cached model and stores it (done) or the error (failed);
the labeler polls. The demonstration later records its edit distance from the text stored here.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotate.jobs import enqueue_on_commit
from labeling.models import Assignment, AssignmentStatus, Project, Suggestion, SuggestionStatus, TaskKind
from labeling.services.conversations import MAX_MESSAGE_CHARS
from labeling.services.errors import conflict, invalid, not_found
from rewardtrain import model_cache
from rewardtrain.runs.artifacts import ModelRef, model_locate
from rewardtrain.runs.models import ModelKind, RegisteredModel

logger = logging.getLogger(__name__)

# A labeler may ask again (another sample) but not without end on one assignment.
MAX_SUGGESTIONS_PER_ASSIGNMENT = 10
# A pending suggestion no worker has answered for this long is given up (failed), so the labeler can ask again.
PENDING_TIMEOUT = timedelta(minutes=5)
SAMPLING = {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 384}
SUGGESTION_FAILED = (
    "The project's model could not write a suggestion; an admin can see why in the worker log."
)


def suggestion_model_for(project: Project) -> RegisteredModel:
    """The project's current assistant: its newest `sft` or `policy` (DPO-tuned) model, else its newest `base`."""
    for kinds in ((ModelKind.SFT, ModelKind.POLICY), (ModelKind.BASE,)):
        model = (
            RegisteredModel.objects.filter(project=project, kind__in=kinds)
            .order_by("-created_at", "-id")
            .first()
        )
        if model is not None:
            return model
    raise conflict(
        f"Project '{project.slug}' has no SFT or base model registered, so no suggestion can be made; "
        "an admin registers one under Data & runs.",
        code="no_model",
    )


def _assignment_of(user: AbstractBaseUser, assignment_id: int, project_id: int | None) -> Assignment:
    assignments = Assignment.objects.filter(pk=assignment_id, user=user).select_related("task__project")
    if project_id is not None:
        assignments = assignments.filter(task__project_id=project_id)
    assignment = assignments.select_for_update(of=("self",)).first()
    if assignment is None:
        raise not_found(f"Assignment {assignment_id} does not exist or is not yours.")
    return assignment


@transaction.atomic
def suggestion_request(
    *, user: AbstractBaseUser, assignment_id: int, project_id: int | None = None
) -> tuple[Suggestion, bool]:
    """Queue a suggestion for the user's own active demonstration assignment; returns it and whether it is new.

    While one is still pending it is returned again (a double click queues nothing more)."""
    assignment = _assignment_of(user, assignment_id, project_id)
    task = assignment.task
    if task.kind != TaskKind.DEMONSTRATION:
        raise invalid(
            f"Suggestions are for demonstration tasks; this is a {task.kind} task.", code="wrong_kind"
        )
    if assignment.status != AssignmentStatus.ACTIVE:
        raise conflict(f"This assignment is {assignment.status}; no suggestion is needed.", code="not_active")
    pending = Suggestion.objects.filter(assignment=assignment, status=SuggestionStatus.PENDING).first()
    if pending is not None and pending.created_at > timezone.now() - PENDING_TIMEOUT:
        return pending, False
    if pending is not None:
        pending.status, pending.finished_at = SuggestionStatus.FAILED, timezone.now()
        pending.error = f"No worker answered within {int(PENDING_TIMEOUT.total_seconds() // 60)} minutes."
        pending.save(update_fields=["status", "finished_at", "error"])
    if Suggestion.objects.filter(assignment=assignment).count() >= MAX_SUGGESTIONS_PER_ASSIGNMENT:
        raise conflict(
            f"At most {MAX_SUGGESTIONS_PER_ASSIGNMENT} suggestions per task; edit one of those you have.",
            code="too_many_suggestions",
        )
    model = suggestion_model_for(task.project)
    suggestion = Suggestion.objects.create(
        assignment=assignment,
        user=user,
        model_name=model.name,  # for admins (the demonstration keeps it); never in a labeler's payload
        model_path=str(ModelRef.of(model)),  # the reference, resolved by the worker when it samples
        gguf_file=model.gguf_file,
    )
    # A broker that is down must not fail the request; the pending suggestion then times out and says so.
    enqueue_on_commit("rewardtrain.tasks.gpu_suggest", suggestion.pk)
    return suggestion, True


def suggestion_execute(*, suggestion_id: int) -> Suggestion | None:
    """Sample the answer of a pending suggestion (on a `gpu` worker). None when it is not pending (a message
    delivered twice): a finished suggestion is never sampled again."""
    suggestion = (
        Suggestion.objects.select_related("assignment__task__prompt")
        .filter(pk=suggestion_id, status=SuggestionStatus.PENDING)
        .first()
    )
    if suggestion is None:
        return None
    prompt = suggestion.assignment.task.prompt
    try:
        from rewardtrain.training.inference import sample  # torch: workers only

        located = model_locate(ModelRef.parse(suggestion.model_path, suggestion.gguf_file))
        model, tokenizer = model_cache.causal_lm(located.path, located.gguf_file or "")
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt.messages]
        text = sample(model, tokenizer, [messages], n=1, seed=suggestion.pk, **SAMPLING)[0][0]
        # PostgreSQL text cannot hold NUL, which a byte-level tokenizer can decode to.
        text = text.replace("\x00", "").strip()[:MAX_MESSAGE_CHARS]
        fields = {"status": SuggestionStatus.DONE, "text": text}
    except Exception:
        # The labeler reads `error`: it names neither the model nor a path; the log has the details.
        logger.exception("suggestion %s failed", suggestion_id)
        fields = {"status": SuggestionStatus.FAILED, "error": SUGGESTION_FAILED}
    Suggestion.objects.filter(pk=suggestion_id, status=SuggestionStatus.PENDING).update(
        finished_at=timezone.now(), **fields
    )
    return Suggestion.objects.get(pk=suggestion_id)
