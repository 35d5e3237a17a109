"""Reward scores, the reward model's agreement with new rankings, and the rounds timeline.

Scores are for project admins only (labelers must never see how a model rated an answer); the aggregated
agreement and the rounds timeline are for reviewers and admins.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling.services.errors import FieldError, invalid
from rewardtrain.api.base import AdminView, ErrorDetailField, ReviewerView
from rewardtrain.jobs import job_in_project
from rewardtrain.runs import scoring
from rewardtrain.runs.models import CandidateScore, ScoringJob
from rewardtrain.runs.rm_agreement import project_rm_agreement
from rewardtrain.runs.rounds import project_rounds

SCORES_PAGE = 1000


class ScoringJobSerializer(serializers.ModelSerializer):
    reward_model_name = serializers.CharField(source="reward_model.name", read_only=True)
    error_detail = ErrorDetailField()

    class Meta:
        model = ScoringJob
        fields = [
            "id",
            "reward_model",
            "reward_model_name",
            "batch_size",
            "status",
            "cancel_requested",
            "attempts",
            "total",
            "scored",
            "error",
            "error_detail",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ScoringJobWriteSerializer(serializers.Serializer):
    reward_model = serializers.IntegerField()
    batch_size = serializers.IntegerField(required=False, default=32)


class CandidateScoreSerializer(serializers.ModelSerializer):
    prompt = serializers.IntegerField(source="candidate.prompt_id", read_only=True)

    class Meta:
        model = CandidateScore
        fields = ["candidate", "prompt", "reward_model", "score", "created_at"]


def _job(project, job_id: int) -> ScoringJob:
    return job_in_project(ScoringJob.objects.select_related("reward_model"), project, job_id, "Scoring job")


class ScoringJobListView(AdminView):
    @extend_schema(responses=ScoringJobSerializer(many=True))
    def get(self, request, project_id: int):
        rows = ScoringJob.objects.filter(project=self.project).select_related("reward_model")
        return Response(ScoringJobSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(request=ScoringJobWriteSerializer, responses={201: ScoringJobSerializer})
    def post(self, request, project_id: int):
        body = ScoringJobWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = scoring.scoring_job_create(
            project=self.project,
            user=request.user,
            reward_model_id=body.validated_data["reward_model"],
            batch_size=body.validated_data["batch_size"],
        )
        return Response(
            ScoringJobSerializer(job, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ScoringJobDetailView(AdminView):
    @extend_schema(responses=ScoringJobSerializer)
    def get(self, request, project_id: int, job_id: int):
        return Response(ScoringJobSerializer(_job(self.project, job_id), context={"request": request}).data)


class ScoringJobCancelView(AdminView):
    @extend_schema(request=None, responses=ScoringJobSerializer)
    def post(self, request, project_id: int, job_id: int):
        job = scoring.scoring_job_cancel(job=_job(self.project, job_id))
        return Response(ScoringJobSerializer(job, context={"request": request}).data)


def _int_param(request, name: str, required: bool = False) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise invalid("Invalid query", FieldError("is required", name))
        return None
    if not value.isdigit():
        raise invalid("Invalid query", FieldError("must be a positive integer", name))
    return int(value)


class CandidateScoreListView(AdminView):
    """One reward model's scores, by candidate id; `?task=` narrows to one task, `?after=` pages on."""

    @extend_schema(
        parameters=[
            OpenApiParameter("reward_model", int, required=True),
            OpenApiParameter("task", int),
            OpenApiParameter("after", int, description="candidate id to continue after"),
        ],
        responses=CandidateScoreSerializer(many=True),
    )
    def get(self, request, project_id: int):
        rows = CandidateScore.objects.filter(
            reward_model_id=_int_param(request, "reward_model", required=True),
            reward_model__project=self.project,
        ).select_related("candidate")
        task = _int_param(request, "task")
        if task is not None:
            rows = rows.filter(candidate__tasks__id=task)
        after = _int_param(request, "after")
        if after is not None:
            rows = rows.filter(candidate_id__gt=after)
        rows = rows.order_by("candidate_id")[:SCORES_PAGE]
        return Response(CandidateScoreSerializer(rows, many=True).data)


class ModelBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RMAgreementSerializer(serializers.Serializer):
    reward_model = ModelBriefSerializer()
    since = serializers.DateTimeField(help_text="When the model was trained (or registered).")
    accuracy = serializers.FloatField(allow_null=True)
    pairs = serializers.IntegerField()
    rankings = serializers.IntegerField()
    unscored_pairs = serializers.IntegerField()
    new_rankings = serializers.IntegerField()
    rankings_before = serializers.IntegerField()
    retrain = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class RMAgreementListSerializer(serializers.Serializer):
    models = RMAgreementSerializer(many=True)


class RoundModelSerializer(ModelBriefSerializer):
    kind = serializers.CharField()


class RoundRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)
    model = RoundModelSerializer(allow_null=True, help_text="The model the run produced, if any.")


class RoundSnapshotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()


class RoundRankingSnapshotSerializer(RoundSnapshotSerializer):
    runs = RoundRunSerializer(many=True)


class SamplingLineageSerializer(serializers.Serializer):
    model = RoundModelSerializer(help_text="The generation job's model.")
    run = RoundRunSerializer(allow_null=True)
    snapshot = RoundSnapshotSerializer(allow_null=True)


class RoundGenerationJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    prompts_total = serializers.IntegerField()
    prompts_done = serializers.IntegerField()


class RoundJudgeSerializer(RoundModelSerializer):
    accuracy = serializers.FloatField(allow_null=True)
    pairs = serializers.IntegerField()
    unscored_pairs = serializers.IntegerField()


class RoundSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    sampling = SamplingLineageSerializer()
    generation_job = RoundGenerationJobSerializer()
    tasks = serializers.IntegerField()
    ranked_tasks = serializers.IntegerField()
    rankings = serializers.IntegerField()
    first_ranking_at = serializers.DateTimeField(allow_null=True)
    snapshots = RoundRankingSnapshotSerializer(many=True)
    reward_model = RoundJudgeSerializer(
        allow_null=True, help_text="The reward model in use when the round was ranked, and its agreement."
    )


class RoundListSerializer(serializers.Serializer):
    rounds = RoundSerializer(many=True)


class RMAgreementView(ReviewerView):
    """The newest reward models' agreement with rankings made after they were trained; `retrain` hints."""

    @extend_schema(responses=RMAgreementListSerializer)
    def get(self, request, project_id: int):
        return Response({"models": project_rm_agreement(self.project.pk)})


class RoundsView(ReviewerView):
    """The project's rounds: sampling model and its lineage, generation job, rankings, snapshots, runs."""

    @extend_schema(responses=RoundListSerializer)
    def get(self, request, project_id: int):
        return Response({"rounds": project_rounds(self.project.pk)})
