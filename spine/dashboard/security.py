"""Who may talk to the dashboard: the token, the Host header, and same-origin for every state-changing request.

``Guard`` is plain ASGI middleware in front of every route:

- every HTTP request carries the token printed at start, in the URL (``?token=``) or in
  the cookie the page sets from it (``HttpOnly``, ``SameSite=Strict``, so a report's own
  relative links work); without it: 403;
- the ``Host`` header must name the address the dashboard listens on (or ``localhost``
  for a loopback address): a page on another site that resolves its name to 127.0.0.1
  (DNS rebinding) is refused; listening on every address (``0.0.0.0``), any name passes;
- a request that changes anything must be a ``POST`` with the token in the
  ``X-Spine-Token`` header (a cookie alone is not enough) and an ``Origin`` naming the
  host the request was sent to (its ``Host`` header) (``Sec-Fetch-Site``, when the browser sends it, must be ``same-origin``): a
  form or script on another origin is refused with 403.

Every answer carries a content security policy that lets the page load nothing but its
own resources (``default-src 'self'``): no request leaves the machine.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_COOKIE = "spine_dashboard_token"
TOKEN_HEADER = "x-spine-token"
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The ``Host`` header values this dashboard answers to; None (any) when it listens on every address."""
    if host in ("0.0.0.0", "::", ""):
        return None  # reached by whatever name the network gives the machine: the token alone guards it
    names = {host}
    if is_loopback(host):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    return frozenset({f"{n}:{port}" for n in names} | ({f"{host}"} if port == 80 else set()))


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def request_token(scope: Scope, headers: dict[str, str]) -> str:
    """The token a request carries: the header, else the query, else the cookie."""
    if headers.get(TOKEN_HEADER):
        return headers[TOKEN_HEADER]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header is no token
        return ""
    morsel = cookie.get(TOKEN_COOKIE)
    return morsel.value if morsel is not None else ""


def refusal(scope: Scope, headers: dict[str, str], token: str, hosts: frozenset[str] | None) -> str:
    """Why this request is refused ("" when it is let through)."""
    if hosts is not None and headers.get("host", "") not in hosts:
        return "unknown Host header"
    if not secrets.compare_digest(request_token(scope, headers).encode(), token.encode()):
        return "token missing or wrong: open the URL printed at start"
    if scope.get("method", "GET") in ("GET", "HEAD"):
        return ""
    if scope.get("method") != "POST":
        return "method not allowed"
    if not secrets.compare_digest(headers.get(TOKEN_HEADER, "").encode(), token.encode()):
        return "a state-changing request needs the token in its X-Spine-Token header"
    origin = headers.get("origin", "")
    parts = urlsplit(origin)
    if not origin or parts.scheme != "http" or parts.netloc != headers.get("host", ""):
        return "cross-origin request refused"
    if headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return "cross-origin request refused"
    return ""


class Guard:
    """ASGI middleware: refuse with 403 what ``refusal`` names; set the token cookie and the CSP on what passes."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, token: str,
                 hosts: frozenset[str] | None) -> None:  # fmt: skip
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        why = refusal(scope, headers, self.token, self.hosts)
        if why:
            body = f"403 forbidden: {why}\n".encode()
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                (b"content-security-policy", CSP.encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
                         (b"set-cookie", f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode())]  # fmt: skip
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
