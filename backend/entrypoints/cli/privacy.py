"""``carbon-ledger privacy …``: erase a person's personal data and commitment key (PIPL art. 47).

The same use case as ``POST /api/v1/privacy/erasures``, for an operator at the server's console.
Erasure cannot be undone; it asks for confirmation unless ``--yes`` is given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from backend.entrypoints.cli.common import bi, choice, runtime
from backend.services.privacy import erasure

app = typer.Typer(help=bi("Privacy: erase a person's data", "个人信息：删除个人数据"), no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="privacy")


@app.command(
    "erase",
    help=bi(
        "erase an employee's personal data and key; logs an erasure record (nothing personal in it)",
        "删除员工的个人信息及其密钥；记录一条删除记录（不含个人信息）",
    ),
)
def erase(
    subject: Annotated[
        str, typer.Option(help=bi("the employee's id (internal, as listed)", "员工的系统内部 ID"))
    ],
    basis: Annotated[
        str, choice(tuple(erasure.BASES), bi("why (PIPL art. 47)", "删除依据（个人信息保护法第四十七条）"))
    ] = "employee_request",
    yes: Annotated[bool, typer.Option("--yes", help=bi("do not ask for confirmation", "不再确认"))] = False,
) -> None:
    if not yes:
        typer.confirm(f"erase subject {subject}? this cannot be undone / 删除后无法恢复，确认？", abort=True)
    with runtime() as built:
        result = erasure.erase_subject(built.db, subject, basis, "operator", datetime.now(UTC))
    print(json.dumps({**result.public(), "created": result.created}, ensure_ascii=False))
