"""Property-based fuzzing of every endpoint from the OpenAPI schema (schemathesis): no input, however
malformed, gets a 5xx or a dropped connection, and every answer is one the schema documents (its
status, its media type, a body valid against its schema: the Problem schema for every 4xx). Each
operation is called with a token of a role the role matrix allows, so the fuzzing reaches the
routes and not only the 401/403 in front of them.

Beyond the schema, each call also carries fuzzed headers (``Authorization`` schemes, idempotency
keys, the signed-delivery headers, content types, with any Latin-1 character an HTTP client can
send), and a second test signs tokens whose claims are any JSON at all (lists, objects, numbers
where strings belong) and checks that every route answers them with a 4xx, never a 5xx, and
grants nothing to a malformed one. Every exception a call raises is reported as a failure: none is
swallowed.

CI runs a bounded number of examples per operation; `pytest -m slow` runs many more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from backend.adapters.anvil import AnvilProcess
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database
from backend.api.app import create_app
from backend.api.permissions import RULES
from backend.bootstrap.settings import DEV_TOKEN_SECRET
from backend.domain.identity.access import ROLES
from backend.services.identity.tokens import ALGORITHM, ISSUER, issue_token
from tests.integration.ops_support import deployed_runtime, serving

pytestmark = pytest.mark.anvil

EXAMPLES = {"bounded": 6, "full": 60}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
"""Every answer is one the schema documents; with a fuzzed Authorization or Content-Type header
(outside the schema) only: never a server error."""
CLAIM_EXAMPLES = {"bounded": 60, "full": 600}
ORG = "fuzz-co"

_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).filter(lambda v: not v[:1].isspace())  # clients refuse to send a value with leading white space
"""What an HTTP client can put in a header value: printable Latin-1 (non-ASCII included: '²', 'é')."""
EXTRA_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Idempotency-Key": _header_text,
        "X-Carbon-Timestamp": st.one_of(
            st.sampled_from(["²", "¹²³", "9" * 400, "-1", "1e9"]),
            _header_text,
            st.integers(-(10**20), 10**20).map(str),
        ),
        "X-Carbon-Signature": st.one_of(_header_text, _header_text.map(lambda v: "v1=" + v)),
        "Content-Type": st.sampled_from(
            ["text/csv", "application/xml", "application/json; charset=latin-1", "é"]
        ),
        "Accept-Language": _header_text,
    },
)
AUTHORIZATION = st.one_of(
    _header_text,
    _header_text.map(lambda v: "Bearer " + v),
    _header_text.map(lambda v: "Bearer clk_" + v),
    st.just("Basic Zm9vOmJhcg=="),
    st.just("Bearer"),
)
"""Authorization headers that are wrong in every way: the answer is 401, never a 5xx."""
SOMETIMES_AUTHORIZATION = st.integers(0, 3).flatmap(lambda n: AUTHORIZATION if n == 3 else st.none())
"""A quarter of the calls fuzz Authorization; the others carry the role's token to reach the route."""
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
VALID_CLAIMS: dict[str, list[Any]] = {
    "sub": ["fuzz-employee"],
    "role": list(ROLES),
    "org": [ORG, None, "", "other-co"],
    "dept": [None, "d1"],
    "typ": ["dev", "access", "refresh"],
    "sid": [None, "00000000-0000-0000-0000-000000000000"],
    "iss": [ISSUER],
    "exp": [4_102_444_800],
    "iat": [0],
}


