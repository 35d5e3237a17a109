"""Suggestions for a demonstration: the assignee asks (POST, 202) and polls (GET). Nobody else sees them."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import Authenticated, token_project_id
from labeling.api.query import query_id
from labeling.models import Suggestion
from rewardtrain.suggestions.selectors import suggestion_for
from rewardtrain.suggestions.services import suggestion_request


class SuggestionSerializer(serializers.ModelSerializer):
    """For the labeler: which model wrote it is left out (the demonstration keeps it for admins)."""

    class Meta:
        model = Suggestion
        fields = ["id", "assignment", "status", "text", "error", "created_at", "finished_at"]


class SuggestionView(APIView):
    """POST queues a suggestion from the project's current SFT model (202; a pending one is returned again,
    200); GET returns the newest (or `?id=`) with its status, `pending` until a `gpu` worker has sampled it.
    Only the assignment's own labeler; anyone else gets 404."""

    permission_classes = [Authenticated]

    @extend_schema(request=None, responses={202: SuggestionSerializer, 200: SuggestionSerializer})
    def post(self, request, assignment_id: int):
        suggestion, created = suggestion_request(
            user=request.user,
            assignment_id=assignment_id,
            project_id=token_project_id(request),
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(SuggestionSerializer(suggestion).data, status=code)

    @extend_schema(
        parameters=[OpenApiParameter("id", int, description="A given suggestion; the newest by default.")],
        responses=SuggestionSerializer,
    )
    def get(self, request, assignment_id: int):
        suggestion = suggestion_for(
            user=request.user,
            assignment_id=assignment_id,
            suggestion_id=query_id(request, "id"),
            project_id=token_project_id(request),
        )
        return Response(SuggestionSerializer(suggestion).data)
