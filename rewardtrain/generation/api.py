"""Generation jobs, for project admins: start one, watch its progress, cancel it, resume it; and the inference
endpoints the operator configured, for them to choose from by name."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling.api.permissions import acts_as_site_staff
from labeling.api.typed_json import NumbersField, PromptSelectionField, SkippedPromptsField
from labeling.services.errors import FieldError, invalid
from rewardtrain.api_base import AdminView, ErrorDetailField
from rewardtrain.generation import services
from rewardtrain.generation.endpoints import configured_endpoints
from rewardtrain.generation.models import Backend, GenerationJob, PromptSelection
from rewardtrain.generation.selectors import (
    generation_job_tasks,
    generation_jobs_for_project,
    get_generation_job,
)


class GenerationSourceSerializer(serializers.Serializer):
    model = serializers.IntegerField(source="model_id")
    model_name = serializers.CharField(source="model.name")
    answers = serializers.IntegerField(help_text="How many of each prompt's K answers this model writes.")
    endpoint_model = serializers.CharField(help_text="openai backend: the endpoint's model serving it.")


class GenerationJobSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    sources = GenerationSourceSerializer(
        many=True,
        read_only=True,
        help_text="The models the job samples from, with their share of the K answers.",
    )
    tasks_made = serializers.IntegerField(read_only=True, help_text="Ranking tasks the job has made.")
    truncated_answers = serializers.IntegerField(
        read_only=True, help_text="Stored answers cut at max_new_tokens (no end of answer within the limit)."
    )
    reward_model_name = serializers.CharField(
        source="reward_model.name", read_only=True, default=None, allow_null=True
    )
    error_detail = ErrorDetailField()
    settings = NumbersField(help_text="The sampling settings, as the job runs with them.")
    selection = PromptSelectionField(help_text="How the prompts were chosen.")
    skipped = SkippedPromptsField(help_text="The skipped prompts, each with why.")

    class Meta:
        model = GenerationJob
        fields = [
            "id",
            "model",
            "model_name",
            "sources",
            "tasks_made",
            "truncated_answers",
            "backend",
            "endpoint",
            "endpoint_model",
            "settings",
            "reward_model",
            "reward_model_name",
            "selection",
            "status",
            "cancel_requested",
            "attempts",
            "prompts_total",
            "prompts_done",
            "prompts_skipped",
            "skipped",
            "error",
            "error_detail",
            "created_at",
            "started_at",
            "finished_at",
        ]


class GenerationSourceWriteSerializer(serializers.Serializer):
    model = serializers.IntegerField(help_text="A registered base, SFT or policy model.")
    answers = serializers.IntegerField(
        min_value=1, help_text="How many of each prompt's K answers it writes."
    )
    endpoint_model = serializers.CharField(
        max_length=300, required=False, help_text="openai backend: the endpoint's model serving it."
    )


class GenerationJobWriteSerializer(serializers.Serializer):
    model = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Registered base, SFT or policy model to sample all K answers from (or give `models`).",
    )
    models = GenerationSourceWriteSerializer(
        many=True,
        required=False,
        allow_null=True,
        default=None,
        help_text="Several models, each writing its share of the K answers (shuffled, blind to labelers); "
        "the answers add up to K. Instead of `model`.",
    )
    settings = serializers.DictField(
        required=False,
        default=dict,
        help_text="k, temperature, top_p, max_new_tokens, seed, best_of_n, batch_size, concurrency, max_rounds",
    )
    prompts = serializers.ChoiceField(
        choices=PromptSelection.values, default=PromptSelection.ACCEPTED_DEMONSTRATION
    )
    prompt_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    limit = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    backend = serializers.ChoiceField(choices=Backend.values, default=Backend.LOCAL)
    endpoint = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="openai backend: the name of a configured inference endpoint (see inference-endpoints/).",
    )
    endpoint_model = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="One of the endpoint's models; default: its first.",
    )
    reward_model = serializers.IntegerField(required=False, allow_null=True, default=None)


# Fields of the old API: an admin gave the worker a URL, an API style and the name of an environment variable.
OLD_ENDPOINT_FIELDS = {"endpoint_url", "endpoint_api", "api_key_env"}


def _refuse_unknown_fields(data, known) -> None:
    """A field this API does not take is refused by name (an old client sending endpoint_url or api_key_env must
    learn that they are gone, not have them silently ignored)."""
    unknown = sorted(set(data) - set(known)) if isinstance(data, dict) else []
    if unknown:
        hint = "an endpoint is chosen by name (endpoint) among those the operator configured"
        raise invalid(
            "Unknown fields in the generation job",
            *(
                FieldError(
                    f"unknown field; {hint}" if name in OLD_ENDPOINT_FIELDS else "unknown field",
                    str(name)[:100],
                )
                for name in unknown[:20]
            ),
            code="unknown_field",
        )


class GenerationJobListView(AdminView):
    @extend_schema(responses=GenerationJobSerializer(many=True))
    def get(self, request, project_id: int):
        rows = generation_jobs_for_project(self.project)
        return Response(GenerationJobSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(request=GenerationJobWriteSerializer, responses={201: GenerationJobSerializer})
    def post(self, request, project_id: int):
        body = GenerationJobWriteSerializer(data=request.data)
        _refuse_unknown_fields(request.data, body.fields)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = services.generation_job_create(
            project=self.project,
            user=request.user,
            model_id=data["model"],
            models=[dict(entry) for entry in data["models"]] if data["models"] is not None else None,
            settings=data["settings"],
            prompts=data["prompts"],
            prompt_ids=data["prompt_ids"],
            limit=data["limit"],
            backend=data["backend"],
            endpoint=data["endpoint"],
            endpoint_model=data["endpoint_model"],
            reward_model_id=data["reward_model"],
        )
        job = get_generation_job(self.project, job.pk)  # with its sources and counts
        return Response(
            GenerationJobSerializer(job, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class GenerationJobDetailView(AdminView):
    @extend_schema(responses=GenerationJobSerializer)
    def get(self, request, project_id: int, job_id: int):
        return Response(
            GenerationJobSerializer(
                get_generation_job(self.project, job_id), context={"request": request}
            ).data
        )


class GenerationTaskAnswerSerializer(serializers.Serializer):
    candidate = serializers.IntegerField()
    model_name = serializers.CharField()
    truncated = serializers.BooleanField(help_text="Cut at max_new_tokens.")
    chars = serializers.IntegerField()


class GenerationTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.IntegerField()
    prompt_snippet = serializers.CharField(help_text="The prompt's last user turn, cut short (plain text).")
    status = serializers.CharField()
    completed_count = serializers.IntegerField()
    required_annotations = serializers.IntegerField()
    answers = GenerationTaskAnswerSerializer(many=True)


class GenerationJobTasksView(AdminView):
    """The ranking tasks a job made, with the model behind each answer: for the project's admins only."""

    @extend_schema(responses=GenerationTaskSerializer(many=True))
    def get(self, request, project_id: int, job_id: int):
        job = get_generation_job(self.project, job_id)
        return Response(GenerationTaskSerializer(generation_job_tasks(job), many=True).data)


