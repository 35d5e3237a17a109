"""The model-side API for project admins: registered models and training runs (start a run, watch it, cancel
it, trace it), scoring jobs and reward scores; for reviewers and admins, the reward model's agreement with new
rankings and the rounds timeline. Scores are for project admins only (labelers must never see how a model rated
an answer).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling.api.query import query_id
from labeling.api.typed_json import NumbersField, ObjectField
from rewardtrain.api_base import AdminView, ErrorDetailField, ReviewerView
from rewardtrain.runs import scoring, services
from rewardtrain.runs.artifacts import ModelRef, model_root_names
from rewardtrain.runs.models import (
    CandidateScore,
    ModelKind,
    RegisteredModel,
    RunKind,
    RunMetric,
    ScoringJob,
    TrainingRun,
)
from rewardtrain.runs.options import run_options
from rewardtrain.runs.rm_agreement import project_rm_agreement
from rewardtrain.runs.rounds import project_rounds
from rewardtrain.runs.selectors import get_run, get_scoring_job, run_lineage, run_warnings
from rewardtrain.runs.win_rates import project_win_rates

SCORES_PAGE = 1000
SAMPLES = "samples"  # the RunMetric kind of an RL run's answer tables


class RegisteredModelSerializer(serializers.ModelSerializer):
    reference = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "id",
            "name",
            "kind",
            "source",
            "root",
            "path",
            "gguf_file",
            "reference",
            "produced_by",
            "created_at",
        ]

    def get_reference(self, model: RegisteredModel) -> str:
        return str(ModelRef.of(model))


class RegisteredModelWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ModelKind.values)
    root = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A model root of the operator's (see model-roots/); blank: `path` is a hub name.",
    )
    path = serializers.CharField(
        max_length=1000, help_text="A hub name (owner/name), or a directory relative to `root`."
    )
    gguf_file = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ModelRootSerializer(serializers.Serializer):
    name = serializers.CharField()


class TrainingRunSerializer(serializers.ModelSerializer):
    error_detail = ErrorDetailField()
    hyperparams = ObjectField()
    last_metrics = NumbersField()
    final_metrics = NumbersField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "kind",
            "snapshot",
            "base_model",
            "reward_model",
            "hyperparams",
            "gpus",
            "status",
            "cancel_requested",
            "attempts",
            "step",
            "total_steps",
            "last_metrics",
            "final_metrics",
            "error",
            "error_detail",
            "warnings",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(
        serializers.ListField(
            child=serializers.CharField(), help_text="What the admin should know, e.g. no validation data."
        )
    )
    def get_warnings(self, run: TrainingRun) -> list[str]:
        return run_warnings(run)


class TrainingRunWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RunKind.values)
    snapshot = serializers.IntegerField()
    base_model = serializers.IntegerField()
    reward_model = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="rl runs: the registered reward model (kind rm) the policy is optimised against.",
    )
    hyperparams = serializers.DictField(required=False, default=dict)
    gpus = serializers.IntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=64,
        help_text="GPUs (processes) to train on; above 1, a torchrun process group on one gpu worker.",
    )


class RunMetricSerializer(serializers.ModelSerializer):
    values = NumbersField()

    class Meta:
        model = RunMetric
        fields = ["id", "kind", "step", "values", "created_at"]


class TrainingRunDetailSerializer(TrainingRunSerializer):
    metrics = RunMetricSerializer(
        many=True,
        read_only=True,
        help_text="Oldest first; `?after=` only newer. RL answer tables are served by samples/.",
    )

    class Meta(TrainingRunSerializer.Meta):
        fields = [*TrainingRunSerializer.Meta.fields, "metrics"]


class RunSampleRowSerializer(serializers.Serializer):
    """One sampled answer of an RL step, as text (never rendered as HTML)."""

    prompt = serializers.CharField(help_text="The prompt, one `role: content` line per message.")
    prompt_id = serializers.IntegerField(required=False, allow_null=True)
    answer = serializers.CharField(allow_blank=True)
    reward = serializers.FloatField(allow_null=True, help_text="The reward model's score.")
    total_reward = serializers.FloatField(
        allow_null=True, help_text="Score - beta * KL (- missing-EOS penalty)."
    )
    kl = serializers.FloatField(allow_null=True, help_text="KL of the answer to the reference model (nats).")
    length = serializers.IntegerField(help_text="Answer tokens.")
    ended = serializers.BooleanField(help_text="False: cut off by max_new_tokens.")


class RunSampleTableSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    step = serializers.IntegerField()
    rows = RunSampleRowSerializer(many=True, source="values.rows")


class LineageModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    path = serializers.CharField()


class LineageRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    hyperparams = serializers.DictField()


class LineageSnapshotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    params = serializers.DictField()
    manifest = serializers.DictField()


class RunLineageSerializer(serializers.Serializer):
    model = LineageModelSerializer(allow_null=True, help_text="The model the run produced, if any.")
    run = LineageRunSerializer()
    base_model = LineageModelSerializer()
    reward_model = LineageModelSerializer(
        allow_null=True, help_text="RL runs: the reward model the policy was optimised against."
    )
    snapshot = LineageSnapshotSerializer()


class HyperparamFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["boolean", "integer", "number", "string"])
    nullable = serializers.BooleanField(help_text="Null (the default) lets the trainer decide.")
    default = serializers.JSONField(allow_null=True)
    common = serializers.BooleanField(help_text="Shown as a form field; the others as advanced JSON.")
    help = serializers.CharField(allow_blank=True)


class RunOptionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RunKind.choices)
    label = serializers.CharField()
    snapshot_kinds = serializers.ListField(child=serializers.CharField())
    base_model_kinds = serializers.ListField(
        child=serializers.CharField(),
        help_text="The model kinds a run of this kind may start from, best first; others are refused.",
    )
    reward_model_kinds = serializers.ListField(
        child=serializers.CharField(),
        help_text="Non-empty: the run needs a reward model of one of these kinds (rl: rm).",
    )
    hyperparams = HyperparamFieldSerializer(many=True)


class RunOptionsView(AdminView):
    """Per run kind: the snapshot and base-model kinds it takes and its hyper-parameters with their defaults."""

    @extend_schema(responses=RunOptionSerializer(many=True))
    def get(self, request, project_id: int):
        return Response(RunOptionSerializer(run_options(), many=True).data)


class RegisteredModelListView(AdminView):
    @extend_schema(responses=RegisteredModelSerializer(many=True))
    def get(self, request, project_id: int):
        rows = RegisteredModel.objects.filter(project=self.project)
        return Response(RegisteredModelSerializer(rows, many=True).data)

    @extend_schema(request=RegisteredModelWriteSerializer, responses={201: RegisteredModelSerializer})
    def post(self, request, project_id: int):
        body = RegisteredModelWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = services.registered_model_create(
            project=self.project, user=request.user, **body.validated_data
        )
        return Response(RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelRootListView(AdminView):
    """The operator's model roots an admin may register models from: names only, never their host paths."""

    @extend_schema(responses=ModelRootSerializer(many=True))
    def get(self, request, project_id: int):
        return Response([{"name": name} for name in model_root_names()])


