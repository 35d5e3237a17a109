"""Generation jobs, for project admins: start one, watch its progress, cancel it, resume it."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from rewardtrain.api.base import AdminView
from rewardtrain.generation import services
from rewardtrain.generation.models import Backend, GenerationJob, PromptSelection
from rewardtrain.jobs import job_in_project


class GenerationJobSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    reward_model_name = serializers.CharField(source="reward_model.name", read_only=True, default=None)

    class Meta:
        model = GenerationJob
        fields = [
            "id",
            "model",
            "model_name",
            "backend",
            "endpoint_url",
            "endpoint_model",
            "endpoint_api",
            "api_key_env",
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
            "created_at",
            "started_at",
            "finished_at",
        ]


class GenerationJobWriteSerializer(serializers.Serializer):
    model = serializers.IntegerField(help_text="Registered base or SFT model to sample from.")
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
    endpoint_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    endpoint_model = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    endpoint_api = serializers.ChoiceField(choices=["chat", "completions"], default="chat")
    api_key_env = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    reward_model = serializers.IntegerField(required=False, allow_null=True, default=None)


def _job(project, job_id: int) -> GenerationJob:
    rows = GenerationJob.objects.select_related("model", "reward_model")
    return job_in_project(rows, project, job_id, "Generation job")


class GenerationJobListView(AdminView):
    @extend_schema(responses=GenerationJobSerializer(many=True))
    def get(self, request, project_id: int):
        rows = GenerationJob.objects.filter(project=self.project).select_related("model", "reward_model")
        return Response(GenerationJobSerializer(rows, many=True).data)

    @extend_schema(request=GenerationJobWriteSerializer, responses={201: GenerationJobSerializer})
    def post(self, request, project_id: int):
        body = GenerationJobWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = services.generation_job_create(
            project=self.project,
            user=request.user,
            model_id=data["model"],
            settings=data["settings"],
            prompts=data["prompts"],
            prompt_ids=data["prompt_ids"],
            limit=data["limit"],
            backend=data["backend"],
            endpoint_url=data["endpoint_url"],
            endpoint_model=data["endpoint_model"],
            endpoint_api=data["endpoint_api"],
            api_key_env=data["api_key_env"],
            reward_model_id=data["reward_model"],
        )
        return Response(GenerationJobSerializer(job).data, status=status.HTTP_201_CREATED)


class GenerationJobDetailView(AdminView):
    @extend_schema(responses=GenerationJobSerializer)
    def get(self, request, project_id: int, job_id: int):
        return Response(GenerationJobSerializer(_job(self.project, job_id)).data)


class GenerationJobCancelView(AdminView):
    @extend_schema(request=None, responses=GenerationJobSerializer)
    def post(self, request, project_id: int, job_id: int):
        job = services.generation_job_cancel(job=_job(self.project, job_id))
        return Response(GenerationJobSerializer(job).data)


class GenerationJobResumeView(AdminView):
    @extend_schema(request=None, responses=GenerationJobSerializer)
    def post(self, request, project_id: int, job_id: int):
        job = services.generation_job_resume(job=_job(self.project, job_id))
        return Response(GenerationJobSerializer(job).data)
