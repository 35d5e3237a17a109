"""Token authentication against hashed keys: `Authorization: Token ann_…` (or `Bearer`)."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from labeling.models import ApiToken
from labeling.services.tokens import hash_key

_TOKEN_SQL = "SELECT * FROM labeling_apitoken WHERE key_hash = %s"
_USER_SQL = "SELECT * FROM {table} WHERE id = %s"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token: not ASCII.") from exc
        # Two plain queries: this runs on every scripted request, where the ORM's join cost more than the SQL.
        token = next(iter(ApiToken.objects.raw(_TOKEN_SQL, [hash_key(key)])), None)
        if token is not None:
            users = get_user_model()
            sql = _USER_SQL.format(table=users._meta.db_table)
            token.user = next(iter(users.objects.raw(sql, [token.user_id])), None)
        now = timezone.now()
        if token is None or token.user is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token was revoked.")
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "labeling.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token ann_…"}
