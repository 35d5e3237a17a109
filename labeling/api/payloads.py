"""Hand-shaped responses for the labeler's hot path (next task, assignment detail).

They carry exactly the fields of `AssignmentSerializer` (a test holds them equal) without its per-request cost:
the next-task call is made thousands of times an hour, and building ModelSerializer fields dominated it.
"""

from functools import lru_cache

from labeling.models import Assignment, Guideline, Ranking, TaskCandidate
from labeling.selectors import guideline_newest_version
from labeling.services import blind


@lru_cache(maxsize=512)
def _guideline_payload(guideline_id: int) -> dict:
    # Guideline versions are immutable, so a version's payload can be kept for the life of the process.
    g = Guideline.objects.select_related("created_by").get(pk=guideline_id)
    return {
        "id": g.pk,
        "version": g.version,
        "body_md": g.body_md,
        "criteria": g.criteria,
        "rating_scale": g.rating_scale,
        "flags": g.flags,
        "created_by": {"id": g.created_by.pk, "username": g.created_by.username} if g.created_by else None,
        "created_at": g.created_at.isoformat().replace("+00:00", "Z"),
    }


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _newest_guideline_version(task) -> int | None:
    """The project's newest guideline version. A task fresh from the claim carries the newest guideline's id
    (the claim's own subquery), whose version the process cache already holds; otherwise one index lookup."""
    newest_id = getattr(task, "current_guideline_id", None)
    if newest_id is not None:
        return _guideline_payload(newest_id)["version"]
    return guideline_newest_version(task.project_id)


def assignment_payload(assignment: Assignment) -> dict:
    """The assignment as a labeler sees it; `assignment.task` must come with its prompt and project loaded."""
    task = assignment.task
    project = task.project
    rows = TaskCandidate.objects.filter(task=task).values_list(
        "candidate_id", "candidate__text", "candidate__sampling__truncated"
    )
    texts = {cid: text for cid, text, _ in rows}
    cut = {cid for cid, _, truncated in rows if truncated is True}
    candidates = [
        {"id": pid, "text": texts[cid], "truncated": cid in cut}
        for cid, pid in blind.public_ids(assignment.pk, texts).items()
    ]
    return {
        "id": assignment.pk,
        "status": assignment.status,
        "leased_at": _iso(assignment.leased_at),
        "expires_at": _iso(assignment.expires_at),
        "finished_at": _iso(assignment.finished_at),
        "skip_reason": assignment.skip_reason,
        "task": {
            "id": task.pk,
            "kind": task.kind,
            "messages": task.prompt.messages if task.prompt_id else [],
            "candidates": candidates,
        },
        "project": {
            "id": project.pk,
            "name": project.name,
            "allow_ties": project.allow_ties,
            "k_answers": project.k_answers,
            "guideline_version": _newest_guideline_version(task),
        },
        "guideline": dict(_guideline_payload(assignment.guideline_id)) if assignment.guideline_id else None,
    }


def ranking_payload(ranking: Ranking, *, for_labeler: bool = False) -> dict:
    """A stored ranking as `RankingSerializer` shows it (a test holds them equal): the submit call's answer.
    `for_labeler` names the answers by the labeler's ids (`labeling.services.blind`), as they were shown."""
    tiers, ratings, flags = ranking.tiers, ranking.ratings, ranking.flags
    if for_labeler:
        tiers, ratings, flags = blind.ranking_to_public(ranking.assignment_id, tiers, ratings, flags)
    return {
        "id": ranking.pk,
        "task": ranking.task_id,
        "assignment": ranking.assignment_id,
        "user": ranking.user_id,
        "client_id": str(ranking.client_id),
        "guideline_version": ranking.guideline.version,
        "tiers": tiers,
        "ratings": ratings,
        "flags": flags,
        "unrankable": ranking.unrankable,
        "unrankable_reason": ranking.unrankable_reason,
        "comment": ranking.comment,
        "seconds_spent": ranking.seconds_spent,
        "created_at": _iso(ranking.created_at),
    }
