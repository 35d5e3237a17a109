"""The admin's project dashboard."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import ProjectRole
from labeling.models import Role
from labeling.selectors import project_dashboard


class DashboardView(APIView):
    """Tasks by state, queue depth, annotations per hour (`?hours=`, 1 to 336, default 48), per-labeler figures."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN

    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        try:
            hours = min(336, max(1, int(request.query_params.get("hours", 48))))
        except ValueError:
            hours = 48
        return Response(project_dashboard(self.project, hours=hours))
