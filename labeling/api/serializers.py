"""Serializers validate request shapes and shape responses; the services do the rest."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling import selectors
from labeling.api.typed_json import (
    FlagDefinitionsField,
    FlagsByAnswerField,
    MessageSerializer,
    MessagesField,
    NumbersField,
    RatingScaleField,
    StringsField,
    TiersField,
)
from labeling.models import (
    ApiToken,
    Assignment,
    AssignmentStatus,
    Demonstration,
    Dialogue,
    Guideline,
    Membership,
    Project,
    Prompt,
    Ranking,
    Review,
    ReviewDecision,
    ReviewStatus,
    Role,
    Selection,
    Task,
    TaskStatus,
)
from labeling.services import blind
from labeling.services.conversations import conversation_snippet
from labeling.services.imports import PRIORITY_RANGE
from labeling.services.projects import MAX_REDUNDANCY
from labeling.services.revisions import REVISABLE_KINDS

User = get_user_model()


class UserBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class ProjectSerializer(serializers.ModelSerializer):
    open_tasks = serializers.IntegerField(read_only=True, required=False)
    my_active_assignments = serializers.IntegerField(read_only=True, required=False)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "k_answers",
            "redundancy",
            "lease_seconds",
            "allow_ties",
            "gold_rate",
            "prompt_tasks_enabled",
            "dialogue_tasks_enabled",
            "selection",
            "max_redundancy",
            "created_at",
            "open_tasks",
            "my_active_assignments",
            "my_role",
        ]
        read_only_fields = ["id", "created_at"]

    def get_my_role(self, project: Project) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(project.pk)


class ProjectWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=80, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    k_answers = serializers.IntegerField(required=False, min_value=4, max_value=9)
    redundancy = serializers.IntegerField(required=False, min_value=1, max_value=20)
    lease_seconds = serializers.IntegerField(required=False, min_value=30, max_value=24 * 3600)
    allow_ties = serializers.BooleanField(required=False)
    gold_rate = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    prompt_tasks_enabled = serializers.BooleanField(required=False)
    dialogue_tasks_enabled = serializers.BooleanField(required=False)
    selection = serializers.ChoiceField(
        choices=Selection.choices,
        required=False,
        help_text="`uncertainty`: each scoring job with a reward model orders the open ranking tasks by how "
        "unsure the model is of their answers' order, and tasks whose labelers disagree get more labelers "
        "(up to `max_redundancy`).",
    )
    max_redundancy = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_REDUNDANCY,
        help_text="Under `uncertainty`: the most labelers a ranking task may get when its labelers disagree; "
        "at least `redundancy`. Null: no extra annotations.",
    )


class ProjectUpdateSerializer(ProjectWriteSerializer):
    name = serializers.CharField(max_length=200, required=False)


class MembershipSerializer(serializers.ModelSerializer):
    user = UserBriefSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]


class MembershipWriteSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class GuidelineSerializer(serializers.ModelSerializer):
    created_by = UserBriefSerializer(read_only=True)
    criteria = StringsField()
    rating_scale = RatingScaleField()
    flags = FlagDefinitionsField()

    class Meta:
        model = Guideline
        fields = ["id", "version", "body_md", "criteria", "rating_scale", "flags", "created_by", "created_at"]


class GuidelineWriteSerializer(serializers.Serializer):
    body_md = serializers.CharField(allow_blank=True, max_length=200_000)
    criteria = serializers.JSONField(required=False)
    rating_scale = serializers.JSONField(required=False)
    flags = serializers.JSONField(required=False)


IMPORT_EXTENSIONS = (".jsonl", ".ndjson", ".json", ".csv", ".txt")
# What browsers and curl send for those files; anything else (HTML, images, archives…) is refused.
IMPORT_CONTENT_TYPES = (
    "application/json",
    "application/jsonl",
    "application/x-ndjson",
    "application/x-jsonlines",
    "application/octet-stream",
    "application/vnd.ms-excel",
    "text/csv",
    "text/plain",
    "",
)


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=["prompts", "ranking_items"])
    format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False, default="jsonl")
    create_tasks = serializers.BooleanField(required=False, default=True)

    def validate_file(self, upload):
        name = (upload.name or "").lower()
        content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        if not name.endswith(IMPORT_EXTENSIONS):
            raise serializers.ValidationError(
                f"'{upload.name}' is not an import file: use one of {', '.join(IMPORT_EXTENSIONS)}."
            )
        if content_type not in IMPORT_CONTENT_TYPES:
            raise serializers.ValidationError(
                f"Files of type {content_type} are not imported; send JSONL or CSV text."
            )
        return upload

    def to_internal_value(self, data):
        # No server-side fetching of URLs (SSRF): say so rather than ignore the field.
        if hasattr(data, "keys") and {"url", "file_url", "source_url"} & set(data.keys()):
            raise serializers.ValidationError(
                {"url": ["Import from a URL is not offered: download the file and upload it as `file`."]}
            )
        return super().to_internal_value(data)


class ImportResultSerializer(serializers.Serializer):
    records = serializers.IntegerField()
    prompts_created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    tasks_created = serializers.IntegerField()
    candidates_created = serializers.IntegerField()


class PromptSerializer(serializers.ModelSerializer):
    messages = MessagesField()

    class Meta:
        model = Prompt
        fields = ["id", "external_id", "messages", "metadata", "source", "created_at"]


class TaskAdminSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = [
            "id",
            "kind",
            "prompt",
            "priority",
            "is_gold",
            "required_annotations",
            "completed_count",
            "status",
            "created_at",
        ]


class BlindCandidateSerializer(serializers.Serializer):
    """What a labeler sees of an answer: its id and text, never its model or sampling settings; only whether the
    answer was cut off at the length limit (a neutral note, the same for every model)."""

    id = serializers.IntegerField()
    text = serializers.CharField()
    truncated = serializers.BooleanField(help_text="The answer was cut off at the length limit.")


class LabelerTaskSerializer(serializers.ModelSerializer):
    messages = serializers.SerializerMethodField()
    candidates = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ["id", "kind", "messages", "candidates"]

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, task: Task) -> list[dict]:
        return task.prompt.messages if task.prompt_id else []

    @extend_schema_field(BlindCandidateSerializer(many=True))
    def get_candidates(self, task: Task) -> list[dict]:
        # The labeler's ids, in the labeler's order (`labeling.services.blind`): never the database ids.
        texts = {link.candidate_id: link.candidate.text for link in task.task_candidates.all()}
        cut = {
            link.candidate_id
            for link in task.task_candidates.all()
            if (link.candidate.sampling or {}).get("truncated") is True
        }
        ids = blind.public_ids(self.context["assignment_id"], texts)
        return BlindCandidateSerializer(
            [{"id": pid, "text": texts[cid], "truncated": cid in cut} for cid, pid in ids.items()], many=True
        ).data


class AssignmentProjectSerializer(serializers.Serializer):
    """What a labeler's workspace needs of the task's project."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    allow_ties = serializers.BooleanField()
    k_answers = serializers.IntegerField()
    guideline_version = serializers.IntegerField(
        allow_null=True,
        help_text="The project's newest guideline version. Newer than the assignment's `guideline.version` when "
        "a version was published after this lease was made (the lease's work is still checked against its own).",
    )


