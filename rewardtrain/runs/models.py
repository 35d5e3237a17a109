"""Registered models and the training runs that produce them."""

from pathlib import Path

from django.conf import settings
from django.db import models

from labeling.models import Candidate, Project
from rewardtrain.snapshots.models import Snapshot


class ModelKind(models.TextChoices):
    BASE = "base", "Base model"
    SFT = "sft", "Supervised fine-tuned"
    RM = "rm", "Reward model"
    POLICY = "policy", "Policy (preference-tuned)"


class ModelSource(models.TextChoices):
    HUB = "hub", "Hub name"
    ROOT = "root", "Directory under an operator's model root"
    RUN = "run", "A training run's own output"


class RegisteredModel(models.Model):
    """A model the project can train from, sample from or score with: an artifact reference, never a host path
    an admin typed. `rewardtrain.runs.artifacts.model_locate` turns it into something a loader can open."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="registered_models")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=ModelKind.choices)
    source = models.CharField(max_length=8, choices=ModelSource.choices, default=ModelSource.HUB)
    root = models.CharField(
        max_length=64,
        blank=True,
        help_text="The operator's model root (ANNOTATE_MODEL_ROOTS) a `root` model is in.",
    )
    path = models.CharField(
        max_length=1000,
        help_text="hub: the hub name (owner/name); root: the directory relative to the root; "
        "run: the stored model's manifest key, written by the run service (older rows: its output directory).",
    )
    gguf_file = models.CharField(
        max_length=300,
        blank=True,
        help_text="GGUF file inside the model directory (a relative path), if any.",
    )
    produced_by = models.OneToOneField(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_model"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_registered_model_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class RunKind(models.TextChoices):
    SFT = "sft", "SFT"
    RM = "rm", "Reward model"
    DPO = "dpo", "DPO policy"
    RL = "rl", "RL policy (RLOO/GRPO)"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobState(models.Model):
    """The state a background job keeps in its own row, for the claim/heartbeat/cancel/requeue machinery in
    `rewardtrain/jobs.py`. `attempts` and `error` stay in each model: their help texts differ."""

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_detail = models.TextField(
        blank=True, help_text="The traceback of a failure, for site staff only (`error` is its one line)."
    )

    class Meta:
        abstract = True
        ordering = ["-id"]  # newest first; inherited by the jobs (they declare no Meta)


class TrainingRun(JobState):
    """One training job: a snapshot, a base model and hyper-parameters. Its state lives here, not in Celery."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    kind = models.CharField(max_length=8, choices=RunKind.choices)
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="training_runs")
    base_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="training_runs")
    reward_model = models.ForeignKey(
        RegisteredModel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rl_runs",
        help_text="RL runs: the reward model (kind rm, same project) the policy is optimised against.",
    )
    hyperparams = models.JSONField(default=dict)
    gpus = models.PositiveSmallIntegerField(
        default=1, help_text="Processes (one per GPU) the run trains on: above 1, a torchrun process group."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker has claimed this run.")
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    last_metrics = models.JSONField(default=dict, blank=True)
    final_metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="What stopped a failed run, in one line.")

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.status})"

    @property
    def storage_key(self) -> str:
        """Where the run's checkpoints and model are stored (`rewardtrain/staging.py`)."""
        return f"runs/{self.project_id}/{self.pk}"

    @property
    def output_dir(self) -> str:
        """Where this worker trains it: the local folder of `storage_key` (so the default store copies nothing)."""
        return str(Path(settings.MEDIA_ROOT) / self.storage_key)


class RunMetric(models.Model):
    """One progress event of a run: a training step, an evaluation, the end, or (RL) a table of sampled
    answers: kind `samples`, `values = {"rows": [{prompt, answer, reward, kl, length, ...}]}`."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    kind = models.CharField(max_length=8)
    step = models.PositiveIntegerField()
    values = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "id"]
        indexes = [models.Index(fields=["run", "kind", "step"], name="run_metric_idx")]

    def __str__(self) -> str:
        return f"{self.kind} metrics of run {self.run_id} at step {self.step}"


class ScoringJob(JobState):
    """Scoring a project's candidates with one reward model, on the `gpu` queue.

    It has the run fields the claim/heartbeat/requeue machinery needs (`rewardtrain/jobs.py`); progress
    is `scored` of `total` candidates. Scores are for admins: labelers never see them.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scoring_jobs")
    reward_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="scoring_jobs")
    batch_size = models.PositiveIntegerField(default=32)
    attempts = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0, help_text="Candidates without a score when the job began.")
    scored = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"scoring job {self.pk} with model {self.reward_model_id} ({self.status})"


class CandidateScore(models.Model):
    """A reward model's score of one candidate (prompt + answer); one per (candidate, reward model)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="scores")
    reward_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="scores")
    score = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "reward_model"], name="uniq_candidate_score")
        ]

    def __str__(self) -> str:
        return f"score {self.score:.3f} of candidate {self.candidate_id} by model {self.reward_model_id}"
