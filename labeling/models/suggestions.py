"""Model suggestions a labeler asked for while writing a demonstration (sampled by a `gpu` worker)."""

from django.conf import settings
from django.db import models

from labeling.models.tasks import Assignment


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Suggestion(models.Model):
    """One answer sampled for an assignment's conversation from the project's current SFT (or base) model.

    Its state lives here, not in Celery: the web process creates it pending, a worker fills in `text` (done) or
    `error` (failed), and the labeler polls it. A demonstration's edit distance is measured against this text.
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="suggestions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    model_name = models.CharField(max_length=200)
    model_path = models.CharField(max_length=1000)
    gguf_file = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["assignment", "status"], name="suggestion_assignment_idx")]

    def __str__(self) -> str:
        return f"suggestion {self.pk} for assignment {self.assignment_id} ({self.status})"
