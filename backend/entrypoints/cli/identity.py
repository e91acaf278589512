"""Identity commands: create the park's first companies and staff accounts from the command line
(after that, operators use the API). Passwords come from an environment variable or a prompt,
never from the command line, where other users of the machine could read them."""

from __future__ import annotations

import argparse
import getpass
import os
from datetime import UTC, datetime

from backend.domain.access import STAFF_ROLES
from backend.services import enrollment, staff
from backend.settings import Settings

COMMANDS = frozenset({"staff-create", "company-create"})
PASSWORD_ENV = "CARBON_NEW_STAFF_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    company = commands.add_parser("company-create", help="add a company to the park")
    company.add_argument("--id", required=True, help="short id, e.g. acme")
    company.add_argument("--name", required=True)
    account = commands.add_parser(
        "staff-create", help=f"create a staff account (password from ${PASSWORD_ENV} or a prompt)"
    )
    account.add_argument("--username", required=True)
    account.add_argument("--role", required=True, choices=STAFF_ROLES)
    account.add_argument("--company", default=None, help="company id (company_admin only)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from backend.bootstrap import build_runtime

    runtime = build_runtime(settings, with_chain=False)
    now = datetime.now(UTC)
    try:
        if args.command == "company-create":
            enrollment.create_company(runtime.db, args.id, args.name, now)
            print(f"company {args.id} created")
            return 0
        password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {args.username}: ")
        row = staff.create_staff(runtime.db, args.username, password, args.role, args.company, now)
        print(f"staff account {row.username} ({row.role}) created: id {row.id}")
        return 0
    finally:
        runtime.db.dispose()
