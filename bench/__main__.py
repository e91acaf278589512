"""Runs every benchmark and prints one table; writes bench/results/latest.json.

python -m bench [--quick] [--json PATH] [SUITE ...]
                [--only ingest,ingest-pg,ingest-pg2,ingest-pg2q,bulk,ceiling,
                        log,anchoring,audit,auth,tlog,replay]
python -m bench faults     the fault matrix on PostgreSQL (bench/faults.py)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from bench import (
    bench_anchoring,
    bench_auth,
    bench_ceiling,
    bench_ingest,
    bench_log,
    bench_replay,
    bench_tlog,
    bench_verify,
    faults,
)
from bench.common import Row, machine, peak_rss_mib

SUITES = {
    "log": bench_log.run,
    "anchoring": bench_anchoring.run,
    "ingest": bench_ingest.run,
    "ingest-pg": bench_ingest.run_postgres,
    "ingest-pg2": bench_ingest.run_postgres_workers,
    "ingest-pg2q": bench_ingest.run_postgres_workers_queued,
    "bulk": bench_ingest.run_bulk,
    "ceiling": bench_ceiling.run,
    "audit": bench_verify.run,
    "auth": bench_auth.run,
    "tlog": bench_tlog.run,
    "replay": bench_replay.run,
    "faults": faults.run,
}
ON_REQUEST = {"faults"}
"""Run only when named (``python -m bench faults``): the fault matrix checks, it does not time."""


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3f}"


def print_table(rows: list[Row]) -> None:
    header = ("benchmark", "metric", "value", "unit", "naive", "target")
    table = [header] + [(r.bench, r.metric, _fmt(r.value), r.unit, _fmt(r.naive), r.target) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print(" | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("suites", nargs="*", help="suites to run (as --only)")
    parser.add_argument(
        "--only",
        default=",".join(s for s in SUITES if s not in ON_REQUEST),
        help="comma-separated suites",
    )
    parser.add_argument("--json", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args()
    rows: list[Row] = []
    started = time.time()
    for name in args.suites or args.only.split(","):
        print(f"== {name} …", flush=True)
        suite_rows = SUITES[name](quick=args.quick)
        rows.extend(suite_rows)
    print()
    print_table(rows)
    print(
        f"\npeak RSS of this process: {peak_rss_mib():.0f} MiB; "
        f"largest child: {peak_rss_mib(children=True):.0f} MiB"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": machine(),
                "quick": args.quick,
                "started": started,
                "rows": [r.as_dict() for r in rows],
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
