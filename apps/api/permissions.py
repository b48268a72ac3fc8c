from rest_framework import exceptions, permissions

from .models import ApiClient


class HasScope(permissions.BasePermission):
    """The view names the scope each HTTP method needs in ``required_scopes``; a key without it gets 403."""

    def has_permission(self, request, view):
        client = request.auth
        if not isinstance(client, ApiClient):
            raise exceptions.NotAuthenticated("Send an API key: Authorization: Bearer <key>.")
        scope = view.required_scopes.get("GET" if request.method == "HEAD" else request.method)
        if scope is None:
            return True  # OPTIONS, or a method the view lacks (answered 405)
        if not client.has_scope(scope):
            raise exceptions.PermissionDenied(f"This API key lacks the {scope} scope.")
        return True
