"""The auditor's HTTP client for the ledger API and the chain adapter for its contract.

Anything that keeps the auditor from checking (the API or the RPC unreachable, a refused token,
an answer that is not what the API documents, the wrong chain) raises :class:`Unverifiable`
with the reason in one line. Only the data, once read, can make a verdict ``invalid``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

import httpx
import typer

from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.domain.errors import ChainError, ProofError
from backend.entrypoints.cli.common import bi, choice

HTTP_TIMEOUT_S = 30


class Outcome(IntEnum):
    """An audit's verdict, which is also its exit status."""

    VALID = 0
    INVALID = 1
    UNVERIFIED = 2


UNVERIFIED_WORDS = "could not verify"
INVALID_WORDS = "invalid"


def unverified(reason: str) -> Outcome:
    print(f"{UNVERIFIED_WORDS}: {' '.join(reason.split())}")
    return Outcome.UNVERIFIED


def guarded(check: Callable[[], Outcome], rpc: str | None = None) -> Outcome:
    """Runs ``check``; what kept it from checking becomes ``could not verify`` with its reason."""
    try:
        return check()
    except Unverifiable as exc:
        return unverified(exc.reason)
    except ProofError as exc:  # raised by a check on the data itself
        print(f"{INVALID_WORDS}: {exc.detail}")
        return Outcome.INVALID
    except ChainError as exc:
        return unverified(rpc_reason(exc, rpc or "the chain RPC"))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        return unverified(f"malformed response from the API: {type(exc).__name__}: {exc}")


class Unverifiable(Exception):
    """The check could not be made; ``reason`` says why in one line. No verdict on the data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """Where the auditor looks: the ledger's API (for the log) and a chain RPC of their choice."""

    api: str | None = None
    rpc: str | None = None
    profile: str = "anvil"
    token: str | None = None


ApiOption = Annotated[str, typer.Option("--api", help=bi("base URL of the ledger API", "账本 API 的地址"))]
RpcOption = Annotated[
    str | None,
    typer.Option(
        "--rpc",
        help=bi(
            "chain RPC URL (default: CARBON_CHAIN_RPC_URL or the local Anvil)",
            "区块链 RPC 地址（默认本地链）",
        ),
    ),
]
ProfileOption = Annotated[str, choice(sorted(PROFILES), bi("chain profile", "链配置类型"), "--profile")]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CARBON_AUDIT_TOKEN",
        show_envvar=True,
        help=bi("auditor bearer token", "审计员访问令牌"),
    ),
]


def rpc_url(target: Target) -> str:
    if target.rpc:
        return target.rpc
    from backend.bootstrap.settings import get_settings

    return get_settings().resolved_rpc_url


def rpc_reason(exc: ChainError, url: str) -> str:
    """One line for a failed chain call: unreachable, timed out, or what the node said."""
    cause: BaseException | None = exc
    while cause is not None:
        # requests' errors (under web3's HTTP provider) are OSErrors; their timeouts say so by name.
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
            return f"RPC unreachable: {url} did not answer in time"
        if isinstance(cause, OSError):
            return f"RPC unreachable: nothing answers at {url} (is the chain node running? --rpc)"
        cause = cause.__cause__ or cause.__context__
    return f"the chain RPC at {url} failed: {' '.join(exc.detail.split())[:300]}"


def chain_for(target: Target, contract: str, chain_id: int) -> LedgerChain:
    """The ledger contract at ``contract`` through the auditor's RPC, checked to be on ``chain_id``.

    The wrong chain, or no contract at that address, is a reason the auditor cannot check
    (pointing ``--rpc`` elsewhere is not evidence of tampering), not an ``invalid`` verdict.
    """
    url = rpc_url(target)
    profile = PROFILES[target.profile]
    try:
        chain = LedgerChain(connect(url, profile), profile, contract)
        served = chain.chain_id()
        if served != chain_id:
            raise Unverifiable(
                f"the RPC at {url} serves chain {served}, the ledger anchors on chain {chain_id} "
                "(point --rpc at that chain)"
            )
        if not chain.code():
            raise Unverifiable(
                f"chain {served} at {url} has no contract at {contract} (is --rpc the ledger's chain node?)"
            )
    except ChainError as exc:
        raise Unverifiable(rpc_reason(exc, url)) from exc
    return chain


class Api:
    """GETs against the ledger API with the auditor's token; a failure to answer is Unverifiable."""

    def __init__(self, client: httpx.Client, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **params: Any) -> Any:
        base = str(self.client.base_url).rstrip("/")
        try:
            response = self.client.get(path, params=params, headers=self.headers)
        except httpx.TimeoutException:
            raise Unverifiable(f"API unreachable: {base} did not answer within {HTTP_TIMEOUT_S} s") from None
        except httpx.HTTPError as exc:
            raise Unverifiable(f"API unreachable: {base}: {exc}") from None
        if response.status_code == 401:
            raise Unverifiable(
                f"the API refused the token (401): pass an auditor token with --token or CARBON_AUDIT_TOKEN "
                f"({_problem(response)})"
            )
        if response.status_code == 403:
            raise Unverifiable(
                f"the API refused the token (403): it is not an auditor's token ({_problem(response)})"
            )
        if response.status_code != 200:
            raise Unverifiable(f"GET {path} answered {response.status_code}: {_problem(response)}")
        try:
            return response.json()
        except ValueError:
            raise Unverifiable(
                f"malformed response: GET {path} did not answer JSON ({response.text[:80]!r})"
            ) from None


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("title"))
    except (ValueError, AttributeError):
        return " ".join(response.text.split())[:200] or response.reason_phrase


@contextlib.contextmanager
def open_api(target: Target, client: httpx.Client | None = None) -> Iterator[Api]:
    """The API at ``target.api`` (``client`` lets tests call an in-process app)."""
    if client is not None:
        yield Api(client, target.token)
        return
    assert target.api is not None
    with httpx.Client(base_url=target.api, timeout=HTTP_TIMEOUT_S) as own:
        yield Api(own, target.token)
