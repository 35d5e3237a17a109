"""Role-gated base views shared by the model-side API (runs, scoring, generation)."""

from rest_framework.views import APIView

from labeling.api.permissions import ProjectRole
from labeling.models import Role


class AdminView(APIView):
    """For the project's admins (non-members 404, other roles 403); the view gets `self.project`."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN


class ReviewerView(APIView):
    """For the project's reviewers and admins."""

    permission_classes = [ProjectRole]
    minimum_role = Role.REVIEWER