class TrainingRunListView(AdminView):
    @extend_schema(responses=TrainingRunSerializer(many=True))
    def get(self, request, project_id: int):
        rows = TrainingRun.objects.filter(project=self.project).select_related("snapshot")
        return Response(TrainingRunSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(request=TrainingRunWriteSerializer, responses={201: TrainingRunSerializer})
    def post(self, request, project_id: int):
        body = TrainingRunWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        run = services.training_run_create(
            project=self.project,
            user=request.user,
            kind=data["kind"],
            snapshot_id=data["snapshot"],
            base_model_id=data["base_model"],
            hyperparams=data["hyperparams"],
            gpus=data["gpus"],
            reward_model_id=data["reward_model"],
        )
        return Response(
            TrainingRunSerializer(run, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class TrainingRunDetailView(AdminView):
    """The run with its metrics; `?after=<metric id>` returns only newer metrics, for live curves."""

    @extend_schema(responses=TrainingRunDetailSerializer)
    def get(self, request, project_id: int, run_id: int):
        run = get_run(self.project, run_id)
        metrics = run.metrics.exclude(kind=SAMPLES)
        after = query_id(request, "after")
        if after is not None:
            metrics = metrics.filter(pk__gt=after)
        data = TrainingRunSerializer(run, context={"request": request}).data
        data["metrics"] = RunMetricSerializer(metrics, many=True).data
        return Response(data)


class TrainingRunSamplesView(AdminView):
    """An RL run's tables of sampled answers (every `sample_every` steps), oldest first; `?after=<id>` returns
    only newer ones, for the live page."""

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="table id to continue after")],
        responses=RunSampleTableSerializer(many=True),
    )
    def get(self, request, project_id: int, run_id: int):
        run = get_run(self.project, run_id)
        tables = run.metrics.filter(kind=SAMPLES)
        after = query_id(request, "after")
        if after is not None:
            tables = tables.filter(pk__gt=after)
        return Response(RunSampleTableSerializer(tables, many=True).data)


