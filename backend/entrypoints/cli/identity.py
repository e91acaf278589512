"""Identity commands: create the park's first companies and staff accounts from the command line
(after that, operators use the API). Passwords come from an environment variable or a prompt,
never from the command line, where other users of the machine could read them."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from backend.domain.identity.access import STAFF_ROLES
from backend.entrypoints.cli.common import bi, choice, runtime
from backend.services.identity import enrollment, staff

PASSWORD_ENV = "CARBON_NEW_STAFF_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def register(app: typer.Typer) -> None:
    app.command("company-create", help=bi("add a company to the park", "在园区中添加企业"))(company_create)
    app.command(
        "staff-create",
        help=bi(
            f"create a staff account (password from ${PASSWORD_ENV} or a prompt)",
            f"创建工作人员账号（密码取自 ${PASSWORD_ENV} 或交互输入）",
        ),
    )(staff_create)


def company_create(
    id: Annotated[str, typer.Option("--id", help=bi("short id, e.g. acme", "企业短编号，如 acme"))],
    name: Annotated[str, typer.Option(help=bi("the company's name", "企业名称"))],
) -> None:
    with runtime() as built:
        enrollment.create_company(built.db, id, name, datetime.now(UTC))
    print(f"company {id} created")


def staff_create(
    username: Annotated[str, typer.Option(help=bi("sign-in name", "登录名"))],
    role: Annotated[str, choice(STAFF_ROLES, bi("staff role", "工作人员角色"))],
    company: Annotated[
        str | None, typer.Option(help=bi("company id (company_admin only)", "企业编号（仅企业管理员）"))
    ] = None,
) -> None:
    with runtime() as built:
        password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {username}: ")
        row = staff.create_staff(built.db, username, password, role, company, datetime.now(UTC))
        print(f"staff account {row.username} ({row.role}) created: id {row.id}")
