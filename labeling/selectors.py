"""Reads shared by views, services and dashboards."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from labeling.models import Assignment, AssignmentStatus, Guideline, Membership, Project, Role, TaskStatus
from labeling.services.errors import not_found


def membership_role(user: AbstractBaseUser | AnonymousUser, project: Project | int) -> str | None:
    """The user's role in a project; site superusers act as admins of every project."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    project_id = project.pk if isinstance(project, Project) else project
    return Membership.objects.filter(project_id=project_id, user=user).values_list("role", flat=True).first()


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


def assignments_for_user(user: AbstractBaseUser) -> QuerySet[Assignment]:
    return Assignment.objects.filter(user=user).select_related("task", "task__prompt", "guideline")


def project_task_counts(project: Project) -> dict[str, int]:
    rows = project.tasks.values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(TaskStatus.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts
