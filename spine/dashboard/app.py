"""``build_app``: the Starlette application behind ``spine dashboard``.

Routes (every one behind ``security.Guard``: token, Host, same-origin):

    GET  /                 the page (``page.PAGE``): one tab per state folder
    GET  /events           server-sent events: the payload of every folder whenever it changes
    GET  /api/state        the same payload once, as JSON
    GET  /plotly.js        plotly.js from the installed ``plotly`` package (the page loads nothing from the network)
    GET  /runs/{path}      a file of a run folder under ``--runs`` (its ``report.html`` and what that links)
    POST /kill             ``{"folder": index, "reason": text}``: the kill the dashboard was built with

The kill is handed in by the command (``spine.cli.dashboard``): exactly what
``spine kill --state DIR --reason TEXT`` runs. There is no resume: it stays a typed
confirmation on the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from spine.core.errors import InputError, SafetyError
from spine.dashboard.page import render_page
from spine.dashboard.read_model import ViewSettings
from spine.dashboard.runs import run_file
from spine.dashboard.security import Guard, allowed_hosts
from spine.dashboard.watch import Watch

Kill = Callable[[Path, str], None]
MAX_REASON = 500


@dataclass(frozen=True)
class DashboardSettings:
    state_dirs: tuple[Path, ...]
    token: str
    host: str = "127.0.0.1"
    port: int = 8765
    runs_dir: Path | None = None
    view: ViewSettings = field(default_factory=ViewSettings)
    poll_secs: float = 0.1
    ping_secs: float = 15.0


def plotly_js() -> Path | None:
    """plotly.min.js as the ``plotly`` package ships it; None when plotly is not installed."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def build_app(settings: DashboardSettings, kill: Kill) -> Guard:
    watch = Watch(settings.state_dirs, settings.runs_dir, settings.view, poll_secs=settings.poll_secs)
    chart = plotly_js()

    async def page(request: Request) -> Response:
        names = [str(d) for d in settings.state_dirs]
        return HTMLResponse(render_page(names, with_plotly=chart is not None))

    async def state(request: Request) -> Response:
        await watch.refresh()
        return Response(watch.payload, media_type="application/json")

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[dict[str, str]]:
            seen = -1
            while True:
                version, payload = await watch.next_payload(seen, timeout=settings.ping_secs)
                if version != seen:
                    seen = version
                    yield {"event": "state", "data": payload}

        return EventSourceResponse(stream(), ping=settings.ping_secs)

    async def plotly(request: Request) -> Response:
        if chart is None:
            return PlainTextResponse("plotly is not installed\n", status_code=404)
        return FileResponse(chart, media_type="text/javascript")

    async def runs(request: Request) -> Response:
        target = run_file(settings.runs_dir, request.path_params["path"]) if settings.runs_dir else None
        if target is None:
            return PlainTextResponse("404 no such file in the runs folder\n", status_code=404)
        return FileResponse(target)

    kill_route = _kill_endpoint(settings, kill, watch)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(watch.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/events", events),
            Route("/api/state", state),
            Route("/plotly.js", plotly),
            Route("/runs/{path:path}", runs),
            Route("/kill", kill_route, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.watch = watch
    return Guard(app, token=settings.token, hosts=allowed_hosts(settings.host, settings.port))


def _kill_endpoint(settings: DashboardSettings, kill: Kill, watch: Watch) -> Callable[[Request], Awaitable[Response]]:
    """POST /kill: check the folder and the reason, then run the kill off the event loop."""

    async def kill_route(request: Request) -> Response:
        try:
            body = await request.json()
            index = int(body.get("folder", -1))
            reason = str(body.get("reason", "")).strip()
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": 'expected JSON {"folder": index, "reason": text}'}, status_code=400)
        if not 0 <= index < len(settings.state_dirs):
            return JSONResponse({"error": f"folder {index}: no such state folder tab"}, status_code=400)
        if not reason or len(reason) > MAX_REASON:
            return JSONResponse({"error": f"reason: say why trading is being stopped (1 to {MAX_REASON} characters)"},
                                status_code=400)  # fmt: skip
        state_dir = settings.state_dirs[index]
        try:
            await run_in_threadpool(kill, state_dir, reason)
        except (InputError, SafetyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        await watch.refresh()
        return JSONResponse({"killed": str(state_dir), "reason": reason})

    return kill_route
