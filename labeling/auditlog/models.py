"""Audit events: one append-only row per admin action, export or sign-in attempt."""

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    MEMBER_SET = "member.set"
    MEMBER_REMOVE = "member.remove"
    GUIDELINE_PUBLISH = "guideline.publish"
    IMPORT = "import"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    SNAPSHOT_CREATE = "snapshot.create"
    SNAPSHOT_DOWNLOAD = "snapshot.download"
    MODEL_REGISTER = "model.register"
    RUN_CREATE = "run.create"
    RUN_CANCEL = "run.cancel"
    REVIEW = "review"
    DIALOGUE_TASKS_OPEN = "dialogue_tasks.open"
    GENERATION_CREATE = "generation.create"
    GENERATION_CANCEL = "generation.cancel"
    GENERATION_RESUME = "generation.resume"
    SCORING_CREATE = "scoring.create"
    SCORING_CANCEL = "scoring.cancel"
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_LOCKED = "auth.login_locked"
    LOGIN_UNLOCK = "auth.unlock"


class AuditEvent(models.Model):
    # Nullable and SET_NULL: the trail outlives the project or user it names (the ids stay in `details`).
    project = models.ForeignKey(
        "labeling.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40, blank=True)
    # A string: a row id, or for sign-in events the username tried.
    target_id = models.CharField(max_length=150, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["project", "-id"], name="audit_project_idx"),
            # The sign-in throttle counts recent failures by username and by address.
            models.Index(fields=["action", "target_id", "created_at"], name="audit_action_target_idx"),
            models.Index(fields=["action", "ip", "created_at"], name="audit_action_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_type}:{self.target_id}"
