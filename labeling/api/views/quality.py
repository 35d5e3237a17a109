"""Quality: agreement between labelers and accuracy on gold tasks, for a project's reviewers and admins."""

from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import ProjectRole
from labeling.models import Role
from labeling.services.agreement import agreement_report
from labeling.services.errors import FieldError, invalid


def _date(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise invalid("Invalid date", FieldError("must be YYYY-MM-DD", name)) from exc


class AgreementFiguresSerializer(serializers.Serializer):
    """Pairwise figures over a pool of comparisons (two labelers' rankings of one task); null: none to compare."""

    pairwise_agreement = serializers.FloatField(allow_null=True)
    kendall_tau_b = serializers.FloatField(allow_null=True)
    comparisons = serializers.IntegerField()
    answer_pairs = serializers.IntegerField()


class AgreementOverallSerializer(AgreementFiguresSerializer):
    krippendorff_alpha = serializers.FloatField(allow_null=True)
    tasks_with_several_labelers = serializers.IntegerField()
    gold_rankings = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)


class AgreementByVersionSerializer(AgreementFiguresSerializer):
    guideline_version = serializers.IntegerField()
    krippendorff_alpha = serializers.FloatField(allow_null=True)


class LabelerAgreementSerializer(AgreementFiguresSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(allow_null=True)
    rankings = serializers.IntegerField()
    krippendorff_alpha = serializers.FloatField(allow_null=True)
    gold_rankings = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_exact = serializers.FloatField(allow_null=True)


class AgreementDaySerializer(AgreementFiguresSerializer):
    day = serializers.DateField()


class AgreementReportSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    overall = AgreementOverallSerializer()
    by_guideline_version = AgreementByVersionSerializer(many=True)
    labelers = LabelerAgreementSerializer(many=True)
    trend = AgreementDaySerializer(many=True)


class AgreementView(APIView):
    """Pairwise agreement, Kendall's tau-b and Krippendorff's alpha (ordinal) overall, by guideline version,
    per labeler against the others (with gold accuracy) and per day. `?guideline_version=1,2`, `date_from`,
    `date_to` narrow the rankings considered."""

    permission_classes = [ProjectRole]
    minimum_role = Role.REVIEWER

    @extend_schema(
        parameters=[
            OpenApiParameter("guideline_version", str, description="comma-separated versions"),
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE),
        ],
        responses=AgreementReportSerializer,
    )
    def get(self, request, project_id: int):
        raw = request.query_params.get("guideline_version", "")
        try:
            versions = [int(v) for v in raw.split(",") if v.strip()]
        except ValueError as exc:
            raise invalid(
                "Invalid guideline versions", FieldError("comma-separated integers", "guideline_version")
            ) from exc
        report = agreement_report(
            project=self.project,
            guideline_versions=versions or None,
            date_from=_date(request, "date_from"),
            date_to=_date(request, "date_to"),
        )
        return Response(report)
