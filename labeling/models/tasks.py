"""Tasks and assignments (leases on tasks)."""

from django.conf import settings
from django.db import models

from labeling.models.content import Candidate, Prompt
from labeling.models.project import Guideline, Project


class TaskKind(models.TextChoices):
    PROMPT = "prompt", "Write a prompt"
    DEMONSTRATION = "demonstration", "Write the ideal answer"
    RANKING = "ranking", "Rank answers"
    DIALOGUE = "dialogue", "Write a whole conversation"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETE = "complete", "Complete"
    CLOSED = "closed", "Closed"


class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    prompt = models.ForeignKey(Prompt, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    candidates = models.ManyToManyField(Candidate, through="TaskCandidate", related_name="tasks")
    priority = models.IntegerField(default=0, help_text="Higher is served first.")
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(
        null=True, blank=True, help_text="For gold ranking tasks: the expected tiers of candidate ids."
    )
    required_annotations = models.PositiveSmallIntegerField(default=1)
    # Accepted (submitted and not rejected) annotations; kept in step by the services under the task's row lock.
    completed_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["project", "status", "is_gold", "-priority", "created_at", "id"],
                name="task_queue_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} task {self.pk}"


class TaskCandidate(models.Model):
    """The answers of a ranking task, in the (shuffled) order labelers see them."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="task_candidates")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["task_id", "position"]
        constraints = [models.UniqueConstraint(fields=["task", "candidate"], name="uniq_task_candidate")]

    def __str__(self) -> str:
        return f"candidate {self.candidate_id} at {self.position} in task {self.task_id}"


class AssignmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


class Assignment(models.Model):
    """A labeler's lease on a task. One row per (task, labeler): nobody gets a task twice."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ACTIVE
    )
    guideline = models.ForeignKey(Guideline, null=True, on_delete=models.PROTECT, related_name="+")
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["task", "user"], name="uniq_assignment_task_user")]
        indexes = [
            models.Index(fields=["task", "status", "expires_at"], name="assignment_lease_idx"),
            models.Index(fields=["user", "status"], name="assignment_user_idx"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"
