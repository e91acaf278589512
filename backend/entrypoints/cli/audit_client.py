"""The auditor's HTTP client for the ledger API and the chain adapter for its contract."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx

from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.domain.errors import ProofError

HTTP_TIMEOUT_S = 30


def api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", required=True, help="base URL of the ledger API")
    parser.add_argument("--rpc", default=None)
    parser.add_argument("--profile", default="anvil", choices=sorted(PROFILES))
    parser.add_argument(
        "--token",
        default=os.environ.get("CARBON_AUDIT_TOKEN"),
        help="auditor bearer token (default: $CARBON_AUDIT_TOKEN)",
    )


def rpc_url(args: argparse.Namespace) -> str:
    if args.rpc:
        return str(args.rpc)
    from backend.settings import get_settings

    return get_settings().resolved_rpc_url


def chain_for(args: argparse.Namespace, contract: str) -> LedgerChain:
    profile = PROFILES[args.profile]
    return LedgerChain(connect(rpc_url(args), profile), profile, contract)


class Api:
    """GETs against the ledger API with the auditor's token; any non-200 is a ProofError."""

    def __init__(self, client: httpx.Client, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.headers)
        if response.status_code != 200:
            raise ProofError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()


@contextlib.contextmanager
def open_api(args: argparse.Namespace, client: httpx.Client | None) -> Iterator[Api]:
    if client is not None:
        yield Api(client, args.token)
        return
    with httpx.Client(base_url=args.api, timeout=HTTP_TIMEOUT_S) as own:
        yield Api(own, args.token)
