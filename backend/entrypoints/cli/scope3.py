"""``carbon-ledger scope3 …``: Scope 3 reports exported to files in a chosen folder.

The export goes through the API with the caller's token, so a company admin gets only their
company, exactly as on the dashboard; files land in ``--out`` (default ``CARBON_DATA_DIR/exports``),
never in the working directory by accident.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import httpx
import typer

from backend.entrypoints.cli.common import bi, choice, fail, settings

app = typer.Typer(help=bi("Scope 3 reports: export a summary", "范围三报告：导出汇总"), no_args_is_help=True)

FORMATS = ("xlsx", "csv", "json")
HTTP_TIMEOUT_S = 60
_FILENAME = re.compile(r'filename="([A-Za-z0-9._-]+)"')


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scope3")


def default_folder() -> Path:
    return settings().data_dir / "exports"


def _problem_line(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('title_en', response.reason_phrase)}: {body.get('detail', '')}"
    except ValueError:
        return response.reason_phrase


@app.command("export")
def export_command(
    period: Annotated[
        str, typer.Option("--period", help=bi("2026, 2026-Q4 or 2026-11", "期间：年、季度或月份"))
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="CARBON_TOKEN",
            show_envvar=True,
            help=bi("a park manager's or company admin's token", "园区管理者或企业管理员的令牌"),
        ),
    ],
    api: Annotated[
        str, typer.Option("--api", help=bi("base URL of the ledger API", "账本 API 的地址"))
    ] = "http://127.0.0.1:8000",
    fmt: Annotated[str, choice(FORMATS, bi("file format", "文件格式"), "--format")] = "xlsx",
    company: Annotated[
        str | None, typer.Option("--company", help=bi("one company (default: all you may see)", "单个企业"))
    ] = None,
    category: Annotated[
        int | None, typer.Option("--category", help=bi("GHG Protocol category 5, 6 or 7", "类别 5、6 或 7"))
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            file_okay=False,
            help=bi(
                "folder for the file (default: CARBON_DATA_DIR/exports)",
                "导出文件夹（默认数据目录下 exports）",
            ),
        ),
    ] = None,
) -> None:
    """Export a period's Scope 3 summary as XLSX, CSV or JSON / 导出范围三汇总。"""
    params: dict[str, str | int] = {"period": period, "format": fmt}
    if company is not None:
        params["company"] = company
    if category is not None:
        params["category"] = category
    try:
        with httpx.Client(base_url=api, timeout=HTTP_TIMEOUT_S) as client:
            response = client.get(
                "/api/v1/scope3/export", params=params, headers={"Authorization": f"Bearer {token}"}
            )
    except httpx.HTTPError as exc:
        fail(f"could not reach the API at {api}: {exc}")
    if response.status_code != 200:
        fail(f"the API refused the export ({response.status_code}): {_problem_line(response)}")
    found = _FILENAME.search(response.headers.get("content-disposition", ""))
    name = found.group(1) if found else f"scope3-{period}.{fmt}"
    folder = out if out is not None else default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(response.content)
    print(f"wrote {path} ({len(response.content)} bytes)")
