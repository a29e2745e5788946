"""HTTP: the aiohttp server, ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``, the
request's parameters (query, JSON, form or multipart), validation against the spec, the
record of every call, and the shapes of answers (the Bot API's JSON, or a proxy's HTML)."""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.emulator.files import UPLOAD_LIMIT
from bot.emulator.models import ApiCall, ApiError, FileInfo, ProxyError, bad_request
from bot.emulator.spec import ApiSpec
from bot.emulator_kit.http import HttpServer

log = logging.getLogger("bot.emulator")

_BOT_PATH_RE = re.compile(r"^/bot([^/]+)/([^/]*)$")
_FILE_PATH_RE = re.compile(r"^/file/bot([^/]+)/(.+)$")


class Transport(HttpServer):
    """The web server in front of the emulator: one validated call at a time goes to
    ``run(method, params)``; files are looked up with ``file_at(path)``."""

    def __init__(
        self,
        *,
        token: str,
        spec: ApiSpec,
        calls: list[ApiCall],
        run: Callable[[str, dict[str, Any]], Awaitable[Any]],
        file_at: Callable[[str], FileInfo | None],
        notify: Callable[[], None],
        log_requests: bool,
    ) -> None:
        # Bot uploads may be up to 50 MB.
        super().__init__(upload_limit=UPLOAD_LIMIT)
        self.log_requests = log_requests
        self._token = token
        self._spec = spec
        self._calls = calls
        self._run = run
        self._file_at = file_at
        self._notify = notify

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        file_match = _FILE_PATH_RE.match(path)
        if file_match:
            return self._serve_file(file_match.group(1), file_match.group(2))
        match = _BOT_PATH_RE.match(path)
        if not match:
            return _json_response(ApiError(404, "Not Found").payload(), 404)
        token, method_name = match.groups()
        started = time.monotonic()
        call = ApiCall(method_name, {}, 0, started)
        self._calls.append(call)
        try:
            if token != self._token:
                raise ApiError(401, "Unauthorized")
            spec = self._spec.lookup(method_name)
            if spec is None:
                raise ApiError(404, "Not Found: method not found")
            call.method = spec.name
            raw, files = await _read_params(request)
            call.params = raw
            params = self._spec.validate(spec, raw, files)
            call.params = params
            result = await self._run(spec.name, params)
        except ApiError as error:
            call.status, call.description = error.status, error.description
            self._log(call)
            self._notify()
            if isinstance(error, ProxyError):
                return web.Response(
                    text=error.page(), status=error.status, content_type="text/html"
                )
            return _json_response(error.payload(), error.status)
        except Exception as error:
            # An emulator bug: answer like a Telegram outage and keep the cause in the record.
            log.exception("emulator failure in %s", call.method)
            call.status, call.description = 500, f"Internal Server Error: {error!r}"
            self._notify()
            return _json_response(ApiError(500, "Internal Server Error").payload(), 500)
        call.status, call.result = 200, result
        self._log(call)
        self._notify()
        return _json_response({"ok": True, "result": result}, 200)

    def _serve_file(self, token: str, file_path: str) -> web.Response:
        if token != self._token:
            return _json_response(ApiError(401, "Unauthorized").payload(), 401)
        info = self._file_at(file_path)
        if info is None:
            return _json_response(ApiError(404, "Not Found").payload(), 404)
        return web.Response(
            body=info.data, content_type=info.mime_type or "application/octet-stream"
        )

    def _log(self, call: ApiCall) -> None:
        if self.log_requests:
            shown = {k: v for k, v in call.params.items() if k not in ("document", "photo")}
            log.info("%s %s %s %s", call.status, call.method, shown, call.description or "")


def _json_response(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, FileInfo]]:
    """Merge query string and body (JSON, urlencoded or multipart) into one parameter dict."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, FileInfo] = {}
    if request.method not in ("POST", "PUT") or not request.can_read_body:
        return raw, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        raw.update(body)
        return raw, files
    try:
        form = await request.post()
    except ValueError as error:
        raise bad_request(f"can't parse request body: {error}") from None
    for key, value in form.items():
        if isinstance(value, web.FileField):
            name = value.filename or key
            mime = mimetypes.guess_type(name)[0] or value.content_type
            files[key] = FileInfo(name=name, mime_type=mime, data=value.file.read())
        else:
            raw[key] = value
    return raw, files
