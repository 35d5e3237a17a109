"""Reads of suggestions: a labeler polls their own."""

from django.contrib.auth.models import AbstractBaseUser

from labeling.models import Suggestion
from labeling.services.errors import not_found


def suggestion_for(
    *,
    user: AbstractBaseUser,
    assignment_id: int,
    suggestion_id: int | None = None,
    project_id: int | None = None,
) -> Suggestion:
    """One of the user's suggestions on their assignment (the newest when no id is given); 404 otherwise."""
    suggestions = Suggestion.objects.filter(assignment_id=assignment_id, assignment__user=user, user=user)
    if project_id is not None:
        suggestions = suggestions.filter(assignment__task__project_id=project_id)
    if suggestion_id is not None:
        suggestions = suggestions.filter(pk=suggestion_id)
    found = suggestions.order_by("-id").first()
    if found is None:
        raise not_found("No such suggestion on this assignment.")
    return found
