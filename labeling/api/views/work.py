"""The labeler's loop: next task, submit, skip; and their own assignments."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate import metrics
from labeling.api import serializers as s
from labeling.api.payloads import assignment_payload, ranking_payload
from labeling.api.permissions import Authenticated, ProjectRole, token_project_id
from labeling.models import AssignmentStatus, Role, TaskKind
from labeling.selectors import assignments_for_user, history_for_user, with_review_outcome
from labeling.services import assignment as assignment_service
from labeling.services import submission
from labeling.services.errors import FieldError, invalid


class NextAssignmentView(APIView):
    """Lease the next task in a project: 200 with the assignment, or 204 when no work is left for this labeler.

    Asking again while holding a live lease returns that lease. `?prefetch=1` asks for the task after it (one
    extra lease at most, returned again on repeat), so a client can show it at once after a submit."""

    permission_classes = [ProjectRole]
    minimum_role = Role.LABELER

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "prefetch",
                bool,
                description="Lease the task after the current one (at most one extra live lease per labeler "
                "and project; a repeat returns it again). Without a current lease, the same as without.",
            )
        ],
        responses={200: s.AssignmentSerializer, 204: OpenApiResponse(description="No work")},
    )
    def post(self, request, project_id: int):
        prefetch = request.query_params.get("prefetch", "").lower() in ("1", "true", "yes")
        assignment = assignment_service.assignment_claim_next(
            user=request.user, project=self.project, prefetch=prefetch
        )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment.task.project = self.project
        return Response(assignment_payload(assignment))


class MyAssignmentsMixin:
    def get_queryset(self):
        queryset = assignments_for_user(self.request.user).order_by("-id")
        if project_id := token_project_id(self.request):
            queryset = queryset.filter(task__project_id=project_id)
        return queryset


class AssignmentListView(generics.ListAPIView):
    """The user's own assignments, newest first (`?status=` filters), each with a snippet of its task and, when
    skipped, the reason given; each demonstration and dialogue with its review status and latest review
    (decision, comment, time; never the reviewer). A preloaded next task is left out until it is the current
    one (see `selectors.history_for_user`)."""

    permission_classes = [Authenticated]
    serializer_class = s.AssignmentHistorySerializer

    def get_queryset(self):
        queryset = history_for_user(self.request.user).order_by("-id")
        if project_id := token_project_id(self.request):
            queryset = queryset.filter(task__project_id=project_id)
        wanted = self.request.query_params.get("status")
        if wanted and wanted not in AssignmentStatus.values:
            raise invalid(
                "Invalid filter", FieldError(f"one of {', '.join(AssignmentStatus.values)}", "status")
            )
        return with_review_outcome(queryset.filter(history_status=wanted) if wanted else queryset)


class AssignmentDetailView(MyAssignmentsMixin, APIView):
    permission_classes = [Authenticated]

    @extend_schema(responses=s.AssignmentSerializer)
    def get(self, request, assignment_id: int):
        queryset = self.get_queryset().select_related("task__project", "task__prompt")
        return Response(assignment_payload(get_object_or_404(queryset, pk=assignment_id)))


# What a submit stores, by the task's kind: a ranking, a demonstration, a written prompt or a dialogue.
SUBMIT_RESULT = PolymorphicProxySerializer(
    component_name="SubmitResult",
    serializers=[
        s.RankingSerializer,
        s.LabelerDemonstrationSerializer,
        s.WrittenPromptResultSerializer,
        s.DialogueSerializer,
    ],
    resource_type_field_name=None,
)


class SubmitView(APIView):
    """Submit the work of an assignment. Idempotent by `client_id`: a repeat returns the stored annotation (200)."""

    permission_classes = [Authenticated]
    output = {
        TaskKind.RANKING: s.RankingSerializer,
        TaskKind.DEMONSTRATION: s.LabelerDemonstrationSerializer,
        TaskKind.PROMPT: s.WrittenPromptResultSerializer,
        TaskKind.DIALOGUE: s.DialogueSerializer,
    }

    @extend_schema(request=s.SubmitSerializer, responses={201: SUBMIT_RESULT, 200: SUBMIT_RESULT})
    def post(self, request, assignment_id: int):
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = submission.assignment_submit(
            user=request.user,
            assignment_id=assignment_id,
            project_id=token_project_id(request),
            blind=True,
            **body.validated_data,
        )
        kind = result.annotation.task.kind
        if result.created:
            metrics.annotation_stored(kind)
        if kind == TaskKind.RANKING:  # the hot path: hand-shaped, as the next-task answer is
            data = ranking_payload(result.annotation, for_labeler=True)
        else:
            data = self.output[kind](result.annotation).data
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class SkipView(MyAssignmentsMixin, APIView):
    permission_classes = [Authenticated]

    @extend_schema(request=s.SkipSerializer, responses=s.AssignmentBriefSerializer)
    def post(self, request, assignment_id: int):
        assignment = get_object_or_404(self.get_queryset(), pk=assignment_id)
        body = s.SkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = assignment_service.assignment_skip(
            user=request.user, assignment=assignment, reason=body.validated_data["reason"]
        )
        return Response(s.AssignmentBriefSerializer(assignment).data)
