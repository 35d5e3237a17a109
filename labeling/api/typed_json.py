"""The shapes of the JSON values the API sends (model JSONFields, hand-built dicts), for the OpenAPI schema.

A `JSONField` is `unknown` to a generated client; these fields serialize exactly as `serializers.JSONField` does
(the value as stored) but tell the schema what the value holds, so the browser app's types say it too.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="system, user or assistant")
    content = serializers.CharField()


class FlagSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField(required=False, help_text="When to raise it (optional)")


class RatingScaleSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    min = serializers.IntegerField(required=False)
    max = serializers.IntegerField(required=False)
    labels = serializers.DictField(child=serializers.CharField(), required=False)


class SkippedPromptSerializer(serializers.Serializer):
    prompt = serializers.IntegerField()
    reason = serializers.CharField()


class PromptSelectionSerializer(serializers.Serializer):
    prompts = serializers.CharField(required=False)
    prompt_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    limit = serializers.IntegerField(required=False, allow_null=True)


@extend_schema_field(MessageSerializer(many=True))
class MessagesField(serializers.JSONField):
    """A conversation: `[{role, content}, ...]`."""


@extend_schema_field(serializers.ListField(child=serializers.ListField(child=serializers.IntegerField())))
class TiersField(serializers.JSONField):
    """A ranking, best tier first; each tier the answer ids tied in it."""


@extend_schema_field(serializers.DictField(child=serializers.FloatField()))
class NumbersField(serializers.JSONField):
    """Numbers by name: ratings by answer id, metrics, sampling settings."""


@extend_schema_field(serializers.DictField(child=serializers.ListField(child=serializers.CharField())))
class FlagsByAnswerField(serializers.JSONField):
    """The flag keys raised on each answer (by answer id)."""


@extend_schema_field(serializers.ListField(child=serializers.CharField()))
class StringsField(serializers.JSONField):
    pass


@extend_schema_field(FlagSerializer(many=True))
class FlagDefinitionsField(serializers.JSONField):
    pass


@extend_schema_field(RatingScaleSerializer)
class RatingScaleField(serializers.JSONField):
    pass


@extend_schema_field(serializers.DictField())
class ObjectField(serializers.JSONField):
    """A JSON object whose keys depend on what it describes (hyperparameters, audit details)."""


@extend_schema_field(SkippedPromptSerializer(many=True))
class SkippedPromptsField(serializers.JSONField):
    pass


@extend_schema_field(PromptSelectionSerializer)
class PromptSelectionField(serializers.JSONField):
    pass
