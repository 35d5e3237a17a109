from django.db.models import QuerySet

from labeling.auditlog.models import AuditEvent


def audit_events_for_project(project, *, action: str | None = None) -> QuerySet[AuditEvent]:
    rows = AuditEvent.objects.filter(project=project).select_related("actor").order_by("-id")
    return rows.filter(action=action) if action else rows
