"""The web app: the trainee's portal and the instructor's dashboard, over the sessions library.

Every route calls :class:`labctl.sessions.Sessions`, the library the CLI calls, in a
thread pool (a check or a reset takes seconds to minutes; the event loop never waits
on one). The CLI can act on the same session at the same time: the database is
SQLite in WAL mode and every page reads it afresh.

Who may do what is decided here, in one place (:meth:`Web.principal` and
:meth:`Web.seat_access`): the instructor everything; a trainee only their own
seat's ticket and, in remote mode, its screen.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from aiohttp import WSMsgType, web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..errors import ConfigError, HostError, LabError, NotFoundError
from ..sessions import SessionError, Sessions
from .auth import INSTRUCTOR_COOKIE, INSTRUCTOR_MAX_AGE, TRAINEE_COOKIE, TRAINEE_MAX_AGE, LoginThrottle, WebSecrets

NOVNC_DIR = Path("/usr/share/novnc")  # Debian's novnc package: noVNC served by labctl, no CDN
STATIC_DIR = Path(__file__).parent / "static"
THUMB_WIDTH = 360
THUMB_TTL_S = 4.0
MAX_JOBS_KEPT = 200


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


class Web:
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

    # -- trainee: log in -----------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.Response:
        who = await self.principal(request)
        if who is not None and not who.instructor:
            return redirect(f"/s/{who.session}/seat/{who.seat}/")
        return self.page("login.html", session=request.query.get("session", self.default_session or ""),
                         error="")

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        session, code = str(form.get("session", "")).strip(), str(form.get("code", "")).strip()
        client = request.remote or "?"
        if self.throttle.blocked(client):
            return self.page("login.html", status=429, session=session,
                             error="too many failed tries: wait a minute and try again")
        found = None
        if session and code:
            try:
                found = await self.call(self.lib.verify_code, session, code)
            except NotFoundError:
                found = None
        if found is None:
            self.throttle.failed(client)
            return self.page("login.html", status=401, session=session,
                             error="this session and code do not match: check both with your instructor")
        trainee, seat = found
        resp = redirect(f"/s/{session}/seat/{seat}/")
        token = self.secrets.sign({"k": "t", "s": session, "seat": seat, "n": trainee.name, "cs": trainee.code_set})
        self._cookie(resp, TRAINEE_COOKIE, token, TRAINEE_MAX_AGE)
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        resp = redirect("/")
        resp.del_cookie(TRAINEE_COOKIE, path="/")
        resp.del_cookie(INSTRUCTOR_COOKIE, path="/")
        return resp

    # -- a seat: ticket page, screen, API ---------------------------------------------------
    async def seat_page(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request)
        view = await self.call(self.lib.ticket, session, seat)
        access = await self.call(self.lib.access, session, seat)
        return self.page("ticket.html", who=who, session=session, seat=view.seat, ticket=view.as_dict(),
                         csrf=self.secrets.csrf(who.cookie) if who.cookie else "",
                         screen=access.get("mode") != "phone" or who.instructor, mode=access.get("mode"))

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

    async def api_ticket(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request)
        view = await self.call(self.lib.ticket, session, seat)
        return self.json(view.as_dict())

    async def api_ticket_action(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request)
        action = request.match_info["action"]
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = {}
        if not isinstance(body, dict):
            return self.json({"error": "send a JSON object"}, 400)
        by = who.name
        text = {k: str(v) for k, v in body.items() if isinstance(v, (str, int, float))}
        if action == "ack":
            view = await self.call(self.lib.acknowledge, session, seat, by=by)
        elif action == "note":
            view = await self.call(self.lib.note, session, seat, text.get("kind", ""), text.get("text", ""), by=by)
        elif action == "escalate":
            view = await self.call(self.lib.escalate, session, seat, observed=text.get("observed", ""),
                                   tried=text.get("tried", ""), reason=text.get("reason", ""), by=by)
        elif action == "resolve":
            view = await self.call(self.lib.resolve, session, seat, resolution=text.get("resolution", ""), by=by)
        elif action == "reopen" and who.instructor:
            view = await self.call(self.lib.reopen, session, seat, reason=text.get("reason", ""), by=by)
        else:
            raise self.refuse(request, 404 if action != "reopen" else 403, f"no action '{action}' here")
        return self.json(view.as_dict())

    # -- instructor ------------------------------------------------------------------------
    async def instructor_login_page(self, request: web.Request) -> web.Response:
        return self.page("instructor_login.html", error="")

    async def instructor_login(self, request: web.Request) -> web.Response:
        form = await request.post()
        client = request.remote or "?"
        if self.throttle.blocked(client):
            return self.page("instructor_login.html", status=429, error="too many failed tries: wait a minute")
        if not self.secrets.is_instructor_secret(str(form.get("secret", ""))):
            self.throttle.failed(client)
            return self.page("instructor_login.html", status=401, error="that is not the instructor's secret")
        resp = redirect("/instructor/")
        self._cookie(resp, INSTRUCTOR_COOKIE, self.secrets.sign({"k": "i"}), INSTRUCTOR_MAX_AGE)
        return resp

    async def instructor_home(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        rows = await self.call(self.lib.list)
        if self.default_session and any(s.name == self.default_session for s, _n, _t in rows):
            return redirect(f"/instructor/s/{self.default_session}")
        return self.page("sessions.html", sessions=[{**s.as_dict(), "seats": n, "trainees": t} for s, n, t in rows])

    async def dashboard(self, request: web.Request) -> web.Response:
        who = await self.require_instructor(request)
        s = await self.call(self.lib.get, request.match_info["session"])
        return self.page("dashboard.html", session=s.as_dict(), csrf=self.secrets.csrf(who.cookie) if who.cookie else "")

    async def api_status(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        name = request.match_info["session"]
        s = await self.call(self.lib.get, name)
        rows = await self.call(self.lib.status, name)
        busy = {j["seat"]: j for j in self.jobs.values() if j["session"] == name and j["state"] == "running"}
        seats = []
        for r in rows:
            d = r.as_dict()
            d["job"] = busy.get(r.seat) or busy.get("*")
            seats.append(d)
        return self.json({"now": datetime.now(timezone.utc).isoformat(timespec="seconds"), "session": s.as_dict(),
                          "seats": seats,
                          "jobs": sorted((j for j in self.jobs.values() if j["session"] == name),
                                         key=lambda j: j["id"], reverse=True)[:10]})

    async def thumbnail(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        session, seat = request.match_info["session"], request.match_info["seat"]
        status = await self.call(self.lib.status, session)
        if seat not in {r.seat for r in status}:
            raise self.refuse(request, 404, f"session {session} has no seat {seat}")
        cached = self._thumbs.get(seat)
        if cached and time.monotonic() - cached[0] < THUMB_TTL_S:
            png = cached[1]
        else:
            png = await self.call(self.lib.seats.screenshot, seat, max_width=THUMB_WIDTH)
            self._thumbs[seat] = (time.monotonic(), png)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})

    def _start_job(self, session: str, seat: str, kind: str, fn: Callable, *args, **kwargs) -> dict[str, Any]:
        for j in self.jobs.values():
            if j["state"] == "running" and j["session"] == session and (j["seat"] in (seat, "*") or seat == "*"):
                raise SessionError(f"{j['kind']} of {j['seat'] if j['seat'] != '*' else 'every seat'} is still "
                                   "running; wait for it")
        job = {"id": f"j{next(self._job_ids)}", "session": session, "seat": seat, "kind": kind, "state": "running",
               "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "ended": None, "message": ""}
        self.jobs[job["id"]] = job
        while len(self.jobs) > MAX_JOBS_KEPT:
            self.jobs.pop(next(iter(self.jobs)))

        async def run():
            try:
                result = await self.call(fn, *args, **kwargs)
                job["state"], job["message"] = "done", _summary(kind, result)
            except LabError as exc:
                job["state"], job["message"] = "failed", exc.message + (f" ({exc.hint})" if exc.hint else "")
            except Exception as exc:  # noqa: BLE001 - a job reports, it never takes the server down
                job["state"], job["message"] = "failed", f"{type(exc).__name__}: {exc}"
            job["ended"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self._thumbs.pop(seat, None)

        task = asyncio.get_running_loop().create_task(run())
        job["_task"] = task
        return job

    async def api_action(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        name, action = request.match_info["session"], request.match_info["action"]
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = {}
        if not isinstance(body, dict):
            return self.json({"error": "send a JSON object"}, 400)
        seat = str(body.get("seat") or "")
        await self.call(self.lib.get, name)
        if seat:
            known = {r.seat for r in await self.call(self.lib.status, name)}
            if seat not in known:
                return self.json({"error": f"session {name} has no seat {seat}"}, 404)
        if action == "check":
            job = self._start_job(name, seat or "*", "check", self.lib.check, name, [seat] if seat else None)
        elif action == "reset":
            if not seat:
                return self.json({"error": "say which seat to reset"}, 400)
            job = self._start_job(name, seat, "reset" + (" (new fault)" if body.get("new_fault") else ""),
                                  self.lib.reset_seat, name, seat, new_fault=bool(body.get("new_fault")))
        elif action == "extend":
            try:
                minutes = int(body.get("minutes", 0))
            except (TypeError, ValueError):
                return self.json({"error": "minutes must be a whole number"}, 400)
            s = await self.call(self.lib.extend, name, minutes, seat or None)
            return self.json({"session": s.as_dict()})
        elif action == "codes":
            trainee = str(body.get("trainee") or "") or None
            codes = await self.call(self.lib.issue_codes, name, trainee)
            return self.json({"codes": codes})
        else:
            return self.json({"error": f"no action '{action}'"}, 404)
        return self.json(_public(job), 202)

    async def api_job(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        job = self.jobs.get(request.match_info["job"])
        if job is None:
            return self.json({"error": "no such job"}, 404)
        return self.json(_public(job))

    async def report(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        from ..sessions.report import to_csv, to_html, to_json

        name, fmt = request.match_info["session"], request.match_info["fmt"]
        s, seats = await self.call(self.lib.report, name)
        render, ctype = {"html": (to_html, "text/html"), "csv": (to_csv, "text/csv"),
                         "json": (to_json, "application/json")}[fmt]
        headers = {"Cache-Control": "no-store"}
        if fmt != "html":
            headers["Content-Disposition"] = f'attachment; filename="{name}-report.{fmt}"'
        return web.Response(text=render(s, seats), content_type=ctype, headers=headers)

    # -- files -------------------------------------------------------------------------------
    async def novnc(self, request: web.Request) -> web.StreamResponse:
        """noVNC's modules from Debian's package (core/ and vendor/ only: what rfb.js imports)."""
        rel = request.match_info["path"]
        root = self.novnc_dir.resolve()
        path = (root / rel).resolve()
        if not (path.is_relative_to(root / "core") or path.is_relative_to(root / "vendor")) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "text/javascript; charset=utf-8"}
                                if path.suffix == ".js" else None)

    async def on_shutdown(self, app: web.Application) -> None:
        for j in list(self.jobs.values()):
            task = j.get("_task")
            if task is not None and not task.done():
                task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


def redirect(url: str) -> web.Response:
    return web.Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})


async def _to_instructor(request: web.Request) -> web.Response:
    return redirect("/instructor/")


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _summary(kind: str, result: Any) -> str:
    if kind == "check" and isinstance(result, dict):
        return "; ".join(f"{seat}: {getattr(r, 'status', None) or 'no verdict: ' + str(r)}"
                         for seat, r in result.items()) or "no seat to check"
    if kind.startswith("reset") and hasattr(result, "seat"):
        return f"{result.seat}: {result.fault} ({result.variant}) injected; machine {result.machine}"
    return "done"


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
