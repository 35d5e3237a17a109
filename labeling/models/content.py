"""Prompts (conversations) and candidates (answers to rank)."""

from django.conf import settings
from django.db import models

from labeling.models.project import Project


class PromptSource(models.TextChoices):
    IMPORT = "import", "Imported"
    LABELER = "labeler", "Written by a labeler"
    API = "api", "Created through the API"


class Prompt(models.Model):
    """A conversation to answer: a list of {"role", "content"} messages ending with a user turn."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=200)
    messages = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=PromptSource.choices, default=PromptSource.IMPORT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="uniq_prompt_external_id")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.external_id}"


class CandidateSource(models.TextChoices):
    IMPORT = "import", "Imported"
    MODEL = "model", "Sampled from a model"
    HUMAN = "human", "Written by a person"


class Candidate(models.Model):
    """One answer to a prompt, with where it came from. Never shown to labelers with its source."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidates")
    text = models.TextField()
    source = models.CharField(max_length=16, choices=CandidateSource.choices, default=CandidateSource.IMPORT)
    model_name = models.CharField(max_length=300, blank=True)
    sampling = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"candidate {self.pk} of prompt {self.prompt_id}"
