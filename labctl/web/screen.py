"""A seat's screen in the browser: the noVNC page, noVNC's files, and the websocket-to-VNC proxy.

The proxy only ever connects to the VNC server of the seat named in the path, and
only for who may see that screen (:meth:`WebBase.seat_access` with ``screen=True``).
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from .base import WebBase


class ScreenRoutes(WebBase):
    """A seat's screen: its noVNC page, the websocket-to-VNC proxy, noVNC's own files."""

    async def screen_page(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request, screen=True)
        con = await self.call(self.lib.console, session, seat)
        # The browser gets the VNC password of this one seat: its trainee is entitled to that screen
        # (remote mode), and noVNC does the VNC authentication itself. See docs/commands/serve.md.
        return self.page("screen.html", who=who, session=session, seat=con["seat"], password=con["password"])

    async def vnc_proxy(self, request: web.Request) -> web.StreamResponse:
        """websocket <-> the seat's VNC server on the host: only for this seat, only for who may see it."""
        who, session, seat = await self.seat_access(request, screen=True)
        con = await self.call(self.lib.console, session, seat)
        ws = web.WebSocketResponse(protocols=("binary",), max_msg_size=0, heartbeat=30)
        await ws.prepare(request)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(con["host"], con["port"]), 10)
        except (OSError, asyncio.TimeoutError) as exc:
            await ws.close(code=1011, message=f"VNC server not reachable: {exc}".encode()[:120])
            return ws

        async def to_browser():
            try:
                while data := await reader.read(65536):
                    await ws.send_bytes(data)
            except (ConnectionError, OSError, RuntimeError):
                pass  # the browser or the VNC server went away
            await ws.close()

        pump = asyncio.create_task(to_browser())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    writer.write(msg.data)
                    await writer.drain()
                elif msg.type == WSMsgType.TEXT:
                    writer.write(msg.data.encode("latin-1"))
                    await writer.drain()
                else:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            pump.cancel()
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        return ws

    async def novnc(self, request: web.Request) -> web.StreamResponse:
        """noVNC's modules from Debian's package (core/ and vendor/ only: what rfb.js imports)."""
        rel = request.match_info["path"]
        root = self.novnc_dir.resolve()
        path = (root / rel).resolve()
        if not (path.is_relative_to(root / "core") or path.is_relative_to(root / "vendor")) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "text/javascript; charset=utf-8"}
                                if path.suffix == ".js" else None)
