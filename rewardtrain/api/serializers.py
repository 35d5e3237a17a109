"""Shapes of snapshots and downloads; the snapshot settings are checked by the service (`snapshot_params_from`)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rewardtrain.api.base import ErrorDetailField
from rewardtrain.models import Snapshot, SnapshotDownload, SnapshotKind
from rewardtrain.params import FORMATS, LABELER_MODES, SFT_STATUSES
from rewardtrain.selectors import snapshot_downloads


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
        return snapshot_downloads(snapshot)


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
