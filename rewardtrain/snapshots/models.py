"""Dataset snapshots (immutable, versioned exports of a project's annotations) and the log of their downloads."""

from django.conf import settings
from django.db import models

from labeling.models import ApiToken, Project


class SnapshotKind(models.TextChoices):
    PAIRWISE = "pairwise", "Pairwise (chosen/rejected)"
    KWISE = "kwise", "K-wise (candidates with tiers)"
    SFT = "sft", "SFT (demonstrations as messages)"
    PROMPTS = "prompts", "Prompts (for RL)"


class SnapshotStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Snapshot(models.Model):
    """One version of a project's dataset. Its settings never change; its files are written once.

    `params` holds the validated build settings (kind options, filters, split); `manifest` is filled when the
    build is ready: counts per split, files with their SHA-256, the record schema.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=SnapshotKind.choices)
    status = models.CharField(max_length=16, choices=SnapshotStatus.choices, default=SnapshotStatus.QUEUED)
    params = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="What stopped a failed build, in one line.")
    error_detail = models.TextField(
        blank=True, help_text="The traceback of a failed build, for site staff only."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="uniq_snapshot_version")]

    def __str__(self) -> str:
        return f"{self.kind} snapshot v{self.version} of project {self.project_id} ({self.status})"

    @property
    def relative_dir(self) -> str:
        return f"snapshots/{self.project_id}/{self.version}"


class SnapshotDownload(models.Model):
    """Who downloaded which file of which snapshot, when, and with which token (if any)."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="downloads")
    file_name = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.user_id} downloaded {self.file_name} of snapshot {self.snapshot_id}"
