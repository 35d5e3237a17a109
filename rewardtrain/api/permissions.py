"""Who may read and create snapshots.

Snapshots hold every label of a project, so only project admins reach them, plus scripts of ML engineers: a
token scoped to the project whose holder is a member with at least the reviewer role. A labeler is refused
even with a scoped token (any member can create one). Non-members get 404, members without access 403, and a
token scoped to another project 404, as everywhere in the API.
"""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from labeling.api.permissions import ROLE_RANK, project_for_request
from labeling.models import ApiToken, Role


class SnapshotReader(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        project, role = project_for_request(request, int(view.kwargs["project_id"]), Role.LABELER)
        scoped = isinstance(request.auth, ApiToken) and request.auth.project_id == project.pk
        if role != Role.ADMIN and not (scoped and ROLE_RANK[role] >= ROLE_RANK[Role.REVIEWER]):
            raise PermissionDenied(
                f"Snapshots of project '{project.slug}' are for its admins, or for a token scoped to it."
            )
        view.project, view.role = project, role
        return True
