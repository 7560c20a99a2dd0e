"""``spine dashboard``: a local, read-only web page over running and past sessions, with a kill button.

    app        ``build_app``, ``DashboardSettings``: the Starlette routes (page, events, state, plotly.js, runs, kill)
    page       the one HTML page and the script that renders each payload (nothing from the network)
    read_model ``read_folder``: one state folder's session, NAV, positions with legs, orders, fills, P&L, gate
    readonly   SQLite opened with ``mode=ro`` URIs, one connection per read; the files' change signature
    runs       the run folders under ``--runs`` and the files a request may read there
    security   ``Guard``: the token, the Host header, same-origin POSTs, the content security policy
    serve      bind, print the URL with its token, run uvicorn
    watch      ``Watch``: one poller reading the folders again when a file changes, waking the streams

It sits just below ``spine.cli`` and above the routes, and reads only: the state store and
the IB journal (``spine.ib.snapshots`` adds what the page needs to it) are opened
read-only. The one write is the kill, handed in by the command: the code path of
``spine kill``.
"""

from spine.dashboard.app import DashboardSettings, build_app
from spine.dashboard.read_model import ViewSettings, read_folder

__all__ = ["DashboardSettings", "ViewSettings", "build_app", "read_folder"]
