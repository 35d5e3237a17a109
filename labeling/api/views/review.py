"""Reviewers accept or reject demonstrations and dialogues, and may undo a decision shortly after."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api import serializers as s
from labeling.api.permissions import Authenticated, project_for_request
from labeling.models import Demonstration, Dialogue, Review, Role
from labeling.services.reviews import demonstration_review, dialogue_review, review_undo


class ReviewView(APIView):
    permission_classes = [Authenticated]

    @extend_schema(request=s.ReviewWriteSerializer, responses={201: s.ReviewSerializer})
    def post(self, request, demonstration_id: int):
        demonstration = get_object_or_404(Demonstration.objects.select_related("task"), pk=demonstration_id)
        # The demonstration's project decides: 404 to non-members, 403 to labelers.
        project_for_request(request, demonstration.task.project_id, Role.REVIEWER)
        body = s.ReviewWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = demonstration_review(
            reviewer=request.user, demonstration=demonstration, **body.validated_data
        )
        return Response(s.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class DialogueReviewView(APIView):
    permission_classes = [Authenticated]

    @extend_schema(request=s.ReviewWriteSerializer, responses={201: s.ReviewSerializer})
    def post(self, request, dialogue_id: int):
        dialogue = get_object_or_404(Dialogue.objects.select_related("task"), pk=dialogue_id)
        # The dialogue's project decides: 404 to non-members, 403 to labelers.
        project_for_request(request, dialogue.task.project_id, Role.REVIEWER)
        body = s.ReviewWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = dialogue_review(reviewer=request.user, dialogue=dialogue, **body.validated_data)
        return Response(s.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewUndoView(APIView):
    """Undo a review (see `services.reviews.review_undo`): 403 to anyone but its reviewer, 409 once it is too late
    or something has followed it; the work is pending review again."""

    permission_classes = [Authenticated]

    @extend_schema(request=None, responses={200: s.ReviewUndoneSerializer})
    def post(self, request, review_id: int):
        review = get_object_or_404(
            Review.objects.select_related("demonstration__task", "dialogue__task"), pk=review_id
        )
        annotation = review.demonstration or review.dialogue
        # The work's project decides: 404 to non-members, 403 to labelers (and then only its reviewer may undo).
        project_for_request(request, annotation.task.project_id, Role.REVIEWER)
        annotation = review_undo(reviewer=request.user, review=review)
        is_dialogue = isinstance(annotation, Dialogue)
        return Response(
            s.ReviewUndoneSerializer(
                {
                    "demonstration": None if is_dialogue else annotation.pk,
                    "dialogue": annotation.pk if is_dialogue else None,
                    "review_status": annotation.review_status,
                }
            ).data
        )