@st.composite
def _claims(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible token's claims with a few replaced by any JSON, or dropped."""
    claims = {name: draw(st.sampled_from(values)) for name, values in VALID_CLAIMS.items()}
    for name in draw(st.lists(st.sampled_from(sorted(VALID_CLAIMS)), max_size=3, unique=True)):
        if draw(st.booleans()):
            claims[name] = draw(JSON)
        else:
            del claims[name]
    return claims


CLAIMS = _claims()


def _token(role: str) -> str:
    return issue_token(DEV_TOKEN_SECRET, role, f"fuzz-{role}", ORG, 3600, kind="dev")


@pytest.fixture
def base_url(
    db: Database, database_url: str, anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path
) -> Iterator[str]:
    runtime = deployed_runtime(db, database_url, anvil, ledger_artifact, tmp_path)
    with serving(create_app(runtime)) as client:
        yield str(client.base_url).rstrip("/")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", ["bounded", pytest.param("full", marks=pytest.mark.slow)])
def test_no_input_gets_a_server_error(base_url: str, size: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tokens = {role: _token(role) for role in ROLES}
    failures: list[str] = []
    statuses: Counter[int | str] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        rule = RULES.get((operation.method.upper(), operation.path))
        role = sorted(rule.roles)[0] if rule and rule.roles else None
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        fuzz = _fuzzer(operation, headers, EXAMPLES[size], statuses, failures)
        recorded = len(failures)
        try:
            fuzz()
        except (Exception, FailureGroup) as exc:  # every error fails the test; the others are fuzzed first
            if len(failures) == recorded:  # not a server error the fuzzer recorded: the call itself failed
                failures.append(
                    f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {exc!s:.300}"
                )
    reached = sum(n for status, n in statuses.items() if isinstance(status, int) and status not in (401, 403))
    with_token = sum(n for status, n in statuses.items() if isinstance(status, int))
    print(f"\n[fuzz] operations={len(operations)} calls={sum(statuses.values())} statuses={dict(statuses)}")
    assert not failures, "\n".join(failures)
    assert reached > with_token / 2, "most calls with a role's token must get past authentication"
    assert statuses["fuzzed Authorization"] > 0


def _fuzzer(
    operation: Any,
    headers: dict[str, str],
    examples: int,
    statuses: Counter[int | str],
    failures: list[str],
) -> Any:
    @given(case=operation.as_strategy(), extra=EXTRA_HEADERS, authorization=SOMETIMES_AUTHORIZATION)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case, extra: dict[str, str], authorization: str | None) -> None:
        sent = {**extra, **headers}  # the role's token, unless this example fuzzes Authorization
        if authorization is not None:
            sent["Authorization"] = authorization
        try:
            response = case.call(headers=sent, timeout=30)
            statuses["fuzzed Authorization" if authorization is not None else response.status_code] += 1
            outside_schema = authorization is not None or "Content-Type" in extra
            case.validate_response(response, checks=[not_a_server_error] if outside_schema else CHECKS)
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path} {sent!r}: {_summary(exc)}")
            raise

    return fuzz


def _summary(exc: BaseException) -> str:
    """The failures' own messages (a group's text is only "found N distinct failures")."""
    parts = [str(e) for e in getattr(exc, "exceptions", ())] or [str(exc)]
    return " | ".join(" ".join(p.split())[:400] for p in parts)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims_token(claims: dict[str, Any]) -> str:
    """An HS256 token signed with the right key, whatever its claims (a JWT library would refuse
    to encode some of them, e.g. an ``iss`` that is not a string)."""
    signing_input = (
        _b64(json.dumps({"alg": ALGORITHM, "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    )
    mac = hmac.new(DEV_TOKEN_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _well_formed(claims: dict[str, Any]) -> bool:
    """Claims the ledger may accept: every text claim a string, a known role and token type."""
    texts = all(isinstance(claims.get(k), str) and claims[k] for k in ("sub", "iss"))
    optional = all(claims.get(k) is None or isinstance(claims[k], str) for k in ("org", "dept", "sid"))
    return texts and optional and claims.get("role") in ROLES and claims.get("typ") in ("dev", "access")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", ["bounded", pytest.param("full", marks=pytest.mark.slow)])
def test_no_token_claims_get_a_server_error(base_url: str, size: str) -> None:
    """Tokens signed with the right key but any claims at all: a 4xx, never a 5xx, and nothing
    granted to claims of the wrong type."""
    paths = sorted(
        path
        for method, path in RULES
        if method == "GET" and "{" not in path and not RULES[(method, path)].public
    )
    failures: list[str] = []
    statuses: Counter[int] = Counter()

    @given(claims=CLAIMS, path=st.sampled_from(paths))
    @settings(
        max_examples=CLAIM_EXAMPLES[size],
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(claims: dict[str, Any], path: str) -> None:
        token = _claims_token(claims)
        try:
            response = httpx.get(
                f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        except Exception as exc:
            failures.append(f"{path} {json.dumps(claims)}: {type(exc).__name__}: {exc}")
            raise
        statuses[response.status_code] += 1
        if response.status_code >= 500 or (response.is_success and not _well_formed(claims)):
            failures.append(f"{path} {json.dumps(claims)}: {response.status_code} {response.text[:200]}")
            raise AssertionError(failures[-1])

    try:
        fuzz()
    except Exception as exc:
        if not failures:
            failures.append(f"{type(exc).__name__}: {exc}")
    print(f"\n[fuzz claims] paths={len(paths)} calls={sum(statuses.values())} statuses={dict(statuses)}")
    assert not failures, "\n".join(failures)
    assert statuses[401] > 0 and sum(n for s, n in statuses.items() if s < 300) > 0, (
        "both refusals and grants"
    )
