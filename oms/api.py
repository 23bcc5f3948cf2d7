"""API plumbing shared by every app: one JSON error shape, role-aware permissions, throttles, pagination."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, permissions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from oms.errors import NotFound, OMSError

logger = logging.getLogger(__name__)

STATUS_FOR_CODE = {
    "transition_not_allowed": status.HTTP_409_CONFLICT,
    "stock_short": status.HTTP_409_CONFLICT,
    "duplicate_external_id": status.HTTP_409_CONFLICT,
    "finance_permission_required": status.HTTP_403_FORBIDDEN,
}


def _first_field_error(detail, path: str | None = None) -> tuple[str | None, str, str]:
    """Flatten DRF's nested validation detail to (field path, message, code) of its first error."""
    if isinstance(detail, dict):
        for name, value in detail.items():
            if not value:
                continue
            if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
                child = f"{path}[{int(name) + 1}]"
            elif name in ("non_field_errors", "detail"):
                child = path
            else:
                child = f"{path}.{name}" if path else name
            return _first_field_error(value, child)
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                if item:
                    return _first_field_error(
                        item, f"{path}[{index + 1}]" if isinstance(item, dict) else path
                    )
            else:
                return path, str(item), getattr(item, "code", "invalid")
    return path, str(detail), getattr(detail, "code", "invalid")


def exception_handler(exc, context):
    """Turn every error into `{"code", "message", "field"}` JSON; never an HTML page or a stack trace."""
    from rest_framework.views import exception_handler as drf_exception_handler  # avoids an import cycle

    if isinstance(exc, OMSError):
        http_status = STATUS_FOR_CODE.get(exc.code, 404 if isinstance(exc, NotFound) else 400)
        return Response(exc.as_dict(), status=http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            {"code": "server_error", "message": "internal error; it has been logged", "field": None},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_field_error(exc.detail)
        response.data = {"code": code or "invalid", "message": message, "field": field, "errors": exc.detail}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = {
            "code": getattr(detail, "code", exc.__class__.__name__.lower()),
            "message": str(detail),
            "field": None,
        }
    return response


class RolePermissions(permissions.DjangoModelPermissions):
    """Model permissions that also guard reads (view_*), so a role sees only what its group allows."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view) -> bool:
        """Actions with a declared permission (view.action_permissions) are checked by that, not by method."""
        if getattr(view, "action", None) in getattr(view, "action_permissions", {}):
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)


class PlacedAtCursorPagination(CursorPagination):
    """Stable cursor pages, newest first; no COUNT(*)."""

    ordering = ("-placed_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class IdCursorPagination(CursorPagination):
    """Cursor pages by primary key."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
