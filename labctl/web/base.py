"""The web app's plumbing, and who may do what: decided here, in one place.

:class:`WebBase` holds what every route needs: the library, the secrets, the thread
pool every library call runs in, the templates, the JSON and error answers. Who may
do what is :meth:`WebBase.principal` and :meth:`WebBase.seat_access`: the instructor
everything; a trainee only their own seat's ticket and, in remote mode, its screen.
The routes (:mod:`.trainee`, :mod:`.screen`, :mod:`.instructor`) ask these two and
decide nothing of their own.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..errors import ConfigError, HostError, LabError, NotFoundError
from ..sessions import SessionError, Sessions
from .auth import INSTRUCTOR_COOKIE, INSTRUCTOR_MAX_AGE, TRAINEE_COOKIE, TRAINEE_MAX_AGE, LoginThrottle, WebSecrets

NOVNC_DIR = Path("/usr/share/novnc")  # Debian's novnc package: noVNC served by labctl, no CDN


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the instructor, or one trainee bound to one seat of one session."""

    kind: str  # instructor | trainee
    name: str
    session: str = ""
    seat: str = ""
    cookie: str = ""  # the cookie value the CSRF token is bound to ("" for a Bearer secret)

    @property
    def instructor(self) -> bool:
        return self.kind == "instructor"


def _status_for(exc: LabError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConfigError):
        return 400
    if isinstance(exc, SessionError):
        return 409
    if isinstance(exc, HostError):
        return 503
    return 500


class WebBase:
    """What every route shares (library, secrets, pool, templates, jobs), and who may do what."""

    def __init__(self, lib: Sessions, secrets: WebSecrets, *, default_session: str | None = None,
                 novnc_dir: Path = NOVNC_DIR, workers: int = 8, secure_cookies: bool = False):
        self.lib = lib
        self.secrets = secrets
        self.default_session = default_session
        self.novnc_dir = Path(novnc_dir)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labctl-web")
        self.secure_cookies = secure_cookies
        self.throttle = LoginThrottle()
        self.jobs: dict[str, dict[str, Any]] = {}
        self._job_ids = itertools.count(1)
        self._thumbs: dict[str, tuple[float, bytes]] = {}
        self.templates = Environment(loader=PackageLoader("labctl.web", "templates"),
                                     autoescape=select_autoescape(default=True), undefined=StrictUndefined)

    # -- plumbing ------------------------------------------------------------------------
    async def call(self, fn: Callable, *args, **kwargs):
        """A library call, in the thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    def page(self, template: str, status: int = 200, **ctx) -> web.Response:
        html = self.templates.get_template(template).render(**ctx)
        return web.Response(text=html, status=status, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    @staticmethod
    async def json_object(request: web.Request) -> dict | None:
        """The request's JSON body as a mapping: {} when it is empty or not JSON, None when not an object."""
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = {}
        return body if isinstance(body, dict) else None

    @staticmethod
    def json(data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str),
                                 headers={"Cache-Control": "no-store"})

    def _cookie(self, resp: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Strict", path="/",
                        secure=self.secure_cookies)

    # -- who is asking ---------------------------------------------------------------------
    async def principal(self, request: web.Request) -> Principal | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return Principal("instructor", "instructor") if self.secrets.is_instructor_secret(auth[7:]) else None
        icookie = request.cookies.get(INSTRUCTOR_COOKIE)
        data = self.secrets.unsign(icookie, INSTRUCTOR_MAX_AGE)
        if data and data.get("k") == "i":
            return Principal("instructor", "instructor", cookie=icookie)
        tcookie = request.cookies.get(TRAINEE_COOKIE)
        data = self.secrets.unsign(tcookie, TRAINEE_MAX_AGE)
        if data and data.get("k") == "t":
            try:
                found = await self.call(self.lib.trainee, data["s"], data["n"])
            except (LabError, KeyError):
                return None
            # The login holds while the trainee keeps the code it was made with, on the same seat.
            if found is None or found[1] != data.get("seat") or found[0].code_set != data.get("cs"):
                return None
            return Principal("trainee", data["n"], session=data["s"], seat=data["seat"], cookie=tcookie)
        return None

    async def require_instructor(self, request: web.Request) -> Principal:
        who = await self.principal(request)
        if who is None:
            raise self.refuse(request, 401, "the instructor's secret is needed here")
        if not who.instructor:
            raise self.refuse(request, 403, "this is the instructor's page")
        self._check_csrf(request, who)
        return who

    async def seat_access(self, request: web.Request, *, screen: bool = False) -> tuple[Principal, str, str]:
        """The caller may act on this seat: the instructor, or the trainee whose seat it is."""
        session, seat = request.match_info["session"], request.match_info["seat"]
        who = await self.principal(request)
        if who is None:
            raise self.refuse(request, 401, "log in with your session and access code first")
        if not who.instructor:
            if who.session != session or who.seat != seat:
                raise self.refuse(request, 403, "this is not your seat")
            if screen:
                access = await self.call(self.lib.access, session, seat)
                if access.get("mode") == "phone":
                    raise self.refuse(request, 403, "phone-only session: the user's screen is not yours to open")
        self._check_csrf(request, who)
        return who, session, seat

    def _check_csrf(self, request: web.Request, who: Principal) -> None:
        if request.method in ("GET", "HEAD", "OPTIONS") or not who.cookie:
            return
        if not self.secrets.csrf_ok(who.cookie, request.headers.get("X-CSRF-Token")):
            raise self.refuse(request, 403, "missing or wrong CSRF token (reload the page)")

    def refuse(self, request: web.Request, status: int, why: str) -> web.HTTPException:
        cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
               429: web.HTTPTooManyRequests}[status]
        if self._wants_json(request):
            return cls(text=json.dumps({"error": why}), content_type="application/json")
        html = self.templates.get_template("refused.html").render(status=status, why=why)
        return cls(text=html, content_type="text/html")

    @staticmethod
    def _wants_json(request: web.Request) -> bool:
        return request.path.startswith("/api/") or request.headers.get("Upgrade", "").lower() == "websocket"

    @web.middleware
    async def errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except LabError as exc:
            status = _status_for(exc)
            if self._wants_json(request):
                return self.json({"error": exc.message, "hint": exc.hint or ""}, status)
            return self.page("refused.html", status=status, why=exc.message + (f" ({exc.hint})" if exc.hint else ""))


def redirect(url: str) -> web.Response:
    return web.Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})
