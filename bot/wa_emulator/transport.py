"""HTTP: the aiohttp server in front of the emulator. Routes of the Graph API
(``/{version}/{phone_number_id}/messages``, ``…/media``, ``/{version}/{media_id}``, the
media download URL), the bearer token check, JSON bodies, the record of every call and
the shape of answers (Graph's JSON error, or a raw page for an injected fault)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.emulator_kit.http import HttpServer
from bot.wa_emulator.faults import RawFault
from bot.wa_emulator.media import DOWNLOAD_PATH, MediaStore
from bot.wa_emulator.models import ApiCall, CloudApiError
from bot.wa_emulator.shapes import error_body

log = logging.getLogger("bot.wa_emulator")

_VERSION = r"v\d+(?:\.\d+)?"
_EDGE_RE = re.compile(rf"^/({_VERSION})/(\d+)/(messages|media)/?$")
_NODE_RE = re.compile(rf"^/({_VERSION})/(\d+)/?$")
UPLOAD_LIMIT = 100 * 1024 * 1024  # documents may be up to 100 MB


@dataclass
class Routes:
    """What the transport calls: the send edge and the media store."""

    messages: Callable[[str, Any], Awaitable[dict[str, Any]]]  # (phone_number_id, body)
    check_phone: Callable[[str], None]  # raises CloudApiError for a foreign number id
    media: MediaStore


def unsupported_request(method: str, object_id: str) -> CloudApiError:
    return CloudApiError(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        type_="GraphMethodException",
        subcode=33,
    )


class Transport(HttpServer):
    """The web server: every Graph call is checked and recorded in ``calls``."""

    def __init__(
        self, *, token: str, routes: Routes, calls: list[ApiCall], notify: Callable[[], None]
    ) -> None:
        super().__init__(upload_limit=UPLOAD_LIMIT)
        self._token = token
        self._routes = routes
        self._calls = calls
        self._notify = notify

    # --- dispatch ----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        call = ApiCall(request.method, request.path_qs, None, time.monotonic())
        self._calls.append(call)
        try:
            self._authorize(request)
            answer = await self._route(request, call)
        except CloudApiError as error:
            call.status, call.response = error.status, error_body(error)
            return self._done(call, web.json_response(call.response, status=error.status))
        except RawFault as fault:
            call.status = fault.status
            page = web.Response(
                text=fault.text, status=fault.status, content_type=fault.content_type
            )
            return self._done(call, page)
        except Exception:
            # An emulator bug: answer like a Meta outage and keep the trace in the log.
            log.exception("emulator failure on %s %s", request.method, request.path)
            unknown = CloudApiError(500, 1, "An unknown error has occurred.")
            call.status, call.response = 500, error_body(unknown)
            return self._done(call, web.json_response(call.response, status=500))
        if isinstance(answer, web.Response):
            call.status = answer.status
            return self._done(call, answer)
        call.status, call.response = 200, answer
        return self._done(call, web.json_response(answer))

    def _done(self, call: ApiCall, response: web.Response) -> web.Response:
        if self.log_requests:
            log.info("%s %s %s %s", call.status, call.method, call.path, _short(call.body))
        self._notify()
        return response

    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        token = token or request.query.get("access_token", "")
        if not token:
            raise CloudApiError(401, 104, "An access token is required to request this resource.")
        if token != self._token:
            raise CloudApiError(401, 190, "Invalid OAuth access token - Cannot parse access token")

    async def _route(self, request: web.Request, call: ApiCall) -> dict[str, Any] | web.Response:
        path = request.path
        edge = _EDGE_RE.match(path)
        if edge and request.method == "POST":
            _, phone_id, kind = edge.groups()
            self._routes.check_phone(phone_id)
            if kind == "media":
                return await self._upload(request)
            call.body = await _json(request)
            return await self._routes.messages(phone_id, call.body)
        node = _NODE_RE.match(path)
        if node and request.method == "GET":
            media = self._routes.media.get(node.group(2))
            if media is None:
                raise unsupported_request("GET", node.group(2))
            return self._routes.media.info(media, f"{request.scheme}://{request.host}")
        if path == DOWNLOAD_PATH and request.method == "GET":
            media = self._routes.media.get(request.query.get("mid", ""))
            if media is None:
                return web.Response(status=404, text="Not Found")
            return web.Response(body=media.data, content_type=media.mime_type)
        raise unsupported_request(request.method, path.strip("/").split("/")[-1] or "/")

    async def _upload(self, request: web.Request) -> dict[str, Any]:
        """``POST /{phone_number_id}/media`` (multipart: ``file``, ``type``,
        ``messaging_product``) → ``{"id": …}``."""
        try:
            form = await request.post()
        except ValueError:
            raise CloudApiError(400, 100, "(#100) The parameter file is required.") from None
        if form.get("messaging_product") != "whatsapp":
            raise CloudApiError(400, 100, "(#100) The parameter messaging_product is required.")
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise CloudApiError(400, 100, "(#100) The parameter file is required.")
        mime = str(form.get("type") or upload.content_type or "application/octet-stream")
        return {"id": self._routes.media.add(upload.file.read(), mime).id}


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise CloudApiError(400, 100, "(#100) The parameter messaging_product is required.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CloudApiError(400, 100, "(#100) The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise CloudApiError(400, 100, "(#100) The request body must be a JSON object.")
    return body


def _short(body: Any) -> str:
    text = json.dumps(body, ensure_ascii=False) if body is not None else ""
    return text if len(text) <= 300 else text[:297] + "..."
