"""The admin page of live connections: every process's, with their users, subscriptions and a disconnect button.

Served by the ``Topic`` admin at ``connections/``
(``/admin/wsrpc_app/topic/connections/``). Staff who may view topics see
the page; those who may change topics may disconnect a connection (close
code 4003). The list is gathered when the page loads from every living
process (:func:`wsrpc_app.pubsub.control.aconnections`).
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from ..pubsub.control import connections, disconnect_connection

__all__ = ["connections_view"]

logger = logging.getLogger("wsrpc")


def connections_view(request: HttpRequest, site: admin.AdminSite) -> HttpResponse:
    """GET: the live connections; POST ``connection``: disconnect it."""
    if not request.user.has_perm("wsrpc_app.view_topic"):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.has_perm("wsrpc_app.change_topic"):
            raise PermissionDenied
        target = request.POST.get("connection", "")
        try:
            disconnect_connection(target, reason="disconnected in the admin")
        except ValueError:
            messages.error(request, _("Not a connection id: %(id)s") % {"id": target})
        else:
            messages.success(request, _("Connection %(id)s is being closed.") % {"id": target})
        return HttpResponseRedirect(request.path)
    try:
        live = connections()
        problem = None
    except Exception as exc:
        logger.warning("could not gather the live connections: %r", exc)
        live, problem = [], _("The channel layer cannot be reached: the connections cannot be listed.")
    context = {
        **site.each_context(request),
        "title": _("Live connections"),
        "connections": live,
        "problem": problem,
        "can_disconnect": request.user.has_perm("wsrpc_app.change_topic"),
        "processes": sorted({str(item.get("process")) for item in live}),
    }
    return TemplateResponse(request, "wsrpc_app/admin/connections.html", context)
