"""Who the dashboard answers: the token, the Host header, same-origin POSTs (pure: ASGI scopes, no socket)."""

from __future__ import annotations

from spine.dashboard.runs import run_file
from spine.dashboard.security import allowed_hosts, is_loopback, refusal

TOKEN = "s3cret"
HOSTS = allowed_hosts("127.0.0.1", 8765)
HOME = "http://127.0.0.1:8765"


def scope(method: str = "GET", query: str = "") -> dict:
    return {"type": "http", "method": method, "query_string": query.encode(), "headers": []}


def test_a_get_needs_the_token_in_the_url_or_the_cookie():
    assert refusal(scope(query=f"token={TOKEN}"), {"host": "127.0.0.1:8765"}, TOKEN, HOSTS) == ""
    assert refusal(scope(), {"host": "localhost:8765", "cookie": f"spine_dashboard_token={TOKEN}"}, TOKEN, HOSTS) == ""
    assert "token" in refusal(scope(), {"host": "127.0.0.1:8765"}, TOKEN, HOSTS)
    assert "token" in refusal(scope(query="token=guess"), {"host": "127.0.0.1:8765"}, TOKEN, HOSTS)


def test_another_host_name_is_refused_even_with_the_token():
    assert refusal(scope(query=f"token={TOKEN}"), {"host": "evil.example:8765"}, TOKEN, HOSTS) == "unknown Host header"


def test_a_post_needs_the_token_header_and_this_origin():
    ok = {"host": "127.0.0.1:8765", "x-spine-token": TOKEN, "origin": HOME}
    assert refusal(scope("POST"), ok, TOKEN, HOSTS) == ""
    assert "cross-origin" in refusal(scope("POST"), {**ok, "origin": "http://evil.example"}, TOKEN, HOSTS)
    assert "cross-origin" in refusal(scope("POST"), {**ok, "sec-fetch-site": "same-site"}, TOKEN, HOSTS)
    no_origin = {k: v for k, v in ok.items() if k != "origin"}
    assert "cross-origin" in refusal(scope("POST"), no_origin, TOKEN, HOSTS)
    by_query = scope("POST", query=f"token={TOKEN}")
    assert "X-Spine-Token" in refusal(by_query, {"host": "127.0.0.1:8765", "origin": HOME}, TOKEN, HOSTS)
    assert refusal(scope("DELETE"), ok, TOKEN, HOSTS) == "method not allowed"


def test_only_loopback_addresses_count_as_loopback():
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.com"))


def test_a_run_file_outside_the_runs_folder_is_never_served(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "report.html").write_text("<html></html>")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "runs" / "link").symlink_to(tmp_path / "secret.txt")
    root = tmp_path / "runs"
    assert run_file(root, "a/report.html") == (root / "a" / "report.html").resolve()
    for bad in ("../secret.txt", "link", str(tmp_path / "secret.txt"), "a", "a/missing.html"):
        assert run_file(root, bad) is None, bad


def test_listening_on_every_address_any_host_name_passes_but_the_origin_must_still_match_it():
    anywhere = allowed_hosts("0.0.0.0", 8765)
    headers = {"host": "desk-7.lan:8765", "x-spine-token": TOKEN, "origin": "http://desk-7.lan:8765"}
    assert anywhere is None
    assert refusal(scope("POST"), headers, TOKEN, anywhere) == ""
    assert "cross-origin" in refusal(scope("POST"), {**headers, "origin": "http://evil.example"}, TOKEN, anywhere)
    assert "token" in refusal(scope(), {"host": "desk-7.lan:8765"}, TOKEN, anywhere)
