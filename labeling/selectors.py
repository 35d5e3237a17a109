"""Reads shared by views, services and dashboards."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.models import Assignment, AssignmentStatus, Guideline, Project, Task, TaskStatus
from labeling.services.assignment import served_kinds_filter
from labeling.services.errors import not_found


def projects_for_user(user: AbstractBaseUser) -> QuerySet[Project]:
    projects = Project.objects.all() if user.is_superuser else Project.objects.filter(memberships__user=user)
    now = timezone.now()
    return projects.annotate(
        open_tasks=Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN), distinct=True),
        my_active_assignments=Count(
            "tasks__assignments",
            filter=Q(
                tasks__assignments__user=user,
                tasks__assignments__status=AssignmentStatus.ACTIVE,
                tasks__assignments__expires_at__gt=now,
            ),
            distinct=True,
        ),
    ).order_by("id")


def guideline_current(project: Project) -> Guideline:
    guideline = Guideline.objects.filter(project=project).order_by("-version").first()
    if guideline is None:
        raise not_found(f"Project '{project.slug}' has no guideline yet.")
    return guideline


def guideline_version(project: Project, version: int) -> Guideline:
    guideline = (
        Guideline.objects.filter(project=project, version=version).select_related("created_by").first()
    )
    if guideline is None:
        raise not_found(f"Project '{project.slug}' has no guideline version {version}.")
    return guideline


def guideline_newest_version(project_id: int) -> int | None:
    """The project's newest guideline version number (one index lookup): what new leases are made under."""
    row = Guideline.objects.filter(project_id=project_id).order_by("-version").values_list("version").first()
    return row[0] if row else None


def assignments_for_user(user: AbstractBaseUser) -> QuerySet[Assignment]:
    return Assignment.objects.filter(user=user).select_related("task", "task__prompt", "guideline")


def history_for_user(user: AbstractBaseUser, *, now=None) -> QuerySet[Assignment]:
    """The labeler's history: their assignments with `history_status` (an `active` lease past its expiry reads
    `expired`, as the sweep will make it) and `written_messages` (the turns of a prompt or dialogue they wrote,
    for tasks without a prompt of their own), leaving out preloaded leases. One query with its joins.

    Preloaded: the claim service lets a labeler hold a second live lease in a project (the next task, fetched
    ahead) and always treats the older live lease as the task they are on (`_held_answer`). The same rule here:
    a live lease is left out while the labeler holds an older live lease in the same project, so history shows
    exactly one active row per project, the task on screen, and the preloaded one appears once it is shown."""
    from labeling.models import Dialogue, WrittenPrompt

    now = now or timezone.now()
    live = Q(status=AssignmentStatus.ACTIVE, expires_at__gt=now)
    older_live = Assignment.objects.filter(
        live,
        user_id=OuterRef("user_id"),
        task__project_id=OuterRef("task__project_id"),
    ).filter(
        Q(leased_at__lt=OuterRef("leased_at")) | Q(leased_at=OuterRef("leased_at"), pk__lt=OuterRef("pk"))
    )

    def written(model) -> Subquery:
        return Subquery(model.objects.filter(assignment_id=OuterRef("pk")).values("messages")[:1])

    return (
        assignments_for_user(user)
        .select_related("task__project")
        .exclude(live & Exists(older_live))
        .annotate(
            history_status=Case(
                When(
                    status=AssignmentStatus.ACTIVE, expires_at__lte=now, then=Value(AssignmentStatus.EXPIRED)
                ),
                default=F("status"),
            ),
            written_messages=Coalesce(
                written(Dialogue),
                Subquery(
                    WrittenPrompt.objects.filter(assignment_id=OuterRef("pk")).values("prompt__messages")[:1]
                ),
            ),
        )
    )


