"""A person at a browser, over plain HTTP: cookies, CSRF tokens, admin forms.

:class:`HttpSession` keeps a cookie jar across requests and servers (cookies do
not depend on the port, as in a browser), fills in forms the way a browser
submits them, and never follows redirects, so a test sees the 302 that
tells a saved admin form from one re-rendered with errors::

    session = HttpSession()
    session.login(server, "admin", "secret")
    form = session.form(server, "/admin/wsrpc_app/topic/1/change/", "topic_form")
    reply = session.submit(server, "/admin/wsrpc_app/topic/1/change/", form | {"_save": "Save"})
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from typing import Any

from tests.support.servers import ServerProcess

from .wire import loads

__all__ = ["HttpSession", "Page", "form_fields"]

Fields = dict[str, str | list[str]]


@dataclasses.dataclass
class Page:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return loads(self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpSession:
    """HTTP requests with a cookie jar and no proxy; redirects are returned, not followed."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.timeout = timeout
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        server: ServerProcess,
        path: str,
        *,
        method: str = "GET",
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Page:
        url = server.http_url + path.lstrip("/")
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Page(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Page(error.code, dict(error.headers.items()), error.read())

    def get(self, server: ServerProcess, path: str, *, headers: dict[str, str] | None = None) -> Page:
        return self.request(server, path, headers=headers)

    def post_json(self, server: ServerProcess, path: str, body: Any, *, headers: dict[str, str] | None = None) -> Page:
        return self.request(
            server,
            path,
            method="POST",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def submit(self, server: ServerProcess, path: str, fields: Fields) -> Page:
        """POST ``fields`` as a browser submits a form (urlencoded)."""
        return self.request(
            server,
            path,
            method="POST",
            data=urllib.parse.urlencode(fields, doseq=True).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def form(self, server: ServerProcess, path: str, form_id: str | None = None) -> Fields:
        """GET ``path`` and return what submitting its form (``form_id``, or the first) would send."""
        page = self.get(server, path)
        if page.status != 200:
            raise AssertionError(f"GET {path} answered {page.status}")
        return form_fields(page.text, form_id)

    def login(self, server: ServerProcess, username: str, password: str) -> None:
        """Log in through the admin's login form; fails unless Django accepts the credentials."""
        fields = self.form(server, "/admin/login/", "login-form")
        page = self.submit(server, "/admin/login/", fields | {"username": username, "password": password})
        if page.status != 302:
            raise AssertionError(f"logging in as {username!r} failed: {page.status}")

    def cookie(self, name: str) -> str:
        for cookie in self.cookies:
            if cookie.name == name and cookie.value is not None:
                return cookie.value
        raise KeyError(name)

    def cookie_header(self) -> str:
        """The ``Cookie`` header a browser sends along, e.g. on a WebSocket handshake."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)


class _FormParser(HTMLParser):
    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        if tag == "form" and not self.found and (self.form_id is None or attr.get("id") == self.form_id):
            self.inside = self.found = True
        if not self.inside or "disabled" in attr:
            return
        name = attr.get("name")
        if tag == "input" and name:
            kind = attr.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            self.fields.append((name, attr.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((attr.get("value", ""), "selected" in attr))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.fields.extend((self._select, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # The HTML parser drops nothing, but browsers drop one leading newline.
            text = "".join(self._text)
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None


def form_fields(html: str, form_id: str | None = None) -> Fields:
    """The fields a browser submits for the form ``form_id`` (or the first form) of ``html``."""
    parser = _FormParser(form_id)
    parser.feed(html)
    if not parser.found:
        raise AssertionError(f"no form {form_id!r} on the page")
    fields: Fields = {}
    for name, value in parser.fields:
        old = fields.get(name)
        if old is None:
            fields[name] = value
        else:
            fields[name] = [*old, value] if isinstance(old, list) else [old, value]
    return fields
