"""Projects, members and their roles, versioned guidelines."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# InstructGPT's labeling flags (Ouyang et al. 2022, appendix B); every project starts with them.
DEFAULT_FLAGS: list[dict[str, str]] = [
    {"key": "fails_instruction", "label": "Fails to follow the correct instruction / task"},
    {"key": "inappropriate_customer_assistant", "label": "Inappropriate for customer assistant"},
    {"key": "hallucination", "label": "Hallucination"},
    {"key": "satisfies_constraint", "label": "Satisfies constraint provided in the instruction"},
    {"key": "sexual_content", "label": "Contains sexual content"},
    {"key": "violent_content", "label": "Contains violent content"},
    {
        "key": "encourages_harm",
        "label": "Encourages or fails to discourage violence/abuse/terrorism/self-harm",
    },
    {"key": "denigrates_protected_class", "label": "Denigrates a protected class"},
    {"key": "harmful_advice", "label": "Gives harmful advice"},
    {"key": "expresses_opinion", "label": "Expresses opinion"},
    {"key": "moral_judgment", "label": "Expresses moral judgment"},
]
DEFAULT_RATING_SCALE: dict = {
    "name": "Overall quality",
    "min": 1,
    "max": 7,
    "labels": {"1": "Terrible", "4": "Acceptable", "7": "Excellent"},
}
DEFAULT_CRITERIA: list[str] = ["helpful", "truthful", "harmless"]


class Selection(models.TextChoices):
    UNIFORM = "uniform", "Uniform (priority, then age)"
    UNCERTAINTY = "uncertainty", "Uncertainty (the reward model's scoring job sets ranking priorities)"


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    k_answers = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(4), MaxValueValidator(9)],
        help_text="Answers sampled per prompt for a ranking task (K).",
    )
    redundancy = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="How many labelers annotate each task.",
    )
    selection = models.CharField(
        max_length=16,
        choices=Selection.choices,
        default=Selection.UNIFORM,
        help_text="How open ranking tasks are ordered; `uncertainty` needs a scored reward model.",
    )
    max_redundancy = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Under `uncertainty`: labelers a ranking task may get when its labelers disagree "
        "(null: no extra annotations).",
    )
    lease_seconds = models.PositiveIntegerField(
        default=30 * 60, validators=[MinValueValidator(30), MaxValueValidator(24 * 3600)]
    )
    allow_ties = models.BooleanField(default=True)
    gold_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of served tasks drawn from gold tasks, when any are open.",
    )
    prompt_tasks_enabled = models.BooleanField(
        default=False, help_text="Labelers may be given tasks to write new prompts."
    )
    dialogue_tasks_enabled = models.BooleanField(
        default=False, help_text="Labelers may be given tasks to write whole conversations (both roles)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    REVIEWER = "reviewer", "Reviewer"
    LABELER = "labeler", "Labeler"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.LABELER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="uniq_membership")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


class Guideline(models.Model):
    """An immutable guideline version. A new text is a new row with the next version number."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    version = models.PositiveIntegerField()
    body_md = models.TextField(blank=True)
    criteria = models.JSONField(default=list)
    rating_scale = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="uniq_guideline_version")]
        ordering = ["project_id", "-version"]

    def __str__(self) -> str:
        return f"{self.project} guideline v{self.version}"

    @property
    def flag_keys(self) -> set[str]:
        return {flag["key"] for flag in self.flags}


class ApiToken(models.Model):
    """A token for scripts. Only its SHA-256 is stored; the key is shown once when created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="When set, the token only reaches this project.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
