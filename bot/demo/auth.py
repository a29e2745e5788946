"""Who may use the page: whoever opened the address with this run's key.

`/?key=<key>` sets an HttpOnly, SameSite=Strict cookie and redirects to `/`; every other
route needs that cookie (401 without it). Changes are POSTs with a JSON body, which a form
on another site cannot send, and the cookie never travels with another site's requests.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Only this machine's files: no CDN, no fonts or scripts from elsewhere, no framing.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
NO_KEY = (
    "This page needs the key npsbot demo printed: open the whole address it shows "
    "(http://127.0.0.1:<port>/?key=…)."
)


class KeyGuard:
    """The per-run key, the cookie that carries it, and the middleware that checks both."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.cookie = "npsbot_demo"

    def use_port(self, port: int) -> None:
        """Cookies ignore ports: each demo's cookie has its own name, so two demos on one
        machine do not overwrite each other's."""
        self.cookie = f"npsbot_demo_{port}"

    def _valid(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.key.encode())

    def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        if request.path.startswith("/api/"):
            return web.json_response({"error": reason}, status=status)
        return web.Response(status=status, text=reason)

    def _landing(self, request: web.Request) -> web.Response:
        """`/?key=…`: the right key gets the cookie and a clean address."""
        if not self._valid(request.query.get("key")):
            return self._refuse(request, 401, NO_KEY)
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(
            self.cookie, self.key, httponly=True, samesite="Strict", path="/", max_age=None
        )
        return response

    def _checked(self, request: web.Request) -> web.Response | None:
        """A refusal for a request without the cookie, or a change sent the wrong way."""
        if not self._valid(request.cookies.get(self.cookie)):
            return self._refuse(request, 401, NO_KEY)
        if request.method not in ("GET", "HEAD"):
            if request.method != "POST":
                return self._refuse(request, 405, "changes are POSTs")
            if request.content_type != "application/json":
                return self._refuse(request, 415, "send a JSON body (application/json)")
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                return self._refuse(request, 403, "a request from another site")
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Checks every request; adds the security headers to every answer."""
        if request.path == "/" and "key" in request.query:
            response: web.StreamResponse = self._landing(request)
        else:
            response = self._checked(request) or await handler(request)
        if not response.prepared:  # a live stream sent its headers already
            response.headers.update(SECURITY_HEADERS)
        return response
