"""``{% load wsrpc %}``: put the JS client on a page.

``{% wsrpc_client %}`` (or ``{% wsrpc_client "/ws/rpc/" heartbeat_interval=10000 %}``) renders a
``<script type="module">`` that imports ``wsrpc_app/wsrpc.js``, sets ``window.WsRpcClient``,
``window.RpcError`` and ``window.wsrpc`` (a client, connecting at once) and then dispatches
``wsrpc:ready`` on ``window``. Other keyword arguments become the client's options, their
snake_case names turned into camelCase. Under a Content Security Policy, pass the nonce
(``nonce=request.csp_nonce``); without one the tag uses ``csp_nonce`` or ``request.csp_nonce``
from the context when there is one.
"""

from __future__ import annotations

import json

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..conf import WEBSOCKET_PATH
from ..core.types import JSON

__all__ = ["register", "wsrpc_client"]

register = template.Library()

DEFAULT_URL = "/" + WEBSOCKET_PATH

#: Escapes that keep a JSON value inert inside a <script> element (as Django's json_script does).
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}

_SCRIPT = """<script type="module"{}>
import {{ WsRpcClient, RpcError }} from {};
window.WsRpcClient = WsRpcClient;
window.RpcError = RpcError;
window.wsrpc = new WsRpcClient({}, {});
window.dispatchEvent(new CustomEvent("wsrpc:ready", {{ detail: {{ client: window.wsrpc }} }}));
</script>"""


def _js(value: JSON) -> SafeString:
    """``value`` as a JavaScript literal that is safe inside a <script> element."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":")).translate(_SCRIPT_ESCAPES)
    return SafeString(text)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _context_nonce(context: template.Context) -> object:
    nonce = context.get("csp_nonce")  # Django's own CSP context processor
    if nonce:
        return nonce
    request = context.get("request")
    return getattr(request, "csp_nonce", None)  # django-csp, or a middleware of your own


@register.simple_tag(takes_context=True)
def wsrpc_client(
    context: template.Context, url: str = DEFAULT_URL, nonce: object = None, **options: JSON
) -> SafeString:
    """The ``<script type="module">`` that connects ``window.wsrpc`` to ``url``."""
    if nonce is None:
        nonce = _context_nonce(context)
    nonce_attribute = format_html(' nonce="{}"', str(nonce)) if nonce else ""
    client_options = {_camel(name): value for name, value in options.items()}
    return format_html(
        _SCRIPT,
        nonce_attribute,
        _js(static("wsrpc_app/wsrpc.js")),
        _js(str(url or DEFAULT_URL)),
        _js(client_options),
    )