class GenerationJobCancelView(AdminView):
    @extend_schema(request=None, responses=GenerationJobSerializer)
    def post(self, request, project_id: int, job_id: int):
        job = services.generation_job_cancel(job=get_generation_job(self.project, job_id))
        job = get_generation_job(self.project, job.pk)  # with its counts
        return Response(GenerationJobSerializer(job, context={"request": request}).data)


class GenerationJobResumeView(AdminView):
    @extend_schema(request=None, responses=GenerationJobSerializer)
    def post(self, request, project_id: int, job_id: int):
        job = services.generation_job_resume(job=get_generation_job(self.project, job_id))
        job = get_generation_job(self.project, job.pk)  # with its counts
        return Response(GenerationJobSerializer(job, context={"request": request}).data)


class InferenceEndpointSerializer(serializers.Serializer):
    name = serializers.CharField()
    api = serializers.ChoiceField(choices=["chat", "completions"])
    models = serializers.ListField(child=serializers.CharField())
    default_model = serializers.CharField()
    base_url = serializers.CharField(
        allow_null=True, help_text="Only for site staff; null for everyone else."
    )


class InferenceEndpointListView(AdminView):
    """The endpoints a generation job may name, for the project's admins: names, API style and allowed models.

    Where an endpoint is and which variable holds its key stay with the operator: the base URL is shown to site
    staff only (it maps the internal network), the key variable to nobody."""

    @extend_schema(responses=InferenceEndpointSerializer(many=True))
    def get(self, request, project_id: int):
        staff = acts_as_site_staff(request)
        rows = [
            {
                "name": e.name,
                "api": e.api,
                "models": list(e.models),
                "default_model": e.default_model,
                "base_url": e.base_url if staff else None,
            }
            for e in configured_endpoints().values()
        ]
        return Response(InferenceEndpointSerializer(rows, many=True).data)
