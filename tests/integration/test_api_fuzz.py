"""Property-based fuzzing of every endpoint from the OpenAPI schema (schemathesis): no input, however
malformed, gets a 5xx or a dropped connection, and every answer is one the schema documents (its
status, its media type, a body valid against its schema: the Problem schema for every 4xx). Each
operation is called with a token of a role the role matrix allows, so the fuzzing reaches the
routes and not only the 401/403 in front of them.

CI runs a bounded number of examples per operation; `pytest -m slow` runs many more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
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
from backend.domain.access import ROLES
from backend.services.tokens import issue_token
from tests.integration.ops_support import deployed_runtime, serving

pytestmark = pytest.mark.anvil

EXAMPLES = {"bounded": 6, "full": 60}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ORG = "fuzz-co"


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
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        rule = RULES.get((operation.method.upper(), operation.path))
        role = sorted(rule.roles)[0] if rule and rule.roles else None
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        fuzz = _fuzzer(operation, headers, EXAMPLES[size], statuses, failures)
        try:
            fuzz()
        except (Exception, FailureGroup):  # recorded in failures; keep fuzzing the other operations
            continue
    reached = sum(n for status, n in statuses.items() if status not in (401, 403))
    print(f"\n[fuzz] operations={len(operations)} calls={sum(statuses.values())} statuses={dict(statuses)}")
    assert not failures, "\n".join(failures)
    assert reached > sum(statuses.values()) / 2, "most calls must get past authentication to the routes"


def _fuzzer(
    operation: Any, headers: dict[str, str], examples: int, statuses: Counter[int], failures: list[str]
) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(headers=headers, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {_summary(exc)}")
            raise

    return fuzz


def _summary(exc: BaseException) -> str:
    """The failures' own messages (a group's text is only "found N distinct failures")."""
    parts = [str(e) for e in getattr(exc, "exceptions", ())] or [str(exc)]
    return " | ".join(" ".join(p.split())[:400] for p in parts)
