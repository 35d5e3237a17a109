"""Reviewers accept or reject demonstrations and dialogues."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api import serializers as s
from labeling.api.permissions import Authenticated, project_for_request
from labeling.models import Demonstration, Dialogue, Role
from labeling.services.reviews import demonstration_review, dialogue_review


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
