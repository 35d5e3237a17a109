"""The user's own API tokens. The key is returned once, at creation. Tokens are managed from a session or with an
unscoped token (which cannot mint another); a token scoped to a project cannot list, create or revoke any."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api import serializers as s
from labeling.api.permissions import Authenticated, NotScopedToken, project_for_request
from labeling.models import ApiToken, Role
from labeling.services.errors import forbidden
from labeling.services.tokens import api_token_create, api_token_revoke


class TokenListView(APIView):
    permission_classes = [Authenticated, NotScopedToken]

    @extend_schema(responses=s.ApiTokenSerializer(many=True))
    def get(self, request):
        return Response(s.ApiTokenSerializer(ApiToken.objects.filter(user=request.user), many=True).data)

    @extend_schema(
        request=s.ApiTokenWriteSerializer,
        responses={
            201: inline_serializer(
                "NewToken", {"token": s.ApiTokenSerializer(), "key": serializers.CharField()}
            )
        },
    )
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            raise forbidden("Tokens are created from a signed-in session, not with another token.")
        body = s.ApiTokenWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = None
        if body.validated_data.get("project"):
            project, _ = project_for_request(request, body.validated_data["project"], Role.LABELER)
        token, key = api_token_create(
            user=request.user,
            name=body.validated_data["name"],
            project=project,
            expires_in_days=body.validated_data.get("expires_in_days"),
        )
        return Response(
            {"token": s.ApiTokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED
        )


class TokenDetailView(APIView):
    permission_classes = [Authenticated, NotScopedToken]

    @extend_schema(responses={204: None})
    def delete(self, request, token_id: int):
        api_token_revoke(token=get_object_or_404(ApiToken, pk=token_id, user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)
