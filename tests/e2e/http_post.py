"""Plain HTTP POSTs to a live server, with no proxy in between."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from typing import Any

from tests.support.servers import ServerProcess

from .wire import loads

__all__ = ["HttpReply", "post"]

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclasses.dataclass
class HttpReply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return loads(self.body.decode())


def post(server: ServerProcess, path: str, body: Any, *, timeout: float = 5.0) -> HttpReply:
    """POST ``body`` (JSON-encoded unless it is already a str) to ``path`` on ``server``."""
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    request = urllib.request.Request(
        server.http_url + path.lstrip("/"), data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            return HttpReply(response.status, response.headers.get("Content-Type", ""), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return HttpReply(error.code, error.headers.get("Content-Type", ""), error.read())
