"""Celery entry points for suggestions."""

from celery import shared_task

from rewardtrain.suggestions.services import suggestion_execute


@shared_task(name="rewardtrain.tasks.gpu_suggest", acks_late=True, reject_on_worker_lost=True)
def gpu_suggest(suggestion_id: int) -> str | None:
    """Sample a labeler's suggestion (the `gpu` queue, by the `rewardtrain.tasks.gpu_*` route)."""
    suggestion = suggestion_execute(suggestion_id=suggestion_id)
    return None if suggestion is None else suggestion.status
