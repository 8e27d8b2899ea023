"""Local stand-ins for the platforms, each following the platform's documented protocol."""

from __future__ import annotations

from aiohttp import web


async def serve_on_loopback(app: web.Application, **runner_options: object) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 on a port the kernel picks; returns the runner and the port."""
    runner = web.AppRunner(app, handle_signals=False, **runner_options)  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    return runner, int(server.sockets[0].getsockname()[1])
