"""Builders for snapshot tests: projects with ranking tasks and rankings written straight to the tables."""

import uuid
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from annotate import storage
from labeling.models import (
    Assignment,
    AssignmentStatus,
    Demonstration,
    Guideline,
    Project,
    Ranking,
    ReviewStatus,
    Task,
    TaskKind,
)
from labeling.tests.factories import import_prompt_tasks, import_ranking_tasks, make_project
from rewardtrain.pairs import SPLITS, split_of
from rewardtrain.snapshots.models import Snapshot
from rewardtrain.snapshots.services import snapshot_key


def ranking_project(n_tasks: int, k: int = 4, **settings) -> tuple[Project, list[Task]]:
    project = make_project(k_answers=k, **settings)
    import_ranking_tasks(project, n_tasks)
    tasks = list(project.tasks.filter(kind=TaskKind.RANKING).order_by("id"))
    return project, tasks


def candidate_ids(task: Task) -> list[int]:
    """The task's candidates in import order (answer 0 first)."""
    return list(task.candidates.order_by("id").values_list("id", flat=True))


def guideline(project: Project, version: int = 1) -> Guideline:
    found = Guideline.objects.filter(project=project, version=version).first()
    if found is None:
        base = Guideline.objects.filter(project=project).order_by("-version").first()
        found = Guideline.objects.create(
            project=project, version=version, flags=base.flags, rating_scale=base.rating_scale
        )
    return found


def _assignment(task: Task, user, version_guideline: Guideline) -> Assignment:
    now = timezone.now()
    return Assignment.objects.create(
        task=task,
        user=user,
        status=AssignmentStatus.SUBMITTED,
        guideline=version_guideline,
        leased_at=now,
        expires_at=now,
        finished_at=now,
    )


def rank(
    task: Task,
    user,
    tiers: list[list[int]],
    *,
    flags: dict | None = None,
    version: int = 1,
    unrankable: bool = False,
    at: datetime | None = None,
) -> Ranking:
    g = guideline(task.project, version)
    ranking = Ranking.objects.create(
        task=task,
        assignment=_assignment(task, user, g),
        user=user,
        guideline=g,
        client_id=uuid.uuid4(),
        tiers=[] if unrankable else tiers,
        flags={str(k): v for k, v in (flags or {}).items()},
        unrankable=unrankable,
        unrankable_reason="cannot tell" if unrankable else "",
    )
    if at is not None:
        Ranking.objects.filter(pk=ranking.pk).update(created_at=at)
    return ranking


def demonstration_project(n: int) -> tuple[Project, list[Task]]:
    project = make_project()
    import_prompt_tasks(project, n)
    return project, list(project.tasks.filter(kind=TaskKind.DEMONSTRATION).order_by("id"))


def demonstrate(task: Task, user, text: str, status: str = ReviewStatus.PENDING) -> Demonstration:
    g = guideline(task.project, 1)
    return Demonstration.objects.create(
        task=task,
        assignment=_assignment(task, user, g),
        user=user,
        guideline=g,
        client_id=uuid.uuid4(),
        text=text,
        review_status=status,
    )


def store_snapshot_files(snapshot: Snapshot, folder: Path) -> Snapshot:
    """Make a hand-written snapshot whole, as a build leaves it: every file in `folder` stored under the
    snapshot's keys and listed with its size and SHA-256 in the manifest (which is what workers stage from)."""
    files = {}
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        stored = storage.put_file(snapshot_key(snapshot, path.name), path)
        files[path.name] = {"bytes": stored.size, "sha256": stored.sha256}
    snapshot.manifest = {**(snapshot.manifest or {}), "files": files}
    snapshot.save(update_fields=["manifest"])
    return snapshot


def both_splits_seed(project: Project, validation_fraction: float) -> int:
    """A snapshot seed that puts the project's prompts in both splits (an empty split would not be stored)."""
    prompt_ids = list(project.prompts.values_list("pk", flat=True))
    return next(
        seed
        for seed in range(1000)
        if {split_of(p, seed, validation_fraction) for p in prompt_ids} == set(SPLITS)
    )
