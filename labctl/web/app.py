"""The web app: the trainee's portal and the instructor's dashboard, over the sessions library.

Every route calls :class:`labctl.sessions.Sessions`, the library the CLI calls, in a
thread pool (a check or a reset takes seconds to minutes; the event loop never waits
on one). The CLI can act on the same session at the same time: the database is
SQLite in WAL mode and every page reads it afresh.

Who may do what is decided in one place, :mod:`.base` (:meth:`Web.principal` and
:meth:`Web.seat_access`): the instructor everything; a trainee only their own
seat's ticket and, in remote mode, its screen. This module puts the app together:
:class:`Web` is the trainee's routes (:mod:`.trainee`), the seat's screen
(:mod:`.screen`) and the instructor's routes and jobs (:mod:`.instructor`,
:mod:`.jobs`) over that base; :func:`make_app` routes the URLs to them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from aiohttp import web

from ..sessions import Sessions
from .auth import WebSecrets
from .base import NOVNC_DIR, Principal, WebBase, _status_for, redirect
from .instructor import THUMB_TTL_S, THUMB_WIDTH, InstructorRoutes, _to_instructor
from .jobs import MAX_JOBS_KEPT, _public, _summary
from .screen import ScreenRoutes
from .trainee import TraineeRoutes

# Re-exported: the names this module has always offered stay importable from here.
__all__ = ["MAX_JOBS_KEPT", "NOVNC_DIR", "STATIC_DIR", "THUMB_TTL_S", "THUMB_WIDTH", "WEB", "Principal", "Web",
           "WebBase", "_public", "_status_for", "_summary", "_to_instructor", "is_loopback", "make_app", "redirect",
           "security_headers"]

STATIC_DIR = Path(__file__).parent / "static"


class Web(TraineeRoutes, ScreenRoutes, InstructorRoutes):
    """Every route of the app, on one object that holds the library, the secrets, the pool and the jobs."""


@web.middleware
async def security_headers(request: web.Request, handler):
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault("Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; "
                            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
    return resp


WEB = web.AppKey("web", Web)


def make_app(lib: Sessions, secrets: WebSecrets, **kwargs) -> web.Application:
    w = Web(lib, secrets, **kwargs)
    app = web.Application(middlewares=[security_headers, w.errors], client_max_size=256 * 1024)
    app[WEB] = w
    seat = "/s/{session}/seat/{seat}"
    app.add_routes([
        web.get("/", w.login_page),
        web.post("/login", w.login),
        web.post("/logout", w.logout),
        web.get(seat + "/", w.seat_page),
        web.get(seat + "/screen", w.screen_page),
        web.get(seat + "/vnc", w.vnc_proxy),
        web.get("/api" + seat + "/ticket", w.api_ticket),
        web.post("/api" + seat + "/{action}", w.api_ticket_action),
        web.get("/instructor/login", w.instructor_login_page),
        web.post("/instructor/login", w.instructor_login),
        web.get("/instructor/", w.instructor_home),
        web.get("/instructor/s/{session}", w.dashboard),
        web.get("/instructor/s/{session}/report.{fmt:html|csv|json}", w.report),
        web.get("/instructor/s/{session}/seat/{seat}/thumb.png", w.thumbnail),
        web.get("/api/instructor/s/{session}/status", w.api_status),
        web.post("/api/instructor/s/{session}/{action}", w.api_action),
        web.get("/api/instructor/jobs/{job}", w.api_job),
        web.get("/novnc/{path:.+}", w.novnc),
        web.static("/static", STATIC_DIR),
    ])
    app.router.add_get("/instructor", _to_instructor)
    app.on_shutdown.append(w.on_shutdown)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
