"""``carbon-ledger scope3 …``: Scope 3 reports exported to files in a chosen folder."""

from __future__ import annotations

import typer

from backend.entrypoints.cli.common import bi

app = typer.Typer(help=bi("Scope 3 reports: export a summary", "范围三报告：导出汇总"), no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scope3")
