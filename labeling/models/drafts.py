"""Work in progress kept on the server (drafts), and the earlier versions of revised annotations."""

from django.conf import settings
from django.db import models

from labeling.models.tasks import Assignment


class Draft(models.Model):
    """The client's working state of one assignment (for example a demonstration's text), one per assignee."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="drafts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "user"], name="uniq_draft_assignment_user")
        ]

    def __str__(self) -> str:
        return f"draft of assignment {self.assignment_id} by user {self.user_id}"


class AnnotationRevision(models.Model):
    """The earlier version of a ranking or demonstration that its author revised, kept for audit.

    The annotation row itself always holds the latest version (what exports read); each revision stores the
    fields as they were before it, with the guideline version they were made under.
    """

    kind = models.CharField(max_length=16)  # "ranking" or "demonstration"
    annotation_id = models.BigIntegerField()
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="revisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    previous = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["kind", "annotation_id"], name="revision_annotation_idx")]

    def __str__(self) -> str:
        return f"revision of {self.kind} {self.annotation_id}"
