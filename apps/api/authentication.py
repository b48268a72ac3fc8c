"""API keys in the Authorization header: ``Authorization: Bearer cnd_…``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .selectors import api_client_by_key
from .services import api_client_touch


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as: Authorization: Bearer <key>.")
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("Invalid API key.") from error
        client = api_client_by_key(raw_key)
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if client.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        api_client_touch(client=client)
        return client, client

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `python manage.py create_api_client NAME --scopes …`.",
        }
