"""The WeChat code2Session adapter against a local fake of WeChat's HTTP API (never the real one)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from backend.adapters.anvil import free_port
from backend.adapters.identity_providers import DevProvider, WeChatProvider, build_provider
from backend.domain.errors import ConfigurationError, InvalidInput, Unauthenticated, UpstreamError


class FakeWeChat(BaseHTTPRequestHandler):
    """Answers like api.weixin.qq.com/sns/jscode2session, by login code."""

    requests: ClassVar[list[dict[str, list[str]]]] = []
    ANSWERS: ClassVar[dict[str, tuple[int, bytes]]] = {
        "good": (200, json.dumps({"openid": "oABC123", "session_key": "secret-session"}).encode()),
        "good0": (200, json.dumps({"openid": "oXYZ", "session_key": "k", "errcode": 0}).encode()),
        "used": (200, json.dumps({"errcode": 40029, "errmsg": "invalid code"}).encode()),
        "risky": (200, json.dumps({"errcode": 40226, "errmsg": "high risk"}).encode()),
        "busy": (200, json.dumps({"errcode": -1, "errmsg": "system error"}).encode()),
        "limited": (200, json.dumps({"errcode": 45011, "errmsg": "freq limit"}).encode()),
        "html": (200, b"<html>gateway</html>"),
        "noid": (200, b"{}"),
        "down": (502, b"bad gateway"),
    }

    def do_GET(self) -> None:  # http.server's naming
        url = urlparse(self.path)
        query = parse_qs(url.query)
        FakeWeChat.requests.append({"path": [url.path], **query})
        status, body = self.ANSWERS.get(query.get("js_code", [""])[0], (200, b'{"errcode": 40029}'))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")  # as WeChat labels its JSON
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_wechat() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _provider(base: str) -> WeChatProvider:
    return WeChatProvider("wx-app-id", "wx-app-secret", base, timeout_s=5)


def test_code_is_exchanged_for_the_openid(fake_wechat: str) -> None:
    FakeWeChat.requests.clear()
    identity = _provider(fake_wechat).exchange("good")
    assert (identity.provider, identity.subject) == ("wechat", "oABC123")
    assert _provider(fake_wechat).exchange("good0").subject == "oXYZ"
    sent = FakeWeChat.requests[0]
    assert sent["path"] == ["/sns/jscode2session"]
    assert (sent["appid"], sent["secret"], sent["js_code"], sent["grant_type"]) == (
        ["wx-app-id"],
        ["wx-app-secret"],
        ["good"],
        ["authorization_code"],
    )


@pytest.mark.parametrize("code", ["used", "risky"])
def test_refused_codes_are_unauthenticated(fake_wechat: str, code: str) -> None:
    with pytest.raises(Unauthenticated, match="errcode"):
        _provider(fake_wechat).exchange(code)


@pytest.mark.parametrize("code", ["busy", "limited", "html", "noid", "down"])
def test_wechat_failures_are_upstream_errors(fake_wechat: str, code: str) -> None:
    with pytest.raises(UpstreamError):
        _provider(fake_wechat).exchange(code)


def test_unreachable_wechat_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="unreachable"):
        _provider(f"http://127.0.0.1:{free_port()}").exchange("good")


def test_codes_are_bounded_and_providers_configured() -> None:
    with pytest.raises(InvalidInput):
        DevProvider().exchange("x" * 300)
    with pytest.raises(Unauthenticated):
        DevProvider().exchange("not-a-dev-code")
    assert DevProvider().exchange("dev:wx-li").subject == "wx-li"
    with pytest.raises(ConfigurationError):
        build_provider("wechat", app_id=None, app_secret=None, api_base="http://x", timeout_s=1)
    with pytest.raises(ConfigurationError):
        build_provider("ldap", app_id=None, app_secret=None, api_base="http://x", timeout_s=1)
