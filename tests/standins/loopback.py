"""An aiohttp application served on 127.0.0.1 at a free port: the base of the platform stand-ins."""
from __future__ import annotations

from aiohttp import web


class LoopbackServer:
    """Subclasses add their routes in `routes`; `start` serves them, `stop` shuts down."""

    port = 0
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self):
        app = web.Application(client_max_size=20 * 1024 * 1024)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
