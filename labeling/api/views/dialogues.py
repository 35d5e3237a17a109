"""Dialogue tasks: admins open them (blank, or seeded with prompts); reviewers and admins list the dialogues."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api import serializers as s
from labeling.api.permissions import ProjectRole
from labeling.api.views.projects import _ProjectListBase
from labeling.models import Dialogue, Role
from labeling.services.dialogues import dialogue_tasks_open


class DialogueTasksView(APIView):
    """Open dialogue tasks: `count` blank ones, or one per prompt of `prompt_ids` (its turns as the opening)."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN

    @extend_schema(request=s.DialogueTasksOpenSerializer, responses={201: s.TaskAdminSerializer(many=True)})
    def post(self, request, project_id: int):
        body = s.DialogueTasksOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tasks = dialogue_tasks_open(project=self.project, **body.validated_data)
        return Response(s.TaskAdminSerializer(tasks, many=True).data, status=status.HTTP_201_CREATED)


class DialogueListView(_ProjectListBase):
    serializer_class = s.DialogueForReviewSerializer
    filter_fields = ("review_status", "task", "user")

    def get_queryset(self):
        return self.filtered(
            Dialogue.objects.filter(task__project=self.project)
            .select_related("guideline", "user")
            .order_by("id")
        )
