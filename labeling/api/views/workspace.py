"""What the browser workspace needs beyond the labeling loop: drafts, the labeler's figures, revising past work."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api import serializers as s
from labeling.api.payloads import ranking_payload
from labeling.api.permissions import Authenticated, ProjectRole, token_project_id
from labeling.models import Demonstration, Dialogue, Ranking, Role, TaskKind, TaskStatus
from labeling.selectors import annotation_for_assignment, assignments_for_user, draft_for, labeler_stats
from labeling.services.drafts import draft_save
from labeling.services.errors import not_found
from labeling.services.revisions import annotation_revise


class DraftSerializer(serializers.Serializer):
    payload = serializers.JSONField()
    updated_at = serializers.DateTimeField(read_only=True)


class DraftView(APIView):
    """The assignee's draft of an assignment: GET (404 when none), PUT to replace it. Nobody else's."""

    permission_classes = [Authenticated]

    def _assignment(self, request, assignment_id: int):
        queryset = assignments_for_user(request.user)
        if project_id := token_project_id(request):
            queryset = queryset.filter(task__project_id=project_id)
        return get_object_or_404(queryset, pk=assignment_id)

    @extend_schema(responses=DraftSerializer)
    def get(self, request, assignment_id: int):
        assignment = self._assignment(request, assignment_id)
        draft = draft_for(request.user, assignment.pk)
        if draft is None:
            raise not_found("No draft.")
        return Response(DraftSerializer(draft).data)

    @extend_schema(request=DraftSerializer, responses=DraftSerializer)
    def put(self, request, assignment_id: int):
        assignment = self._assignment(request, assignment_id)
        body = DraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft = draft_save(user=request.user, assignment=assignment, payload=body.validated_data["payload"])
        return Response(DraftSerializer(draft).data)


class MyStatsSerializer(serializers.Serializer):
    submitted_today = serializers.IntegerField()
    skipped_today = serializers.IntegerField()
    submitted_total = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    tasks_left = serializers.IntegerField(
        help_text="Open tasks of the kinds served now that this labeler has neither submitted nor skipped."
    )
    tasks_total = serializers.IntegerField(help_text="Tasks of the kinds served now, in any state.")


class MyStatsView(APIView):
    """The signed-in labeler's own figures in a project: today's count, median time per task, tasks left."""

    permission_classes = [ProjectRole]
    minimum_role = Role.LABELER

    @extend_schema(responses=MyStatsSerializer)
    def get(self, request, project_id: int):
        return Response(labeler_stats(request.user, self.project))


class MyRankingSerializer(s.RankingSerializer):
    task_open = serializers.BooleanField(help_text="Whether the task is still open, i.e. can be revised.")

    class Meta(s.RankingSerializer.Meta):
        fields = [*s.RankingSerializer.Meta.fields, "task_open"]


class MyDemonstrationSerializer(s.LabelerDemonstrationSerializer):
    task_open = serializers.BooleanField(help_text="Whether the task is still open, i.e. can be revised.")

    class Meta(s.LabelerDemonstrationSerializer.Meta):
        fields = [*s.LabelerDemonstrationSerializer.Meta.fields, "task_open"]


class MyDialogueSerializer(s.DialogueSerializer):
    task_open = serializers.BooleanField(help_text="Whether the task is still open, i.e. can be revised.")

    class Meta(s.DialogueSerializer.Meta):
        fields = [*s.DialogueSerializer.Meta.fields, "task_open"]


# The labeler's own annotation, by the task's kind (schema only: `labeler_view` shapes the data).
MY_ANNOTATION = PolymorphicProxySerializer(
    component_name="MyAnnotation",
    serializers=[MyRankingSerializer, MyDemonstrationSerializer, MyDialogueSerializer],
    resource_type_field_name=None,
)
REVISED_ANNOTATION = PolymorphicProxySerializer(
    component_name="RevisedAnnotation",
    serializers=[s.RankingSerializer, s.LabelerDemonstrationSerializer, s.DialogueSerializer],
    resource_type_field_name=None,
)


def labeler_view(annotation: Ranking | Demonstration | Dialogue) -> dict:
    """The user's own annotation as they made it: a ranking names its answers by the labeler's ids."""
    if isinstance(annotation, Ranking):
        return ranking_payload(annotation, for_labeler=True)
    return MyAnnotationView.output[annotation.task.kind](annotation).data


class MyAnnotationView(APIView):
    """GET the ranking or demonstration the user submitted on their assignment (404 when none); POST `revise/`
    replaces it while the task is still open, keeping the earlier version for audit."""

    permission_classes = [Authenticated]
    output = {  # a ranking is shaped by `ranking_payload` (labeler_view)
        TaskKind.DEMONSTRATION: s.LabelerDemonstrationSerializer,
        TaskKind.DIALOGUE: s.DialogueSerializer,
    }

    @extend_schema(responses=MY_ANNOTATION)
    def get(self, request, assignment_id: int):
        assignment = DraftView()._assignment(request, assignment_id)
        annotation = annotation_for_assignment(request.user, assignment)
        if annotation is None:
            raise not_found("Nothing submitted on this assignment.")
        data = labeler_view(annotation)
        return Response({**data, "task_open": assignment.task.status == TaskStatus.OPEN})


class ReviseView(APIView):
    permission_classes = [Authenticated]

    @extend_schema(request=s.SubmitSerializer, responses=REVISED_ANNOTATION)
    def post(self, request, assignment_id: int):
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        annotation = annotation_revise(
            user=request.user,
            assignment_id=assignment_id,
            project_id=token_project_id(request),
            blind=True,
            **body.validated_data,
        )
        return Response(labeler_view(annotation))
