"""Who may do what. Every view names one of these; the default for a view that forgets is superusers only.

Roles rank admin > reviewer > labeler. A non-member gets 404 for a project (its existence is not revealed);
a member without the role gets 403. A token scoped to a project reaches that project only.
"""

from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated

from labeling.models import ApiToken, Project, Role
from labeling.services.errors import forbidden

ROLE_RANK = {Role.LABELER: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


# Every project-scoped request runs this: in SQL, since building the equivalent queryset (a project annotated
# with a membership subquery) cost more than the query itself.
_PROJECT_WITH_ROLE_SQL = """
SELECT p.*, (SELECT m.role FROM labeling_membership m WHERE m.project_id = p.id AND m.user_id = %s LIMIT 1)
       AS user_role
FROM labeling_project p WHERE p.id = %s
"""


def project_with_role(user, project_id: int) -> Project | None:
    """The project annotated with the user's role in it (`user_role`, None for non-members), in one query."""
    return next(iter(Project.objects.raw(_PROJECT_WITH_ROLE_SQL, [user.pk, project_id])), None)


def token_project_id(request) -> int | None:
    """The project the request's token is scoped to; None for a session or an unscoped token."""
    token = request.auth
    return token.project_id if isinstance(token, ApiToken) else None


def token_allows(request, project_id: int) -> bool:
    token = request.auth
    return not (
        isinstance(token, ApiToken) and token.project_id is not None and token.project_id != project_id
    )


def project_for_request(request, project_id: int, minimum: str) -> tuple[Project, str]:
    """The project and the user's role in it, or 404/403 as above."""
    project = project_with_role(request.user, project_id)
    if project is None:
        raise NotFound("Project not found.")
    role = Role.ADMIN if request.user.is_superuser else project.user_role
    if role is None or not token_allows(request, project.pk):
        raise NotFound("Project not found.")
    if ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise PermissionDenied(f"This needs the {minimum} role in project '{project.slug}'; you are {role}.")
    return project, role


class ProjectRole(BasePermission):
    """The view's `minimum_role` (or `minimum_role_by_method`) in the project named by the URL's project_id."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        minimum = getattr(view, "minimum_role_by_method", {}).get(request.method, view.minimum_role)
        view.project, view.role = project_for_request(request, int(view.kwargs["project_id"]), minimum)
        return True


class Authenticated(IsAuthenticated):
    """Any signed-in user; the view itself limits what they see to their own rows."""


class NotScopedToken(BasePermission):
    """Refuses a token scoped to a project: what lies outside every project (managing tokens, creating
    projects, site administration) is not for it. Put after `Authenticated`."""

    def has_permission(self, request, view) -> bool:
        if token_project_id(request) is not None:
            raise forbidden(
                "This token is scoped to one project; this needs a signed-in session or an unscoped token.",
                code="scoped_token",
            )
        return True


def acts_as_site_staff(request) -> bool:
    """Site staff signed in, or with an unscoped token: a token scoped to one project never carries staff
    powers (tracebacks, base URLs, installation-wide actions), whoever holds it."""
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff and token_project_id(request) is None)


class SiteStaff(BasePermission):
    """Site staff only (`is_staff`, not through a scoped token): installation-wide actions."""

    def has_permission(self, request, view) -> bool:
        return acts_as_site_staff(request)


class SiteStaffForWrites(BasePermission):
    """Reads for any signed-in user; creating projects is for site staff (not through a scoped token)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return request.user.is_staff and NotScopedToken().has_permission(request, view)