class TrainingRunCancelView(AdminView):
    @extend_schema(request=None, responses=TrainingRunSerializer)
    def post(self, request, project_id: int, run_id: int):
        run = services.training_run_cancel(run=get_run(self.project, run_id))
        return Response(TrainingRunSerializer(run, context={"request": request}).data)


class TrainingRunLineageView(AdminView):
    @extend_schema(responses=RunLineageSerializer)
    def get(self, request, project_id: int, run_id: int):
        return Response(run_lineage(get_run(self.project, run_id)))


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
        return Response(
            ScoringJobSerializer(get_scoring_job(self.project, job_id), context={"request": request}).data
        )


class ScoringJobCancelView(AdminView):
    @extend_schema(request=None, responses=ScoringJobSerializer)
    def post(self, request, project_id: int, job_id: int):
        job = scoring.scoring_job_cancel(job=get_scoring_job(self.project, job_id))
        return Response(ScoringJobSerializer(job, context={"request": request}).data)


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
            reward_model_id=query_id(request, "reward_model", required=True),
            reward_model__project=self.project,
        ).select_related("candidate")
        task = query_id(request, "task")
        if task is not None:
            rows = rows.filter(candidate__tasks__id=task)
        after = query_id(request, "after")
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


class WinRateModelSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The registered model; null for a name only.")
    name = serializers.CharField()


class WinRateStatsSerializer(serializers.Serializer):
    wins = serializers.IntegerField()
    ties = serializers.IntegerField()
    losses = serializers.IntegerField()
    comparisons = serializers.IntegerField(help_text="Cross-model answer pairs judged (see win_rates.py).")
    rankings = serializers.IntegerField()
    win_rate = serializers.FloatField(help_text="Human win rate of A over B: (wins + ties/2) / comparisons.")
    low = serializers.FloatField(help_text="95% Wilson score interval, lower bound.")
    high = serializers.FloatField(help_text="95% Wilson score interval, upper bound.")
    rm_win_rate = serializers.FloatField(
        allow_null=True, help_text="Mean sigmoid(score_A - score_B) over the scored comparisons."
    )
    rm_comparisons = serializers.IntegerField()


class WinRateVersionSerializer(WinRateStatsSerializer):
    guideline_version = serializers.IntegerField()


class WinRatePairSerializer(WinRateStatsSerializer):
    model_a = WinRateModelSerializer()
    model_b = WinRateModelSerializer()
    by_guideline = WinRateVersionSerializer(many=True)


class WinRateRoundSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    generation_job = serializers.IntegerField()
    pairs = WinRatePairSerializer(many=True)


class WinRatesSerializer(serializers.Serializer):
    reward_model = ModelBriefSerializer(
        allow_null=True, help_text="The reward model whose predicted win rates are given."
    )
    overall = WinRatePairSerializer(many=True)
    rounds = WinRateRoundSerializer(many=True)


class WinRatesView(AdminView):
    """Human win rates between the models ranked side by side, per round and overall, with the reward model's
    predicted win rate on the same comparisons (`?reward_model=`: which one; default the newest that scored
    them). For project admins: it names the models behind the answers."""

    @extend_schema(
        parameters=[OpenApiParameter("reward_model", int, required=False)], responses=WinRatesSerializer
    )
    def get(self, request, project_id: int):
        chosen = query_id(request, "reward_model")
        return Response(WinRatesSerializer(project_win_rates(self.project.pk, chosen)).data)
