"""``carbon-ledger dev-token``: a bearer token for trying the API locally (``CARBON_ENV=local`` only)."""

from __future__ import annotations

from typing import Annotated

import typer

from backend.entrypoints.cli.common import bi, choice, fail, settings
from backend.services.identity.tokens import ROLES, issue_token


def register(app: typer.Typer) -> None:
    app.command(
        "dev-token",
        help=bi("print a bearer token (CARBON_ENV=local only)", "生成本地开发用的访问令牌（仅限本地模式）"),
    )(dev_token)


def dev_token(
    role: Annotated[str, choice(ROLES, bi("role of the token", "令牌角色"))],
    subject: Annotated[str, typer.Option(help=bi("employee or staff id", "员工或工作人员编号"))],
    org: Annotated[str | None, typer.Option(help=bi("company id", "企业编号"))] = None,
    dept: Annotated[
        str | None, typer.Option(help=bi("department id within the company", "企业内部门编号"))
    ] = None,
    ttl: Annotated[
        int, typer.Option(min=1, help=bi("lifetime in seconds (default one day)", "有效期（秒）"))
    ] = 86_400,
) -> None:
    config = settings()
    if not config.is_local:
        fail("dev-token: refused outside CARBON_ENV=local")
    print(issue_token(config.token_secret, role, subject, org, ttl, kind="dev", dept=dept))
