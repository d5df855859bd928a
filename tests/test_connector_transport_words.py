"""Transport failures are told in plain words at the source (Connector.http / fetch): the
user reads the cause ("connection refused"), never an httpx class name ("ConnectError")."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading

import httpx
import pytest
import respx

from chatdesk.connectors.base import AccountConfig, ChatRef, TransientError
from chatdesk.connectors.yandex import HOST, YandexConnector

API = f"{HOST}/v2/businesses/777"
TOKEN = "ACMA:transport-words-test-token-000000"

# (raised by the transport, words the user must read, reached_server)
CASES = [
    (httpx.ConnectError("[Errno 111] Connection refused"), "cannot reach YM: connection refused", False),
    (httpx.ConnectError("All connection attempts failed"), "cannot reach YM: connection refused", False),
    (
        httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
        "cannot reach YM: TLS handshake failed (is the address https?)",
        False,
    ),
    (httpx.ConnectError("[Errno -2] Name or service not known"), "cannot reach YM: the host name was not found", False),
    (httpx.ConnectTimeout("timed out"), "cannot reach YM: the connection timed out", False),
    (httpx.PoolTimeout("pool"), "cannot reach YM: too many requests at once", False),
    (httpx.UnsupportedProtocol("ftp"), "cannot reach YM: the address is not an http or https address", False),
    (httpx.LocalProtocolError("bad header"), "cannot reach YM: the request could not be sent", False),
    (httpx.ReadTimeout("slow"), "no answer from YM: no answer in time", True),
    (httpx.WriteTimeout("slow"), "no answer from YM: the request could not be sent in time", True),
    (httpx.RemoteProtocolError("Server disconnected"), "no answer from YM: the connection broke off", True),
    (httpx.ReadError("reset"), "no answer from YM: the connection broke off", True),
    (httpx.WriteError("broken pipe"), "no answer from YM: the connection broke off", True),
    (httpx.ProxyError("407"), "no answer from YM: the proxy refused the connection", True),
]
CLASS_NAMES = ("Error", "Timeout", "Exception", "Protocol")


def connector(base_url: str | None = None) -> YandexConnector:
    account = AccountConfig("shop", "yandex", TOKEN, base_url, {"business_id": "777"})
    return YandexConnector(account, httpx.AsyncClient(timeout=5))


@pytest.mark.parametrize(
    ("exc", "words", "reached"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None
)
@respx.mock
async def test_each_transport_failure_says_its_cause(exc: Exception, words: str, reached: bool) -> None:
    respx.post(f"{API}/chats").mock(side_effect=exc)
    with pytest.raises(TransientError) as info:
        await connector().test()
    assert info.value.message.startswith(words), info.value.message
    assert not any(name in info.value.message for name in CLASS_NAMES), info.value.message
    assert info.value.reached_server is reached


@respx.mock
async def test_download_failure_says_its_cause() -> None:
    from chatdesk.connectors.base import Attachment

    respx.get("https://files.example/a").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(TransientError) as info:
        await connector().download(ChatRef("5"), Attachment(name="a.pdf", url="https://files.example/a"))
    assert "cannot download from YM: connection refused" in info.value.message
    assert "ConnectError" not in info.value.message


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_closed_port_is_connection_refused() -> None:
    """The new user's case: ``chatdesk account test ym-dead`` with a base URL on a closed port."""
    with pytest.raises(TransientError) as info:
        await connector(f"http://127.0.0.1:{_closed_port()}").test()
    assert info.value.message == "cannot reach YM: connection refused"
    assert info.value.reached_server is False


async def test_https_to_a_plain_http_server_is_a_tls_failure() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(TransientError) as info:
            await connector(f"https://127.0.0.1:{server.server_address[1]}").test()
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.message == "cannot reach YM: TLS handshake failed (is the address https?)"
    assert not isinstance(info.value.__cause__, ssl.SSLError)
