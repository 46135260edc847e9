"""JSON-RPC 2.0 over HTTP: the one HTTP stack of the chain adapter (reads, logs and writes).

One :class:`requests.Session` per endpoint (keep-alive); a long-lived reader whose environment is
frozen (:meth:`Rpc.freeze_environment`, no proxy or .netrc credentials) posts its JSON-RPC through
a bare urllib3 connection pool instead: the same HTTP, a fraction of the per-call overhead.
Network faults (refused connections, timeouts, rate limits, 5xx, garbage) become
:class:`ChainUnavailable`, so callers can report INDETERMINATE instead of INVALID; a JSON-RPC
error answer the caller wants to inspect (a revert, "nonce too low") is an :class:`RpcError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import requests
import urllib3

from registry.errors import ChainUnavailable, NotARegistry

__all__ = ["Rpc", "RpcError"]


class RpcError(Exception):
    """The node answered a request with a JSON-RPC error object.

    Never leaves the chain package: readers turn it into ChainUnavailable, writers into
    TransactionFailed (reverts) or an outcome (``already known``, ``nonce too low``).
    """

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"{method}: {message}")

    @property
    def is_revert(self) -> bool:
        """True for an execution revert (EIP-1474 code 3, or a node's "execution reverted")."""
        return self.code == 3 or "revert" in self.message.lower()

    @property
    def revert_data(self) -> str | None:
        """The revert data (0x-hex) when the node included it."""
        data = self.data.get("data") if isinstance(self.data, dict) else self.data
        return data if isinstance(data, str) and data.startswith("0x") else None


class Rpc:
    """A JSON-RPC endpoint."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self._pool: urllib3.HTTPConnectionPool | None = None
        self._target = ""
        self._headers: dict[str, str] = {}

    def freeze_environment(self) -> None:
        """Read once what requests reads from the environment on *every* call (proxies, CA
        bundle, .netrc): a long-lived service does not change its environment, and scanning it
        cost a good part of each verify request."""
        session = self.session
        session.proxies.update(requests.utils.get_environ_proxies(self.url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        auth = requests.utils.get_netrc_auth(self.url)
        if auth:
            session.auth = auth
        session.trust_env = False
        parsed = urllib3.util.parse_url(self.url)
        if not session.proxies and not auth and parsed.scheme in ("http", "https") and not parsed.auth:
            # What requests would send and check (its CA bundle, its headers), without its layers.
            ca = bundle or requests.utils.DEFAULT_CA_BUNDLE_PATH
            tls = {"cert_reqs": "CERT_REQUIRED", ("ca_cert_dir" if os.path.isdir(ca) else "ca_certs"): ca}
            self._pool = urllib3.connection_from_url(
                self.url,
                maxsize=32,
                block=False,
                retries=False,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                **(tls if parsed.scheme == "https" else {}),
            )
            self._target = parsed.request_uri
            self._headers = {
                "User-Agent": requests.utils.default_user_agent(),
                "Accept-Encoding": "gzip, deflate",
                "Accept": "*/*",
                "Content-Type": "application/json",
            }

    def post(self, payload: Any) -> requests.Response:
        """POST one JSON-RPC payload; transport errors are the caller's to map."""
        return self.session.post(self.url, json=payload, timeout=self.timeout)

    def _answer(self, payload: Any, what: str) -> Any:
        if self._pool is not None:
            try:
                fast = self._pool.urlopen(
                    "POST",
                    self._target,
                    body=json.dumps(payload, allow_nan=False).encode(),
                    headers=self._headers,
                    retries=False,
                    redirect=False,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ChainUnavailable(self.url, f"{what}{type(exc).__name__}: {exc}") from exc
            if not 300 <= fast.status < 400:  # a redirect: requests follows it, below
                return self._decode(fast.status, fast.data)
        try:
            resp = self.post(payload)
        except requests.RequestException as exc:
            raise ChainUnavailable(self.url, f"{what}{type(exc).__name__}: {exc}") from exc
        return self._decode(resp.status_code, resp.content)

    def _decode(self, status: int, content: bytes) -> Any:
        if status == 429:
            raise ChainUnavailable(self.url, "rate limited (HTTP 429)")
        if status >= 400:
            raise ChainUnavailable(self.url, f"HTTP {status}")
        try:
            return json.loads(content)
        except ValueError as exc:
            raise ChainUnavailable(self.url, "the answer is not JSON") from exc

    def request(self, method: str, params: Sequence[Any]) -> Any:
        """One request; a JSON-RPC error answer raises :class:`RpcError`."""
        body = self._answer({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, f"{method}: ")
        if not isinstance(body, dict):
            raise ChainUnavailable(self.url, f"{method}: malformed answer")
        if "error" in body:
            err = body["error"]
            if isinstance(err, dict):
                code = err.get("code")
                raise RpcError(method, code if isinstance(code, int) else None, str(err.get("message", err)), err)
            raise RpcError(method, None, str(err))
        if "result" not in body:
            raise ChainUnavailable(self.url, f"{method}: malformed answer")
        return body["result"]

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """One request; every failure, a JSON-RPC error answer included, is ChainUnavailable."""
        try:
            return self.request(method, params)
        except RpcError as exc:
            raise ChainUnavailable(self.url, str(exc)) from exc

    def batch(self, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Send JSON-RPC requests as one HTTP batch; results in order.

        Transport faults, HTTP 429/5xx, malformed answers and JSON-RPC errors all raise
        ChainUnavailable (a node that cannot answer is never evidence against a credential),
        except a reverting ``eth_call``: the contract there is not a registry (NotARegistry).
        """
        if not requests_:
            return []
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(requests_)]
        body = self._answer(payload, "")
        if isinstance(body, dict):  # some nodes answer a batch with one error object
            message = body.get("error", {}).get("message", "batch rejected")
            raise ChainUnavailable(self.url, f"batch request rejected: {message}")
        if not isinstance(body, list) or len(body) != len(payload):
            raise ChainUnavailable(self.url, "malformed batch answer")
        by_id: dict[Any, Any] = {}
        for answer in body:
            if not isinstance(answer, dict) or "id" not in answer:
                raise ChainUnavailable(self.url, "malformed batch answer")
            if "error" in answer:
                err = answer["error"]
                msg = str(err.get("message", err) if isinstance(err, dict) else err)
                method, params = requests_[answer["id"]]
                if method == "eth_call" and "revert" in msg.lower():
                    raise NotARegistry(str(params[0].get("to")), msg)
                raise ChainUnavailable(self.url, f"{method}: {msg}")
            by_id[answer["id"]] = answer.get("result")
        try:
            return [by_id[i] for i in range(len(payload))]
        except KeyError as exc:
            raise ChainUnavailable(self.url, "batch answer is missing results") from exc
