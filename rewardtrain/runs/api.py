"""Registered models and training runs, for project admins: start a run, watch it, cancel it, trace it."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling.api.typed_json import NumbersField, ObjectField
from rewardtrain.api.base import AdminView, ErrorDetailField
from rewardtrain.runs import services
from rewardtrain.runs.artifacts import ModelRef, model_root_names
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunKind, RunMetric, TrainingRun
from rewardtrain.runs.options import run_options
from rewardtrain.runs.selectors import get_run, run_lineage, run_warnings


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
    metrics = RunMetricSerializer(many=True, read_only=True, help_text="Oldest first; `?after=` only newer.")

    class Meta(TrainingRunSerializer.Meta):
        fields = [*TrainingRunSerializer.Meta.fields, "metrics"]


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
        )
        return Response(
            TrainingRunSerializer(run, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class TrainingRunDetailView(AdminView):
    """The run with its metrics; `?after=<metric id>` returns only newer metrics, for live curves."""

    @extend_schema(responses=TrainingRunDetailSerializer)
    def get(self, request, project_id: int, run_id: int):
        run = get_run(self.project, run_id)
        metrics = run.metrics.all()
        after = request.query_params.get("after")
        if after and after.isdigit():
            metrics = metrics.filter(pk__gt=int(after))
        data = TrainingRunSerializer(run, context={"request": request}).data
        data["metrics"] = RunMetricSerializer(metrics, many=True).data
        return Response(data)


class TrainingRunCancelView(AdminView):
    @extend_schema(request=None, responses=TrainingRunSerializer)
    def post(self, request, project_id: int, run_id: int):
        run = services.training_run_cancel(run=get_run(self.project, run_id))
        return Response(TrainingRunSerializer(run, context={"request": request}).data)


class TrainingRunLineageView(AdminView):
    @extend_schema(responses=RunLineageSerializer)
    def get(self, request, project_id: int, run_id: int):
        return Response(run_lineage(get_run(self.project, run_id)))