def with_review_outcome(assignments: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """Annotate each assignment with its demonstration's or dialogue's `review_status` and the latest review's
    `review_decision`, `review_comment` and `reviewed_at` (None where there is none), as subqueries of the same
    query so a page of history costs one query whatever its length. The reviewer is left out on purpose."""
    from labeling.models import Demonstration, Dialogue, Review

    def status_of(model) -> Subquery:
        return Subquery(model.objects.filter(assignment_id=OuterRef("pk")).values("review_status")[:1])

    latest = Review.objects.filter(
        Q(demonstration__assignment_id=OuterRef("pk")) | Q(dialogue__assignment_id=OuterRef("pk"))
    ).order_by("-id")
    return assignments.annotate(
        review_status=Coalesce(status_of(Demonstration), status_of(Dialogue)),
        review_decision=Subquery(latest.values("decision")[:1]),
        review_comment=Subquery(latest.values("comment")[:1]),
        reviewed_at=Subquery(latest.values("created_at")[:1]),
    )


def project_task_counts(project: Project) -> dict[str, int]:
    rows = project.tasks.values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(TaskStatus.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def draft_for(user: AbstractBaseUser, assignment_id: int):
    """The user's draft of an assignment, or None."""
    from labeling.models import Draft

    return Draft.objects.filter(assignment_id=assignment_id, user=user).first()


def labeler_stats(user: AbstractBaseUser, project: Project) -> dict:
    """What a labeler did in a project today (UTC day) and their median seconds per task, over all time."""
    from labeling.annotation_stats import labeler_figures

    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today, total, middle = labeler_figures(user.pk, project.pk, start)
    skipped_today = Assignment.objects.filter(
        user=user, task__project=project, status=AssignmentStatus.SKIPPED, finished_at__gte=start
    ).count()
    return {
        "submitted_today": today,
        "skipped_today": skipped_today,
        "submitted_total": total,
        "median_seconds": round(middle, 1) if middle is not None else None,
        **labeler_progress(user, project),
    }


def labeler_progress(user: AbstractBaseUser, project: Project) -> dict[str, int]:
    """The workspace's "12 of 40 left": tasks of the kinds the project serves (`tasks_total`), and the open ones
    this labeler has neither submitted nor skipped (`tasks_left`, the one in hand included). One query."""
    done = Assignment.objects.filter(
        task_id=OuterRef("pk"), user=user, status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED]
    )
    tasks = Task.objects.filter(project=project).filter(served_kinds_filter(project))
    return tasks.aggregate(
        tasks_total=Count("id"),
        tasks_left=Count("id", filter=Q(status=TaskStatus.OPEN) & ~Exists(done)),
    )


def project_dashboard(project: Project, *, hours: int = 48) -> dict:
    """An admin's view of a project: tasks by state, queue depth, annotations per hour over the last `hours`,
    and per labeler: submitted count, median seconds per task and skip rate. A few grouped queries."""
    from labeling.annotation_stats import annotations_per_hour, median_seconds_by_user
    from labeling.models import Demonstration, Task

    now = timezone.now()
    since = (now - timezone.timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    per_hour = {
        hour.isoformat().replace("+00:00", "Z"): n
        for hour, n in annotations_per_hour(project.pk, since).items()
    }
    medians = median_seconds_by_user(project.pk)
    hours_axis = [since + timezone.timedelta(hours=i) for i in range(hours)]
    series = [
        {
            "hour": h.isoformat().replace("+00:00", "Z"),
            "count": per_hour.get(h.isoformat().replace("+00:00", "Z"), 0),
        }
        for h in hours_axis
    ]
    finished = (
        Assignment.objects.filter(task__project=project)
        .values("user_id", "user__username")
        .annotate(
            submitted=Count("id", filter=Q(status=AssignmentStatus.SUBMITTED)),
            skipped=Count("id", filter=Q(status=AssignmentStatus.SKIPPED)),
            active=Count("id", filter=Q(status=AssignmentStatus.ACTIVE, expires_at__gt=now)),
        )
        .order_by("user__username")
    )
    labelers = []
    for row in finished:
        done = row["submitted"] + row["skipped"]
        middle = medians.get(row["user_id"])
        labelers.append(
            {
                "user_id": row["user_id"],
                "username": row["user__username"],
                "submitted": row["submitted"],
                "skipped": row["skipped"],
                "active": row["active"],
                "median_seconds": round(middle, 1) if middle is not None else None,
                "skip_rate": round(row["skipped"] / done, 3) if done else None,
            }
        )
    open_tasks = Task.objects.filter(project=project, status=TaskStatus.OPEN)
    kinds = dict.fromkeys(("ranking", "demonstration", "prompt", "dialogue"), 0)
    for row in open_tasks.values("kind").annotate(n=Count("id")):
        kinds[row["kind"]] = row["n"]
    remaining = open_tasks.aggregate(n=Sum(F("required_annotations") - F("completed_count")))["n"] or 0
    return {
        "tasks_by_status": project_task_counts(project),
        "open_tasks_by_kind": kinds,
        "queue_depth": remaining,
        "active_leases": Assignment.objects.filter(
            task__project=project, status=AssignmentStatus.ACTIVE, expires_at__gt=now
        ).count(),
        "pending_reviews": Demonstration.objects.filter(
            task__project=project, review_status="pending"
        ).count(),
        "annotations_per_hour": series,
        "labelers": labelers,
    }


def annotation_for_assignment(user: AbstractBaseUser, assignment: Assignment):
    """The ranking, demonstration or dialogue the user stored on an assignment, or None."""
    from labeling.models import Demonstration, Dialogue, Ranking

    model = {"ranking": Ranking, "demonstration": Demonstration, "dialogue": Dialogue}.get(
        assignment.task.kind
    )
    if model is None:
        return None
    return (
        model.objects.filter(assignment=assignment, user=user)
        .select_related("guideline", "task__prompt")
        .first()
    )


def guideline_usage(project: Project) -> list[dict]:
    """Per guideline version of a project (newest first): how many rankings, demonstrations and written prompts
    were made under it. One grouped query per annotation kind."""
    from labeling.models import Demonstration, Dialogue, Ranking, WrittenPrompt

    kinds = (
        ("rankings", Ranking),
        ("demonstrations", Demonstration),
        ("written_prompts", WrittenPrompt),
        ("dialogues", Dialogue),
    )
    counts: dict[int, dict[str, int]] = {}
    for key, model in kinds:
        rows = model.objects.filter(task__project=project).values("guideline_id").annotate(n=Count("id"))
        for row in rows.order_by():
            counts.setdefault(row["guideline_id"], {})[key] = row["n"]
    versions = (
        Guideline.objects.filter(project=project).order_by("-version").values("id", "version", "created_at")
    )
    return [
        {
            "version": g["version"],
            "created_at": g["created_at"],
            **{key: counts.get(g["id"], {}).get(key, 0) for key, _ in kinds},
        }
        for g in versions
    ]
