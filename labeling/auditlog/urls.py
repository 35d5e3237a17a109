from django.urls import path

from labeling.auditlog import api

urlpatterns = [
    path("projects/<int:project_id>/audit/", api.AuditEventListView.as_view(), name="audit-list"),
]
