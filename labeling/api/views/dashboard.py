"""The admin's project dashboard."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import ProjectRole
from labeling.models import Role, TaskKind, TaskStatus
from labeling.selectors import project_dashboard

# Counts keyed by every status and kind (zero when none), as `project_dashboard` fills them in.
TasksByStatusSerializer = type(
    "TasksByStatusSerializer",
    (serializers.Serializer,),
    {status: serializers.IntegerField() for status in TaskStatus.values},
)
TasksByKindSerializer = type(
    "TasksByKindSerializer",
    (serializers.Serializer,),
    {kind: serializers.IntegerField() for kind in TaskKind.values},
)


class HourCountSerializer(serializers.Serializer):
    hour = serializers.CharField(help_text="The hour's start, ISO 8601 in UTC (`...Z`).")
    count = serializers.IntegerField()


class LabelerFiguresSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    submitted = serializers.IntegerField()
    skipped = serializers.IntegerField()
    active = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    skip_rate = serializers.FloatField(allow_null=True)


class DashboardSerializer(serializers.Serializer):
    tasks_by_status = TasksByStatusSerializer()
    open_tasks_by_kind = TasksByKindSerializer()
    queue_depth = serializers.IntegerField(help_text="Annotations still wanted by the open tasks.")
    active_leases = serializers.IntegerField()
    pending_reviews = serializers.IntegerField()
    annotations_per_hour = HourCountSerializer(many=True)
    labelers = LabelerFiguresSerializer(many=True)


class DashboardView(APIView):
    """Tasks by state, queue depth, annotations per hour (`?hours=`, 1 to 336, default 48), per-labeler figures."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN

    @extend_schema(responses=DashboardSerializer)
    def get(self, request, project_id: int):
        try:
            hours = min(336, max(1, int(request.query_params.get("hours", 48))))
        except ValueError:
            hours = 48
        return Response(project_dashboard(self.project, hours=hours))
