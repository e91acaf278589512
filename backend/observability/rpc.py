"""A web3 HTTP provider that counts every JSON-RPC request, its errors and its duration."""

from __future__ import annotations

import time
from typing import Any

from web3 import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from backend.observability import metrics


class InstrumentedHTTPProvider(HTTPProvider):
    """:class:`web3.HTTPProvider` recording :data:`metrics.CHAIN_RPC_REQUESTS` and friends.

    A transport failure (refused connection, timeout, HTTP error) is counted once per request,
    after the provider's own retries; an error object in the answer (a revert, a nonce too low)
    is counted as kind ``rpc``.
    """

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        label = metrics.bounded_label("rpc_method", str(method))
        metrics.CHAIN_RPC_REQUESTS.labels(label).inc()
        started = time.perf_counter()
        try:
            response = super().make_request(method, params)
        except Exception:
            metrics.CHAIN_RPC_ERRORS.labels(label, "transport").inc()
            raise
        finally:
            metrics.CHAIN_RPC_LATENCY.labels(label).observe(time.perf_counter() - started)
        if isinstance(response, dict) and response.get("error"):
            metrics.CHAIN_RPC_ERRORS.labels(label, "rpc").inc()
        return response
