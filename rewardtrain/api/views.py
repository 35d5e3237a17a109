"""The export API: create, list and describe snapshots, download their files, page through their records."""

from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate import storage
from labeling.api.permissions import ProjectRole
from labeling.models import ApiToken, Role
from labeling.services.errors import invalid
from rewardtrain import selectors
from rewardtrain.api import serializers as s
from rewardtrain.api.permissions import SnapshotReader
from rewardtrain.services.snapshots import snapshot_create, snapshot_download_log


class SnapshotListView(APIView):
    permission_classes = [SnapshotReader]

    @extend_schema(responses=s.SnapshotSerializer(many=True))
    def get(self, request, project_id: int):
        return Response(
            s.SnapshotSerializer(
                selectors.snapshots_for_project(self.project), many=True, context={"request": request}
            ).data
        )

    @extend_schema(request=s.SnapshotSettingsSerializer, responses={202: s.SnapshotSerializer})
    def post(self, request, project_id: int):
        if not isinstance(request.data, dict):
            raise invalid("The body must be a JSON object of snapshot settings.")
        snapshot = snapshot_create(project=self.project, user=request.user, settings_data=dict(request.data))
        return Response(
            s.SnapshotSerializer(snapshot, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class SnapshotDetailView(APIView):
    permission_classes = [SnapshotReader]

    @extend_schema(responses=s.SnapshotDetailSerializer)
    def get(self, request, project_id: int, snapshot_id: int):
        snapshot = selectors.snapshot_for_project(self.project, snapshot_id)
        return Response(s.SnapshotDetailSerializer(snapshot, context={"request": request}).data)


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
        responses=s.RecordsPageSerializer,
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
        responses=s.SnapshotDownloadSerializer(many=True),
    )
    def get(self, request, project_id: int):
        raw = request.query_params.get("snapshot")
        if raw is not None and not raw.isdigit():
            raise invalid("snapshot must be an id.")
        rows = selectors.downloads_for_project(self.project, int(raw) if raw else None)
        return Response(s.SnapshotDownloadSerializer(rows[:1000], many=True).data)
