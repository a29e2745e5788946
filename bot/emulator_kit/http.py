"""The aiohttp server both emulators run: extra routes (the control API) first, every other
request to the emulator's own ``_dispatch``; on a free port when asked for port 0."""

from __future__ import annotations

from aiohttp import web

MIB = 1024 * 1024


class HttpServer:
    """One aiohttp server; a subclass answers the API in ``_dispatch``."""

    def __init__(self, *, upload_limit: int) -> None:
        self.log_requests = False
        # aiohttp's default body limit is 1 MB; uploads may be far larger.
        self._client_max_size = upload_limit + MIB
        self._runner: web.AppRunner | None = None
        self._extra_routes: list[web.RouteDef] = []

    @property
    def running(self) -> bool:
        """Whether the server listens."""
        return self._runner is not None

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Extra aiohttp routes (the control API), added at ``start()``."""
        self._extra_routes.extend(routes)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: a free port); return the port."""
        app = web.Application(client_max_size=self._client_max_size)
        app.add_routes(self._extra_routes)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short shutdown timeout: close() must not hang on a client's in-flight long poll.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        return int(runner.addresses[0][1]) if port == 0 else port

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError
