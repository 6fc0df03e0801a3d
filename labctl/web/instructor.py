"""The instructor's routes: log in with the lab's secret, the sessions, a session's dashboard,
its seats' thumbnails, the actions (check, reset, extend, codes) and the reports.

Every route starts with :meth:`WebBase.require_instructor`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from aiohttp import web

from .auth import INSTRUCTOR_COOKIE, INSTRUCTOR_MAX_AGE
from .base import redirect
from .jobs import Jobs, _public

THUMB_WIDTH = 360
THUMB_TTL_S = 4.0


class InstructorRoutes(Jobs):
    """The instructor's pages and API; checks and resets run as :class:`Jobs`."""

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

    async def api_action(self, request: web.Request) -> web.Response:
        await self.require_instructor(request)
        name, action = request.match_info["session"], request.match_info["action"]
        body = await self.json_object(request)
        if body is None:
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


async def _to_instructor(request: web.Request) -> web.Response:
    return redirect("/instructor/")