class AssignmentSerializer(serializers.ModelSerializer):
    task = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()
    guideline = GuidelineSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "status",
            "leased_at",
            "expires_at",
            "finished_at",
            "skip_reason",
            "task",
            "project",
            "guideline",
        ]

    @extend_schema_field(LabelerTaskSerializer)
    def get_task(self, assignment: Assignment) -> dict:
        return LabelerTaskSerializer(assignment.task, context={"assignment_id": assignment.pk}).data

    @extend_schema_field(AssignmentProjectSerializer)
    def get_project(self, assignment: Assignment) -> dict:
        project = assignment.task.project
        return {
            "id": project.pk,
            "name": project.name,
            "allow_ties": project.allow_ties,
            "k_answers": project.k_answers,
            "guideline_version": selectors.guideline_newest_version(project.pk),
        }


class AssignmentBriefSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="task.kind")
    project_id = serializers.IntegerField(source="task.project_id")

    class Meta:
        model = Assignment
        fields = ["id", "status", "kind", "project_id", "task_id", "leased_at", "expires_at", "finished_at"]


class ReviewOutcomeSerializer(serializers.Serializer):
    """The latest review of the labeler's own work, without the reviewer."""

    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    comment = serializers.CharField()
    reviewed_at = serializers.DateTimeField()


