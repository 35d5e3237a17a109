"""The snapshot API: create, list and describe snapshots, download their files, page through their records.

Snapshots hold every label of a project, so only project admins reach them, plus scripts of ML engineers: a
token scoped to the project whose holder is a member with at least the reviewer role. A labeler is refused
even with a scoped token (any member can create one). Non-members get 404, members without access 403, and a
token scoped to another project 404, as everywhere in the API. The snapshot settings are checked by the service
(`snapshot_params_from`); `SnapshotSettingsSerializer` documents them.
"""

from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate import storage
from labeling.api.permissions import ROLE_RANK, ProjectRole, project_for_request
from labeling.api.query import query_id
from labeling.models import ApiToken, Role
from labeling.services.errors import invalid
from rewardtrain.api_base import ErrorDetailField
from rewardtrain.params import FORMATS, LABELER_MODES, SFT_STATUSES
from rewardtrain.snapshots import selectors
from rewardtrain.snapshots.models import Snapshot, SnapshotDownload, SnapshotKind
from rewardtrain.snapshots.services import snapshot_create, snapshot_download_log


class SnapshotReader(BasePermission):
    """Project admins, or a token scoped to the project whose holder is a reviewer or admin there."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        project, role = project_for_request(request, int(view.kwargs["project_id"]), Role.LABELER)
        scoped = isinstance(request.auth, ApiToken) and request.auth.project_id == project.pk
        if role != Role.ADMIN and not (scoped and ROLE_RANK[role] >= ROLE_RANK[Role.REVIEWER]):
            raise PermissionDenied(
                f"Snapshots of project '{project.slug}' are for its admins, or for a token scoped to it."
            )
        view.project, view.role = project, role
        return True


class SnapshotSettingsSerializer(serializers.Serializer):
    """Documents the settings of a new snapshot (the service checks them and names every bad field)."""

    kind = serializers.ChoiceField(choices=SnapshotKind.choices)
    format = serializers.ChoiceField(choices=FORMATS, required=False)
    labelers_mode = serializers.ChoiceField(choices=LABELER_MODES, required=False)
    aggregate = serializers.BooleanField(required=False)
    sft_statuses = serializers.ListField(child=serializers.ChoiceField(choices=SFT_STATUSES), required=False)
    min_edit_ratio = serializers.FloatField(required=False, allow_null=True)
    guideline_versions = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True
    )
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)
    labelers = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    min_agreement = serializers.FloatField(required=False, allow_null=True)
    min_gold_accuracy = serializers.FloatField(required=False, allow_null=True)
    exclude_flags = serializers.ListField(child=serializers.CharField(), required=False)
    include_gold = serializers.BooleanField(required=False)
    validation_fraction = serializers.FloatField(required=False)
    seed = serializers.IntegerField(required=False)


class SplitCountsSerializer(serializers.Serializer):
    records = serializers.IntegerField()
    prompts = serializers.IntegerField()


class SnapshotSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", default=None, read_only=True, allow_null=True
    )
    counts = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    error_detail = ErrorDetailField()

    class Meta:
        model = Snapshot
        fields = [
            "id",
            "project",
            "version",
            "kind",
            "status",
            "error",
            "error_detail",
            "params",
            "counts",
            "files",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.DictField(child=SplitCountsSerializer(), help_text="By split."))
    def get_counts(self, snapshot: Snapshot) -> dict:
        splits = snapshot.manifest.get("splits", {})
        return {name: {"records": s["records"], "prompts": s["prompts"]} for name, s in splits.items()}

    @extend_schema_field(
        serializers.ListField(
            child=serializers.CharField(),
            help_text="Files to offer for download (files/<name>): those of non-empty splits, then the manifest; "
            "empty until the snapshot is ready.",
        )
    )
    def get_files(self, snapshot: Snapshot) -> list[str]:
        return selectors.snapshot_downloads(snapshot)


class SnapshotDetailSerializer(SnapshotSerializer):
    class Meta(SnapshotSerializer.Meta):
        fields = [*SnapshotSerializer.Meta.fields, "manifest"]


class SnapshotDownloadSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    token = serializers.CharField(source="token.prefix", default=None, read_only=True)
    snapshot_version = serializers.IntegerField(source="snapshot.version", read_only=True)

    class Meta:
        model = SnapshotDownload
        fields = [
            "id",
            "snapshot",
            "snapshot_version",
            "file_name",
            "user",
            "username",
            "token",
            "created_at",
        ]


class RecordsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    split = serializers.CharField()
    offset = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True)
    results = serializers.ListField(child=serializers.DictField())


class SnapshotListView(APIView):
    permission_classes = [SnapshotReader]

    @extend_schema(responses=SnapshotSerializer(many=True))
    def get(self, request, project_id: int):
        return Response(
            SnapshotSerializer(
                selectors.snapshots_for_project(self.project), many=True, context={"request": request}
            ).data
        )

    @extend_schema(request=SnapshotSettingsSerializer, responses={202: SnapshotSerializer})
    def post(self, request, project_id: int):
        if not isinstance(request.data, dict):
            raise invalid("The body must be a JSON object of snapshot settings.")
        snapshot = snapshot_create(project=self.project, user=request.user, settings_data=dict(request.data))
        return Response(
            SnapshotSerializer(snapshot, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class SnapshotDetailView(APIView):
    permission_classes = [SnapshotReader]

    @extend_schema(responses=SnapshotDetailSerializer)
    def get(self, request, project_id: int, snapshot_id: int):
        snapshot = selectors.snapshot_for_project(self.project, snapshot_id)
        return Response(SnapshotDetailSerializer(snapshot, context={"request": request}).data)


class SnapshotFileView(APIView):
    permission_classes = [SnapshotReader]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="On an S3 store: a short-lived presigned link to the file."),
        }
    )
    def get(self, request, project_id: int, snapshot_id: int, file_name: str):
        snapshot = selectors.snapshot_for_project(self.project, snapshot_id)
        stored = selectors.snapshot_file(snapshot, file_name)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        snapshot_download_log(snapshot=snapshot, file_name=file_name, user=request.user, token=token)
        filename = f"{self.project.slug}-v{snapshot.version}-{file_name}"
        url = storage.download_url(stored.key, filename, stored.content_type)
        if url is not None:
            response = HttpResponseRedirect(url)
        else:
            response = FileResponse(
                storage.open_file(stored.key),
                as_attachment=True,
                filename=filename,
                content_type=stored.content_type,
            )
        response["X-Checksum-SHA256"] = stored.sha256
        return response


class SnapshotRecordsView(APIView):
    permission_classes = [SnapshotReader]

    @extend_schema(
        parameters=[
            OpenApiParameter("split", str, enum=["train", "validation"]),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int),
        ],
        responses=RecordsPageSerializer,
    )
    def get(self, request, project_id: int, snapshot_id: int):
        snapshot = selectors.snapshot_for_project(self.project, snapshot_id)
        try:
            offset = int(request.query_params.get("offset", 0))
            limit = int(request.query_params.get("limit", 100))
        except ValueError as exc:
            raise invalid("offset and limit must be integers.") from exc
        page = selectors.snapshot_records_page(
            snapshot, split=request.query_params.get("split", "train"), offset=offset, limit=limit
        )
        return Response(page)


class SnapshotDownloadListView(APIView):
    """Who downloaded what, for the project's admins; `?snapshot=<id>` narrows it to one snapshot."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN

    @extend_schema(
        parameters=[OpenApiParameter("snapshot", int, required=False)],
        responses=SnapshotDownloadSerializer(many=True),
    )
    def get(self, request, project_id: int):
        rows = selectors.downloads_for_project(self.project, query_id(request, "snapshot"))
        return Response(SnapshotDownloadSerializer(rows[:1000], many=True).data)
