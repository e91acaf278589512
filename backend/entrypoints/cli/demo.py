"""``carbon-ledger demo seed``: a demo park so that a fresh ``make run`` shows a living dashboard.

Several companies with departments and a few hundred employees record months of varied
activities through the real path: the mini-program's request schema, then the activity service,
so every record is computed with the factor set in force and logged (and anchored by a running
server's scheduler). Keys are derived from the seed, so running it again adds nothing twice.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from backend.domain.errors import CarbonLedgerError, Conflict
from backend.domain.scope3 import Period, period_containing
from backend.entrypoints.cli import common
from backend.entrypoints.cli.common import bi
from backend.runtime import Runtime
from backend.services import scope3, scope3_close
from backend.services.activities import Caller, Draft, record_many
from backend.services.factor_sets import set_in_force
from mini_program_api.schemas import ACTIVITY_TYPES, ActivityCreate

COMPANIES: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("sunrise-electronics", (("rd", 40), ("production", 45), ("sales", 12), ("admin", 3))),
    ("green-logistics", (("operations", 35), ("fleet", 20), ("office", 8), ("legal", 2))),
    ("harbor-foods", (("kitchen", 30), ("packaging", 25), ("quality", 6))),
    ("nova-materials", (("lab", 28), ("plant", 40), ("finance", 4))),
)
"""Company → (department, employees); a few departments are deliberately under the privacy minimum."""

DISTANCE_KM: dict[str, tuple[float, float]] = {
    "metro": (4, 25),
    "bus": (3, 15),
    "bus_electric": (3, 15),
    "rail": (20, 60),
    "walk": (0.6, 3),
    "bike": (1, 8),
    "bike_shared": (1, 5),
    "ebike": (2, 12),
    "ev": (5, 30),
    "taxi": (3, 20),
    "carpool": (5, 30),
    "flight": (400, 2200),
}
COMMUTE_TYPES = (
    "metro",
    "bus",
    "bus_electric",
    "rail",
    "walk",
    "bike",
    "bike_shared",
    "ebike",
    "ev",
    "carpool",
)
WEEKLY_RECORDS = (1, 4)
"""Records a reporting employee makes per week (inclusive range)."""
REPORTING_SHARE = 0.72
"""Share of employees who use the mini-program at all: the rest show up in participation figures."""
INTEGRATION_SHARE = 0.25
"""Share of metro and bus trips that arrive from the transit-card integration (primary data)."""


@dataclass(frozen=True)
class Employee:
    caller: Caller
    commute_type: str
    commute_km: float
    reports: bool


app = typer.Typer(help=bi("demo data for the dashboard", "演示数据"), no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="demo")


@app.command(
    "seed",
    help=bi(
        "seed a demo park (companies, departments, employees, activities)",
        "生成演示园区（企业、部门、员工、活动）",
    ),
)
def seed_command(
    months: Annotated[
        int,
        typer.Option(min=1, max=11, help=bi("months of history before today", "生成今天之前几个月的数据")),
    ] = 6,
    scale: Annotated[
        float, typer.Option(min=0.01, max=20, help=bi("employee count multiplier (1: 298)", "员工人数倍数"))
    ] = 1.0,
    seed_value: Annotated[
        int, typer.Option("--seed", help=bi("random seed (the same seed gives the same park)", "随机种子"))
    ] = 7,
    no_close: Annotated[
        bool, typer.Option("--no-close", help=bi("do not close the last ended quarter", "不关闭上一季度"))
    ] = False,
) -> None:
    with common.runtime() as built:
        seed(built, months, scale, seed_value, close=not no_close)


def _payload(activity_type: str, rng: random.Random, km: float | None, when: datetime) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": activity_type, "occurred_at": when.isoformat()}
    if activity_type in DISTANCE_KM:
        low, high = DISTANCE_KM[activity_type]
        distance = km if km is not None else rng.uniform(low, high)
        payload["distance_km"] = str(Decimal(str(distance)).quantize(Decimal("0.1")))
    if activity_type == "carpool":
        payload["occupants"] = rng.randint(2, 4)
    if activity_type == "recycling":
        payload["material"] = rng.choice(("paper", "plastic", "glass", "metal"))
        payload["weight_kg"] = str(round(rng.uniform(0.3, 6.0), 1))
    return payload


def _employees(rng: random.Random, scale: float, available: set[str]) -> list[Employee]:
    commute = [t for t in COMMUTE_TYPES if t in available] or ["metro"]
    people = []
    for company, departments in COMPANIES:
        for department, size in departments:
            for i in range(max(1, round(size * scale))):
                mode = rng.choice(commute)
                low, high = DISTANCE_KM.get(mode, (4, 25))
                people.append(
                    Employee(
                        Caller(f"demo-{company}-{department}-{i:03d}", company, department),
                        mode,
                        rng.uniform(low, high),
                        rng.random() < REPORTING_SHARE,
                    )
                )
    return people


def _activities(
    person: Employee, rng: random.Random, start: datetime, end: datetime, available: set[str]
) -> list[tuple[str, dict[str, Any], str]]:
    """(key, payload, source) for one employee: commutes, a few business trips, some recycling.

    Keys name the week and the slot in it, so a later run regenerates the same records under
    the same keys (the service replays them) and only adds the weeks that have passed since.
    """
    out = []
    day = start
    week = 0
    while day < end:
        for slot in range(rng.randint(*WEEKLY_RECORDS)):
            when = day + timedelta(
                days=rng.randint(0, 4), hours=rng.choice((0, 1, 9, 10)), minutes=rng.randint(0, 59)
            )
            if when >= end:
                continue
            roll = rng.random()
            if roll < 0.04 and "flight" in available:
                payload = _payload("flight", rng, None, when)
                source = "integration:travel-desk"
            elif roll < 0.10:
                # Business trips by the everyday mode when no flight type exists: category 6.
                payload = _payload("rail" if "rail" in available else person.commute_type, rng, None, when)
                payload["purpose"] = "business"
                source = "self_reported"
            elif roll < 0.16 and "recycling" in available:
                payload = _payload("recycling", rng, None, when)
                source = "self_reported"
            else:
                km = person.commute_km * rng.uniform(0.9, 1.1)
                payload = _payload(person.commute_type, rng, km, when)
                via_card = person.commute_type in ("metro", "bus") and rng.random() < INTEGRATION_SHARE
                source = "integration:transit-card" if via_card else "self_reported"
            out.append((f"w{week:03d}-{slot}", payload, source))
        day += timedelta(days=7)
        week += 1
    return out


def _last_ended_quarter(now: datetime, runtime: Runtime) -> Period:
    config = scope3.Scope3Config(
        runtime.settings.scope3_timezone, runtime.settings.scope3_min_group_size, runtime.settings.baseline
    )
    current = period_containing(now.astimezone(config.tz), "quarter")
    if current.number == 1:
        return Period(current.year - 1, "quarter", 4)
    return Period(current.year, "quarter", current.number - 1)


def seed(runtime: Runtime, months: int, scale: float, seed_value: int, close: bool) -> int:
    if not 1 <= months <= 11:
        print(
            "demo seed: --months must be 1 to 11 (activities older than a year are refused)", file=sys.stderr
        )
        return 2
    rng = random.Random(seed_value)  # noqa: S311 (demo data, not secrets)
    now = datetime.now(UTC)
    factor_set = set_in_force(now)
    available = set(ACTIVITY_TYPES) & set(factor_set.methodology.get("activities", {}))
    first = period_containing(now, "month")
    for _ in range(months):
        first = Period(
            first.year - (first.number == 1), "month", 12 if first.number == 1 else first.number - 1
        )
    start = max(first.bounds(UTC)[0], factor_set.effective_from + timedelta(days=1))
    adapter: TypeAdapter[Any] = TypeAdapter(ActivityCreate)
    people = _employees(rng, scale, available)
    counts = {"created": 0, "replayed": 0, "refused": 0}
    began = time.monotonic()
    for person in people:
        if not person.reports:
            continue
        own_rng = random.Random(f"{seed_value}/{person.caller.subject_id}")  # noqa: S311
        drafts = []
        for key, raw, source in _activities(person, own_rng, start, now - timedelta(hours=1), available):
            caller = Caller(
                person.caller.subject_id, person.caller.org_id, person.caller.dept_id, source=source
            )
            try:
                body = adapter.validate_python(raw)
            except ValidationError:
                counts["refused"] += 1
                continue
            payload = body.model_dump(mode="json", exclude_none=True)
            drafts.append(Draft(caller, f"demo-{seed_value}-{key}", payload, body.occurred_at))
        for outcome in record_many(runtime.db, drafts, runtime.issuance):
            if isinstance(outcome, CarbonLedgerError):
                counts["refused"] += 1
            else:
                counts["created" if outcome.created else "replayed"] += 1
    for company, _ in COMPANIES:
        headcount = sum(1 for p in people if p.caller.org_id == company)
        scope3.set_headcount(runtime.db, company, headcount, "operator")
    print(
        f"demo park: {len(COMPANIES)} companies, {len(people)} employees "
        f"({sum(p.reports for p in people)} reporting), types {', '.join(sorted(available))}; "
        f"{counts['created']} activities recorded, {counts['replayed']} already there, "
        f"{counts['refused']} refused, in {time.monotonic() - began:.1f} s"
    )
    if close:
        quarter = _last_ended_quarter(now, runtime)
        config = scope3.Scope3Config(
            runtime.settings.scope3_timezone,
            runtime.settings.scope3_min_group_size,
            runtime.settings.baseline,
        )
        try:
            done = scope3_close.close_period(
                runtime.db, quarter, config, "operator", "demo-seed", runtime.subject_key
            )
            print(f"closed {quarter.label}: totals frozen in log leaf {done['leaf_index']}")
        except Conflict:
            print(f"{quarter.label} was already closed")
    print(
        "open the dashboard with a park manager token, e.g.\n"
        "  TOKEN=$(.venv/bin/carbon-ledger dev-token --role park_manager --subject pm-1)\n"
        f"  http://{runtime.settings.api_host}:{runtime.settings.api_port}/dashboard?token=$TOKEN"
    )
    return 0
