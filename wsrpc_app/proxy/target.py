"""Where a proxied connection goes: the target URL, formatted from the route. No I/O.

``TargetTemplate("ws://chat:8000/ws/chat/{room}/")`` is checked once, when the
route is built; at each handshake :meth:`TargetTemplate.url` fills it from the
URL route's kwargs. Placeholders may stand only in the path and the query:
a client choosing the host would make the gateway connect anywhere it is told
(server-side request forgery). Values are percent-encoded, so a kwarg cannot
add a query, a fragment or a dot segment to the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from urllib.parse import quote, urlsplit

__all__ = ["TargetTemplate", "BadTarget"]

SCHEMES = ("ws", "wss")


class BadTarget(ValueError):
    """A route's kwargs cannot make a target URL (a missing kwarg, a dot segment)."""


class TargetTemplate:
    """A ``ws://`` or ``wss://`` URL with ``{name}`` placeholders in its path or query."""

    def __init__(self, template: str) -> None:
        parts = urlsplit(template)
        if parts.scheme not in SCHEMES:
            raise ValueError(f"the target {template!r} must be a ws:// or wss:// URL")
        if not parts.hostname or "{" in parts.netloc or "}" in parts.netloc:
            raise ValueError(f"the target {template!r} must name its host; placeholders go in the path or query")
        if parts.fragment:
            raise ValueError(f"the target {template!r} has a fragment, which a WebSocket URL cannot carry")
        self.names: frozenset[str] = frozenset(_placeholders(template))
        self.template = template

    def __repr__(self) -> str:
        return f"TargetTemplate({self.template!r})"

    def url(self, kwargs: Mapping[str, object], query_string: str = "") -> str:
        """The target for one handshake: placeholders filled, the client's ``query_string`` appended."""
        missing = self.names - kwargs.keys()
        if missing:
            raise BadTarget(f"the route gives no {', '.join(sorted(missing))} for the target {self.template!r}")
        url = self.template.format_map({name: _segment_safe(kwargs[name]) for name in self.names})
        if query_string:
            url += ("&" if "?" in url else "?") + query_string
        return url


def _placeholders(template: str) -> list[str]:
    names = []
    for _, name, spec, conversion in Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"the target's placeholder {{{name}}} must be a plain name, such as {{room}}")
        names.append(name)
    return names


def _segment_safe(value: object) -> str:
    """``value`` percent-encoded for a path; a ``path`` converter's slashes are kept, never a dot segment."""
    text = str(value)
    if any(segment in (".", "..") for segment in text.split("/")):
        raise BadTarget(f"{text!r} has a dot segment; it may not reach the target's path")
    return quote(text, safe="/")
