from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from .models import Topic, TopicPermission

__all__ = ["TopicAdmin", "TopicPermissionAdmin", "TopicPermissionInline"]

if TYPE_CHECKING:  # the admin classes are generic only in django-stubs
    _TabularInline = admin.TabularInline[TopicPermission, Topic]
    _TopicModelAdmin = admin.ModelAdmin[Topic]
    _PermissionModelAdmin = admin.ModelAdmin[TopicPermission]
else:
    _TabularInline = admin.TabularInline
    _TopicModelAdmin = _PermissionModelAdmin = admin.ModelAdmin


class TopicPermissionInline(_TabularInline):
    model = TopicPermission
    extra = 1
    autocomplete_fields = ["user", "group"]


@admin.register(Topic)
class TopicAdmin(_TopicModelAdmin):
    list_display = [
        "name",
        "description",
        "anonymous_subscribe",
        "anonymous_publish",
        "authenticated_subscribe",
        "authenticated_publish",
        "history_size",
        "presence",
        "join_leave",
    ]
    list_filter = ["anonymous_subscribe", "anonymous_publish", "authenticated_subscribe", "authenticated_publish"]
    search_fields = ["name", "description", "permissions__user__username", "permissions__group__name"]
    inlines = [TopicPermissionInline]
    change_list_template = "wsrpc_app/admin/topic_change_list.html"
    fieldsets = [
        (None, {"fields": ["name", "description"]}),
        (
            _("Everyone"),
            {
                "fields": [
                    ("anonymous_subscribe", "anonymous_publish"),
                    ("authenticated_subscribe", "authenticated_publish"),
                ],
                "description": _("Grants to users and groups are below."),
            },
        ),
        (
            _("History"),
            {
                "fields": [("history_size", "history_ttl")],
                "description": _(
                    "Subscribers that reconnect recover the events they missed, up to this many and this old."
                ),
            },
        ),
        (
            _("Presence"),
            {
                "fields": [("presence", "join_leave")],
                "description": _(
                    "Whoever may subscribe sees who is subscribed (connection ids, usernames, declared client info)."
                ),
            },
        ),
    ]

    def get_urls(self) -> list[URLPattern]:
        # Live connections: wsrpc_app/topic/connections/ (server/live_admin.py).
        from .server.live_admin import connections_view

        def view(request: HttpRequest) -> HttpResponse:
            return connections_view(request, self.admin_site)

        page = path("connections/", self.admin_site.admin_view(view), name="wsrpc_app_connections")
        return [page, *super().get_urls()]


@admin.register(TopicPermission)
class TopicPermissionAdmin(_PermissionModelAdmin):
    list_display = ["topic", "user", "group", "can_subscribe", "can_publish"]
    list_filter = ["can_subscribe", "can_publish", "topic"]
    search_fields = ["topic__name", "user__username", "group__name"]
    autocomplete_fields = ["topic", "user", "group"]
