from django.apps import AppConfig


class AuditLogConfig(AppConfig):
    """Who did what, when: admin actions, exports and sign-ins. An app of its own so its migrations are
    independent of the labeling tables."""

    name = "labeling.auditlog"
    label = "auditlog"
    verbose_name = "Audit log"
