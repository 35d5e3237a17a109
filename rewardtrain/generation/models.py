"""Generation jobs: K answers per prompt sampled from one or several registered models, stored as candidates of
new ranking tasks."""

from django.db import models

from labeling.models import Candidate, Project, Prompt, Task
from rewardtrain.runs.models import JobState, RegisteredModel


class Backend(models.TextChoices):
    LOCAL = "local", "Local sampling (gpu queue)"
    OPENAI = "openai", "OpenAI-compatible endpoint"


class PromptSelection(models.TextChoices):
    ACCEPTED_DEMONSTRATION = "accepted_demonstration", "Prompts with an accepted demonstration"
    NO_RANKING_TASK = "no_ranking_task", "Prompts without a ranking task yet"
    IDS = "ids", "The prompts listed"


class GenerationJob(JobState):
    """One sampling job. Its state lives here (not in Celery); prompts are fixed when it is created."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="generation_jobs")
    # The first of the job's models (`sources`): what a single-model job samples from.
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="generation_jobs")
    backend = models.CharField(max_length=8, choices=Backend.choices, default=Backend.LOCAL)
    endpoint = models.CharField(
        max_length=64,
        blank=True,
        help_text="Name of an inference endpoint the operator configured (ANNOTATE_INFERENCE_ENDPOINTS).",
    )
    endpoint_model = models.CharField(
        max_length=300,
        blank=True,
        help_text="Model the endpoint serves: one of the endpoint's allowed models.",
    )
    # k, temperature, top_p, max_new_tokens, seed, best_of_n, batch_size, concurrency
    settings = models.JSONField(default=dict)
    reward_model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    selection = models.JSONField(default=dict, help_text="How the prompts were chosen.")
    prompt_ids = models.JSONField(default=list, help_text="The job's prompts, in order.")
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker has claimed this job.")
    prompts_total = models.PositiveIntegerField(default=0)
    prompts_done = models.PositiveIntegerField(default=0)
    prompts_skipped = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list, blank=True, help_text="[{prompt, reason}] of skipped prompts.")
    error = models.TextField(blank=True, help_text="What stopped a failed job, in one line.")

    def __str__(self) -> str:
        return f"generation job {self.pk} ({self.status})"


class GenerationSource(models.Model):
    """One model a job samples from and how many of each prompt's K answers it writes (the counts sum to K)."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="sources")
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="+")
    answers = models.PositiveSmallIntegerField()
    endpoint_model = models.CharField(
        max_length=300, blank=True, help_text="openai backend: the endpoint's model that serves this one."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["job_id", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "model"], name="uniq_generation_source_model")]

    def __str__(self) -> str:
        return f"{self.answers} answers from model {self.model_id} in job {self.job_id}"


class GenerationItem(models.Model):
    """One stored answer of a job. Unique per (job, prompt, sample index), so a resumed job never duplicates."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="items")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="generation_item")
    task = models.ForeignKey(Task, null=True, on_delete=models.SET_NULL, related_name="+")
    sample_index = models.PositiveSmallIntegerField()
    reward = models.FloatField(null=True, blank=True, help_text="Reward-model score under best-of-N.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job_id", "prompt_id", "sample_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "prompt", "sample_index"], name="uniq_generation_item_sample"
            )
        ]

    def __str__(self) -> str:
        return f"sample {self.sample_index} of prompt {self.prompt_id} in job {self.job_id}"
