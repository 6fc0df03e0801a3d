"""The instructor's background jobs: a check or a reset takes seconds to minutes, so it runs as a job
the dashboard follows (``/api/instructor/jobs/<id>``), one at a time per seat.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import web

from ..errors import LabError
from ..sessions import SessionError
from .base import WebBase

MAX_JOBS_KEPT = 200


class Jobs(WebBase):
    """Starts the instructor's checks and resets as jobs, and cancels those still running on shutdown."""

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

    async def on_shutdown(self, app: web.Application) -> None:
        for j in list(self.jobs.values()):
            task = j.get("_task")
            if task is not None and not task.done():
                task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _summary(kind: str, result: Any) -> str:
    if kind == "check" and isinstance(result, dict):
        return "; ".join(f"{seat}: {getattr(r, 'status', None) or 'no verdict: ' + str(r)}"
                         for seat, r in result.items()) or "no seat to check"
    if kind.startswith("reset") and hasattr(result, "seat"):
        return f"{result.seat}: {result.fault} ({result.variant}) injected; machine {result.machine}"
    return "done"