class AssignmentHistorySerializer(AssignmentBriefSerializer):
    """A row of the user's history: for demonstrations and dialogues, the review status and latest review
    (null otherwise; needs `selectors.with_review_outcome`), and whether the work can still be revised; what
    the task was about (`snippet`) and why it was skipped (needs `selectors.history_for_user`)."""

    status = serializers.ChoiceField(
        source="history_status",
        choices=AssignmentStatus.choices,
        read_only=True,
        help_text="`expired` for a lease past its expiry, even before the sweep marks it so.",
    )
    project_name = serializers.CharField(source="task.project.name", read_only=True)
    snippet = serializers.SerializerMethodField(
        help_text="The start of the task's first user turn (plain text, at most 120 characters); for a prompt or "
        "dialogue written from scratch, of what the labeler wrote. Empty when there is none yet."
    )
    skip_reason = serializers.SerializerMethodField(
        help_text="The labeler's reason, for a skipped task only."
    )
    review_status = serializers.ChoiceField(choices=ReviewStatus.choices, allow_null=True, read_only=True)
    review = serializers.SerializerMethodField()
    can_revise = serializers.SerializerMethodField()

    class Meta(AssignmentBriefSerializer.Meta):
        fields = [
            *AssignmentBriefSerializer.Meta.fields,
            "project_name",
            "snippet",
            "skip_reason",
            "review_status",
            "review",
            "can_revise",
        ]

    def get_snippet(self, assignment: Assignment) -> str:
        prompt = assignment.task.prompt
        return conversation_snippet(prompt.messages if prompt else assignment.written_messages)

    def get_skip_reason(self, assignment: Assignment) -> str | None:
        return assignment.skip_reason if assignment.status == AssignmentStatus.SKIPPED else None

    @extend_schema_field(ReviewOutcomeSerializer(allow_null=True))
    def get_review(self, assignment: Assignment) -> dict | None:
        if assignment.review_decision is None:
            return None
        return ReviewOutcomeSerializer(
            {
                "decision": assignment.review_decision,
                "comment": assignment.review_comment,
                "reviewed_at": assignment.reviewed_at,
            }
        ).data

    def get_can_revise(self, assignment: Assignment) -> bool:
        # The same conditions the revise service checks, so the UI offers the link only where it works.
        return (
            assignment.status == AssignmentStatus.SUBMITTED
            and assignment.task.kind in REVISABLE_KINDS
            and assignment.task.status == TaskStatus.OPEN
        )


class SubmitSerializer(serializers.Serializer):
    """One body for every task kind; the fields that apply depend on the task's kind."""

    client_id = serializers.UUIDField()
    seconds_spent = serializers.FloatField(required=False, default=0, min_value=0)
    guideline_version = serializers.IntegerField(required=False, min_value=1)
    # ranking
    tiers = serializers.JSONField(required=False)
    ratings = serializers.JSONField(required=False)
    flags = serializers.JSONField(required=False)
    unrankable_reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=32_000)
    # demonstration
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=32_000)
    suggestion_id = serializers.IntegerField(required=False, min_value=1)
    # prompt, dialogue
    messages = serializers.JSONField(required=False)


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


