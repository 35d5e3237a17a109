"""The audit trail of a project, for its admins: GET /api/projects/{id}/audit/ (newest first, paginated)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers

from labeling.api.permissions import ProjectRole
from labeling.api.serializers import UserBriefSerializer
from labeling.api.typed_json import ObjectField
from labeling.auditlog.models import AuditAction, AuditEvent
from labeling.auditlog.selectors import audit_events_for_project
from labeling.models import Role
from labeling.services.errors import FieldError, invalid


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    details = ObjectField()

    class Meta:
        model = AuditEvent
        fields = ["id", "action", "actor", "target_type", "target_id", "details", "ip", "created_at"]

    @extend_schema_field(UserBriefSerializer(allow_null=True))
    def get_actor(self, event: AuditEvent) -> dict | None:
        return {"id": event.actor.pk, "username": event.actor.username} if event.actor else None


@extend_schema_view(
    get=extend_schema(
        parameters=[OpenApiParameter("action", str, enum=[a.value for a in AuditAction], required=False)]
    )
)
class AuditEventListView(generics.ListAPIView):
    """Who did what and when in the project. The only filter is `?action=` (one of the known actions)."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        action = self.request.query_params.get("action") or None
        if action is not None and action not in AuditAction.values:
            raise invalid(
                "Unknown audit action", FieldError(f"one of {', '.join(AuditAction.values)}", "action")
            )
        return audit_events_for_project(self.project, action=action)
