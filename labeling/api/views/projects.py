"""Projects, members, guidelines, imports, and the admin's views of prompts, tasks and annotations."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.api import serializers as s
from labeling.api.permissions import ProjectRole, SiteStaffForWrites, token_project_id
from labeling.models import Demonstration, Guideline, Membership, Prompt, Ranking, Role, Task
from labeling.services import imports, projects
from labeling.services.errors import FieldError, invalid, size_text


class ProjectListView(APIView):
    """The projects the user belongs to (only its own through a scoped token), with how much work is waiting;
    site staff create projects."""

    permission_classes = [SiteStaffForWrites]

    @extend_schema(responses=s.ProjectSerializer(many=True))
    def get(self, request):
        rows = selectors.projects_for_user(request.user)
        if (scope := token_project_id(request)) is not None:
            rows = rows.filter(pk=scope)
        rows = list(rows)
        roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
        if request.user.is_superuser:
            roles = {p.pk: roles.get(p.pk, Role.ADMIN) for p in rows}
        return Response(s.ProjectSerializer(rows, many=True, context={"roles": roles}).data)

    @extend_schema(request=s.ProjectWriteSerializer, responses={201: s.ProjectSerializer})
    def post(self, request):
        body = s.ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = projects.project_create(creator=request.user, **body.validated_data)
        return Response(
            s.ProjectSerializer(project, context={"roles": {project.pk: Role.ADMIN}}).data,
            status=status.HTTP_201_CREATED,
        )


class ProjectDetailView(APIView):
    permission_classes = [ProjectRole]
    minimum_role = Role.LABELER
    minimum_role_by_method = {"PATCH": Role.ADMIN}

    @extend_schema(responses=s.ProjectSerializer)
    def get(self, request, project_id: int):
        data = s.ProjectSerializer(self.project, context={"roles": {self.project.pk: self.role}}).data
        data["task_counts"] = selectors.project_task_counts(self.project)
        return Response(data)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def patch(self, request, project_id: int):
        body = s.ProjectUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        project = projects.project_update(project=self.project, **body.validated_data)
        return Response(s.ProjectSerializer(project, context={"roles": {project.pk: self.role}}).data)


class MemberListView(APIView):
    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN

    @extend_schema(responses=s.MembershipSerializer(many=True))
    def get(self, request, project_id: int):
        members = Membership.objects.filter(project=self.project).select_related("user")
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(request=s.MembershipWriteSerializer, responses={201: s.MembershipSerializer})
    def post(self, request, project_id: int):
        body = s.MembershipWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=body.validated_data["username"]).first()
        if user is None:
            raise invalid("Unknown user", FieldError("no user has this username", "username"))
        membership = projects.membership_set(
            project=self.project, user=user, role=body.validated_data["role"]
        )
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN

    def _membership(self, member_id: int) -> Membership:
        return get_object_or_404(Membership, pk=member_id, project=self.project)

    @extend_schema(request=s.MembershipRoleSerializer, responses=s.MembershipSerializer)
    def patch(self, request, project_id: int, member_id: int):
        body = s.MembershipRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = self._membership(member_id)
        membership = projects.membership_set(
            project=self.project, user=membership.user, role=body.validated_data["role"]
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, project_id: int, member_id: int):
        projects.membership_remove(membership=self._membership(member_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GuidelineListView(APIView):
    permission_classes = [ProjectRole]
    minimum_role = Role.LABELER
    minimum_role_by_method = {"POST": Role.ADMIN}

    @extend_schema(responses=s.GuidelineSerializer(many=True))
    def get(self, request, project_id: int):
        rows = (
            Guideline.objects.filter(project=self.project).select_related("created_by").order_by("-version")
        )
        return Response(s.GuidelineSerializer(rows, many=True).data)

    @extend_schema(request=s.GuidelineWriteSerializer, responses={201: s.GuidelineSerializer})
    def post(self, request, project_id: int):
        body = s.GuidelineWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        guideline = projects.guideline_publish(
            project=self.project, author=request.user, **body.validated_data
        )
        return Response(s.GuidelineSerializer(guideline).data, status=status.HTTP_201_CREATED)


class GuidelineCurrentView(APIView):
    permission_classes = [ProjectRole]
    minimum_role = Role.LABELER

    @extend_schema(responses=s.GuidelineSerializer)
    def get(self, request, project_id: int):
        return Response(s.GuidelineSerializer(selectors.guideline_current(self.project)).data)


class GuidelineVersionView(APIView):
    """One guideline version, read-only: for the project's members (labelers included), as versions are compared."""

    permission_classes = [ProjectRole]
    minimum_role = Role.LABELER

    @extend_schema(responses=s.GuidelineSerializer)
    def get(self, request, project_id: int, version: int):
        return Response(s.GuidelineSerializer(selectors.guideline_version(self.project, version)).data)


class GuidelineUsageSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    rankings = serializers.IntegerField()
    demonstrations = serializers.IntegerField()
    written_prompts = serializers.IntegerField()


class GuidelineUsageView(APIView):
    """How many annotations of each kind were made under each guideline version, newest version first."""

    permission_classes = [ProjectRole]
    minimum_role = Role.REVIEWER

    @extend_schema(responses=GuidelineUsageSerializer(many=True))
    def get(self, request, project_id: int):
        return Response(GuidelineUsageSerializer(selectors.guideline_usage(self.project), many=True).data)


class ImportView(APIView):
    """Upload prompts (JSONL or CSV) or ranking items (JSONL). All-or-nothing; errors name each line and field."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=s.ImportRequestSerializer, responses={201: s.ImportResultSerializer})
    def post(self, request, project_id: int):
        body = s.ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        limit = imports.settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise invalid(
                f"The file has {upload.size:,} bytes; the import limit is {size_text(limit)} ({limit:,} bytes).",
                code="too_large",
            )
        result = imports.import_file(
            project=self.project,
            user=request.user,
            data=upload.read(),
            kind=body.validated_data["kind"],
            fmt=body.validated_data["format"],
            create_tasks=body.validated_data["create_tasks"],
        )
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class _ProjectListBase(generics.ListAPIView):
    permission_classes = [ProjectRole]
    minimum_role = Role.REVIEWER
    # Only these query parameters filter; anything else is ignored, so no field of another user can be probed.
    filter_fields: tuple[str, ...] = ()

    def filtered(self, queryset):
        for name in self.filter_fields:
            value = self.request.query_params.get(name)
            if value not in (None, ""):
                queryset = queryset.filter(**{name: self._filter_value(queryset, name, value)})
        return queryset

    @staticmethod
    def _filter_value(queryset, name: str, value: str):
        """The value as the field's type; a value the field cannot hold is a 400 naming the filter, not a 500."""
        try:
            if "\x00" in value:
                raise ValueError("NUL characters are not allowed")
            return queryset.model._meta.get_field(name).to_python(value)
        except (DjangoValidationError, ValueError, TypeError) as exc:
            detail = "; ".join(exc.messages) if isinstance(exc, DjangoValidationError) else str(exc)
            raise invalid("Invalid filter", FieldError(detail, name)) from exc


class PromptListView(_ProjectListBase):
    serializer_class = s.PromptSerializer
    filter_fields = ("source",)

    def get_queryset(self):
        return self.filtered(Prompt.objects.filter(project=self.project).order_by("id"))


class TaskListView(_ProjectListBase):
    serializer_class = s.TaskAdminSerializer
    filter_fields = ("status", "kind", "is_gold")

    def get_queryset(self):
        return self.filtered(Task.objects.filter(project=self.project).order_by("id"))


class RankingListView(_ProjectListBase):
    serializer_class = s.RankingSerializer
    filter_fields = ("task", "user")

    def get_queryset(self):
        return self.filtered(
            Ranking.objects.filter(task__project=self.project).select_related("guideline").order_by("id")
        )


class DemonstrationListView(_ProjectListBase):
    serializer_class = s.DemonstrationForReviewSerializer
    filter_fields = ("review_status", "task", "user")

    def get_queryset(self):
        return self.filtered(
            Demonstration.objects.filter(task__project=self.project)
            .select_related("guideline", "task__prompt", "user")
            .order_by("id")
        )
