"""The trainee's routes: log in with the session and access code, the seat's ticket page and its API.

The seat's routes serve the instructor too: :meth:`WebBase.seat_access` lets in the
instructor and the trainee whose seat it is, no one else.
"""

from __future__ import annotations

from aiohttp import web

from ..errors import NotFoundError
from .auth import INSTRUCTOR_COOKIE, TRAINEE_COOKIE, TRAINEE_MAX_AGE
from .base import WebBase, redirect


class TraineeRoutes(WebBase):
    """Log in, log out, and a seat's ticket: its page and its JSON API."""

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

    # -- a seat: ticket page and API (its screen: screen.py) --------------------------------
    async def seat_page(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request)
        view = await self.call(self.lib.ticket, session, seat)
        access = await self.call(self.lib.access, session, seat)
        return self.page("ticket.html", who=who, session=session, seat=view.seat, ticket=view.as_dict(),
                         csrf=self.secrets.csrf(who.cookie) if who.cookie else "",
                         screen=access.get("mode") != "phone" or who.instructor, mode=access.get("mode"))

    async def api_ticket(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request)
        view = await self.call(self.lib.ticket, session, seat)
        return self.json(view.as_dict())

    async def api_ticket_action(self, request: web.Request) -> web.Response:
        who, session, seat = await self.seat_access(request)
        action = request.match_info["action"]
        body = await self.json_object(request)
        if body is None:
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