# The fields every stored annotation shows first, whatever its kind.
ANNOTATION_FIELDS = ["id", "task", "assignment", "user", "client_id", "guideline_version"]


class AnnotationSerializer(serializers.ModelSerializer):
    guideline_version = serializers.IntegerField(source="guideline.version", read_only=True)


class RankingSerializer(AnnotationSerializer):
    tiers = TiersField()
    ratings = NumbersField(help_text="The rating of each answer, by answer id.")
    flags = FlagsByAnswerField()

    class Meta:
        model = Ranking
        fields = [
            *ANNOTATION_FIELDS,
            "tiers",
            "ratings",
            "flags",
            "unrankable",
            "unrankable_reason",
            "comment",
            "seconds_spent",
            "created_at",
        ]


class DemonstrationSerializer(AnnotationSerializer):
    messages = MessagesField(source="task.prompt.messages", read_only=True)

    class Meta:
        model = Demonstration
        fields = [
            *ANNOTATION_FIELDS,
            "messages",
            "text",
            "review_status",
            "suggestion",
            "suggestion_model",
            "edit_distance",
            "edit_ratio",
            "seconds_spent",
            "created_at",
        ]


class LabelerDemonstrationSerializer(DemonstrationSerializer):
    """The labeler's own demonstration: without the model its suggestion came from (admins keep it)."""

    class Meta(DemonstrationSerializer.Meta):
        fields = [f for f in DemonstrationSerializer.Meta.fields if f != "suggestion_model"]


class DialogueSerializer(AnnotationSerializer):
    messages = MessagesField()

    class Meta:
        model = Dialogue
        fields = [
            *ANNOTATION_FIELDS,
            "messages",
            "review_status",
            "seconds_spent",
            "created_at",
        ]


class LabelerNameMixin(serializers.Serializer):
    """Who wrote an annotation, for reviewers. The list views select the user with the annotation, so it costs no
    query per row."""

    user_name = serializers.SerializerMethodField(
        help_text="The labeler's full name, or their username when they have none."
    )

    def get_user_name(self, annotation) -> str:
        return annotation.user.get_full_name() or annotation.user.get_username()


class DemonstrationForReviewSerializer(LabelerNameMixin, DemonstrationSerializer):
    """A demonstration as reviewers and admins list it: with the name of who wrote it."""

    class Meta(DemonstrationSerializer.Meta):
        fields = [*DemonstrationSerializer.Meta.fields, "user_name"]


class DialogueForReviewSerializer(LabelerNameMixin, DialogueSerializer):
    """A dialogue as reviewers and admins list it: with the name of who wrote it."""

    class Meta(DialogueSerializer.Meta):
        fields = [*DialogueSerializer.Meta.fields, "user_name"]


class DialogueTasksOpenSerializer(serializers.Serializer):
    count = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    prompt_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )
    # Task.priority is a 32-bit column; PostgreSQL's bulk insert would keep only the low bits of a larger one.
    priority = serializers.IntegerField(
        required=False, default=0, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1]
    )


class WrittenPromptResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.IntegerField(source="prompt_id")
    client_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = ["id", "demonstration", "dialogue", "reviewer", "decision", "comment", "created_at"]


class ReviewUndoneSerializer(serializers.Serializer):
    """The work whose review was undone (a demonstration or a dialogue), and its review status now (pending)."""

    demonstration = serializers.IntegerField(allow_null=True)
    dialogue = serializers.IntegerField(allow_null=True)
    review_status = serializers.ChoiceField(choices=ReviewStatus.choices)


class ReviewWriteSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "project", "expires_at", "revoked_at", "last_used_at", "created_at"]


class ApiTokenWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    project = serializers.IntegerField(required=False, allow_null=True)
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3650, default=90
    )


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1000, trim_whitespace=False)
