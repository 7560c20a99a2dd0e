"""``serve``: bind the socket, print the URL with its token, and run uvicorn until Ctrl-C or SIGTERM.

The socket is bound before anything is printed, so the URL names the real port (``--port 0``
asks the system for a free one) and a port in use is one clear line, not a traceback.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

import uvicorn

from spine.core.errors import InputError
from spine.dashboard.app import DashboardSettings, Kill, build_app


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    sock.listen(128)  # connections wait in the backlog from now on, before uvicorn has started
    sock.set_inheritable(True)
    return sock


def url(settings: DashboardSettings) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}/?token={settings.token}"


def serve(settings: DashboardSettings, kill: Kill, *, out: TextIO = sys.stdout,
          ready: Callable[[str], None] | None = None) -> None:  # fmt: skip
    """Serve until stopped; prints the URL (and calls ``ready`` with it) once the socket listens."""
    sock = bind(settings.host, settings.port)
    settings = replace(settings, port=sock.getsockname()[1])
    app = build_app(settings, kill)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    link = url(settings)
    print(f"spine dashboard: {link}", file=out, flush=True)
    if ready is not None:
        ready(link)
    server.run(sockets=[sock])
