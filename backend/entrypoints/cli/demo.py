"""``carbon-ledger demo seed``: a demo park so that a fresh ``make run`` shows a living dashboard.

A year of the park up to today (:mod:`backend.entrypoints.cli.demo_park` says what people do)
is recorded through the real path, day by day in the order it happened: each day's reports go
through the mini-program's request schema and the activity service as one batch recorded at the
end of that day, so every record is computed with the factor set in force, screened by the
recognition rules (rate limits, plausibility, duplicates, the review queue), logged with its
points, and anchored by a running server's scheduler. Employees redeem points for rewards as
they earn them. Refusals are counted by reason. Quarters that ended and that the seeded data
covers whole are closed; a quarter the data covers only in part is left open.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backend.bootstrap.runtime import Runtime
from backend.domain.accounting.scope3 import Period, period_containing
from backend.domain.errors import ActivityRejected, CarbonLedgerError, Conflict, InvalidInput, RateLimited
from backend.entrypoints.cli import common, demo_park
from backend.entrypoints.cli.common import bi
from backend.services.accounting import factor_sets, scope3
from backend.services.accounting.factor_sets import set_in_force
from backend.services.identity import enrollment
from backend.services.identity.tokens import Principal
from backend.services.integrations import integrations
from backend.services.points import rewards
from backend.services.recording.activities import Caller, Draft, RecordedActivity, record_many
from backend.services.reporting import scope3_close
from mini_program_api.schemas import ACTIVITY_TYPES, ActivityCreate

DEFAULT_SEED = 7
RECORDING_DELAY = timedelta(minutes=20)
"""How long after the last activity of a day that day's reports are recorded."""
REWARDS = (
    ("canteen-voucher", "Canteen voucher, ¥10", "食堂十元代金券", 300, 5000),
    ("bike-pass", "Shared-bike month pass", "共享单车月卡", 800, 600),
    ("tree", "A tree planted in your name", "以您的名义种一棵树", 1500, 400),
    ("tumbler", "Park reusable tumbler", "园区随行杯", 500, 800),
)
"""Park-wide rewards the demo offers: key, name, Chinese name, price in points, stock."""
REDEEM_CHANCE = 0.03
"""Chance a person who can afford a reward redeems one on a given day."""

app = typer.Typer(help=bi("demo data for the dashboard", "演示数据"), no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="demo")


@dataclass
class Tally:
    created: int = 0
    replayed: int = 0
    flagged: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    redemptions: int = 0

    def refusal(self, error: CarbonLedgerError) -> None:
        if isinstance(error, ActivityRejected):
            self.refused[f"{error.rule} ({error.field})"] += 1
        elif isinstance(error, RateLimited):
            self.refused["rate limit"] += 1
        elif isinstance(error, InvalidInput):
            self.refused[f"invalid {error.field}"] += 1
        else:
            self.refused[type(error).__name__] += 1


@app.command(
    "seed",
    help=bi(
        "seed a demo park: a year of activities up to today, integrations, rewards and redemptions",
        "生成演示园区：截至今天一年的活动、数据接入、奖品与兑换",
    ),
)
def seed_command(
    months: Annotated[
        int,
        typer.Option(
            min=1, max=12, help=bi("months of history before today (at most a year)", "生成几个月的历史")
        ),
    ] = 12,
    scale: Annotated[
        float, typer.Option(min=0.01, max=20, help=bi("employee count multiplier (1: 298)", "员工人数倍数"))
    ] = 1.0,
    seed_value: Annotated[
        int,
        typer.Option(
            "--seed",
            help=bi("random seed: the same seed gives the same park", "随机种子（相同种子生成相同园区）"),
        ),
    ] = DEFAULT_SEED,
    no_close: Annotated[
        bool,
        typer.Option(
            "--no-close", help=bi("close no quarter (default: close ended quarters seeded whole)", "不关账")
        ),
    ] = False,
) -> None:
    # Demo data: a commit need not survive a power cut (WAL with NORMAL sync: ~3x fewer fsyncs).
    config = common.settings().model_copy(update={"sqlite_synchronous": "NORMAL"})
    with common.runtime(config) as built:
        seed(built, months, scale, seed_value, close=not no_close)


def _start(runtime: Runtime, months: int, now: datetime) -> datetime:
    """The seeded history's first moment: ``months`` back, within the activity age limit, and not
    before the first factor set in force (activities before it cannot be computed)."""
    infos, _ = factor_sets.list_sets(runtime.db, now)
    earliest = min(info.factor_set.effective_from for info in infos)
    age_limit = now - timedelta(days=runtime.settings.max_activity_age_days - 1)
    return max(now - timedelta(days=round(months * 365.25 / 12)), age_limit, earliest)


def _setup(runtime: Runtime, now: datetime) -> dict[str, str]:
    """Companies, integration sources and rewards (each once); returns reward key → id."""
    for company, name, name_zh, _ in demo_park.COMPANIES:
        with contextlib.suppress(Conflict):
            enrollment.create_company(runtime.db, company, name, now, name_zh=name_zh)
    for source_id, (name, kind, types) in demo_park.SOURCES.items():
        with contextlib.suppress(Conflict):
            integrations.register_source(runtime.db, source_id, name, kind, types, 600, now)
    operator = Principal("operator", "demo-operator", None)
    ids = {}
    for key, name, name_zh, price, stock in REWARDS:
        spec = rewards.RewardSpec(name=name, name_zh=name_zh, price_points=price, stock=stock)
        request = {"name": name, "name_zh": name_zh, "price_points": price, "stock": stock}
        row, _ = rewards.create_reward(
            runtime.db,
            operator,
            spec,
            request,
            f"demo-reward-{key}",
            runtime.settings.redemption_cancel_window_s,
            now,
        )
        ids[key] = row.id
    return ids


def _redeem(
    runtime: Runtime,
    reward_ids: dict[str, str],
    balances: dict[str, int],
    orgs: dict[str, str],
    day: date,
    moment: datetime,
    seed_value: int,
    tally: Tally,
) -> None:
    prices = {key: price for key, _, _, price, _ in REWARDS}
    for subject in sorted(balances):
        rng = random.Random(f"{seed_value}/{subject}/{day.isoformat()}/redeem")  # noqa: S311
        affordable = [key for key in sorted(prices) if prices[key] <= balances[subject]]
        if not affordable or rng.random() >= REDEEM_CHANCE:
            continue
        key = rng.choice(affordable)
        caller = Principal("employee", subject, orgs[subject])
        try:
            done = rewards.redeem(
                runtime.db,
                runtime.subject_key,
                caller,
                reward_ids[key],
                f"demo-{seed_value}-redeem-{day.isoformat()}",
                moment,
            )
        except CarbonLedgerError as exc:
            tally.refused[f"redemption: {exc.detail.split(':')[0]}"] += 1
            continue
        balances[subject] -= prices[key]  # tracked here, so that a second run makes the same choices
        tally.redemptions += int(done.created)


def _closable(start: datetime, now: datetime, tz: ZoneInfo) -> list[Period]:
    """Quarters that ended before ``now`` and that the seeded data covers from their first day."""
    out: list[Period] = []
    current = period_containing(now.astimezone(tz), "quarter")
    year, number = current.year, current.number
    while True:
        year, number = (year - 1, 4) if number == 1 else (year, number - 1)
        quarter = Period(year, "quarter", number)
        first, _ = quarter.bounds(tz)
        if first < start:
            return list(reversed(out))
        out.append(quarter)


def seed(runtime: Runtime, months: int, scale: float, seed_value: int, close: bool) -> None:
    settings = runtime.settings
    tz = ZoneInfo(settings.scope3_timezone)
    now = datetime.now(UTC)
    start = _start(runtime, months, now)
    available = set(ACTIVITY_TYPES) & set(set_in_force(now).methodology.get("activities", {}))
    persons = demo_park.people(seed_value, scale, start.astimezone(tz).date(), available)
    reward_ids = _setup(runtime, now)
    adapter: TypeAdapter[Any] = TypeAdapter(ActivityCreate)
    tally = Tally()
    balances: dict[str, int] = {}
    orgs = {p.subject_id: p.org_id for p in persons}
    began = time.monotonic()
    all_days = list(demo_park.days(start.astimezone(tz).date(), now.astimezone(tz).date()))
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]demo seed[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[recorded]:,} recorded · {task.fields[refused]:,} refused"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=len(all_days), recorded=0, refused=0)
        for day in all_days:
            drafts = []
            for planned in demo_park.plan_for(persons, day, seed_value, tz, available):
                if not start <= planned.occurred_at <= now - timedelta(minutes=10):
                    continue
                try:
                    body = adapter.validate_python(planned.payload)
                except ValidationError as exc:
                    tally.refused[f"invalid {exc.errors()[0]['loc'][-1]}"] += 1
                    continue
                person = planned.person
                caller = Caller(person.subject_id, person.org_id, person.dept_id, source=planned.source)
                payload = body.model_dump(mode="json", exclude_none=True)
                drafts.append(Draft(caller, f"demo-{seed_value}-{planned.key}", payload, body.occurred_at))
            if drafts:
                moment = min(max(d.occurred_at for d in drafts) + RECORDING_DELAY, now)
                for draft, outcome in zip(
                    drafts, record_many(runtime.db, drafts, runtime.issuance, moment), strict=True
                ):
                    if isinstance(outcome, RecordedActivity):
                        _count(tally, draft, outcome, balances)
                    else:
                        tally.refusal(outcome)
                evening = min(datetime.combine(day, clock(21, 0), tz), now)
                _redeem(runtime, reward_ids, balances, orgs, day, evening, seed_value, tally)
            progress.update(
                task,
                advance=1,
                description=day.isoformat(),
                recorded=tally.created + tally.replayed,
                refused=sum(tally.refused.values()),
            )
    for company, _, _, _ in demo_park.COMPANIES:
        headcount = sum(1 for p in persons if p.org_id == company)
        scope3.set_headcount(runtime.db, company, headcount, "operator")
    _report(runtime, persons, tally, start, now, time.monotonic() - began)
    if close:
        _close(runtime, start, now, tz)
    print(
        "open the dashboard with a park manager token, e.g.\n"
        "  TOKEN=$(.venv/bin/carbon-ledger dev-token --role park_manager --subject pm-1)\n"
        f"  http://{settings.api_host}:{settings.api_port}/dashboard?token=$TOKEN"
    )


def _count(tally: Tally, draft: Draft, outcome: RecordedActivity, balances: dict[str, int]) -> None:
    row = outcome.row
    balances[row.subject_id] = balances.get(row.subject_id, 0) + int(row.points or 0)
    if not outcome.created:
        tally.replayed += 1
        return
    tally.created += 1
    tally.by_type[row.type] += 1
    tally.by_source[draft.caller.source.removeprefix("integration:")] += 1
    tally.flagged += row.status == "flagged"


def _report(
    runtime: Runtime,
    persons: list[demo_park.Person],
    tally: Tally,
    start: datetime,
    now: datetime,
    took: float,
) -> None:
    reporting = sum(p.reports for p in persons)
    print(
        f"demo park: {len(demo_park.COMPANIES)} companies, {len(persons)} employees ({reporting} reporting), "
        f"{start.date()} to {now.date()}; {tally.created} activities recorded "
        f"({tally.flagged} flagged for review), {tally.replayed} already there, "
        f"{sum(tally.refused.values())} refused, {tally.redemptions} redemptions, in {took:.1f} s"
    )
    if tally.by_type:
        print("  by type: " + ", ".join(f"{t} {n}" for t, n in sorted(tally.by_type.items())))
        print("  by source: " + ", ".join(f"{s} {n}" for s, n in sorted(tally.by_source.items())))
    if tally.refused:
        print("  refused: " + ", ".join(f"{n} {why}" for why, n in tally.refused.most_common()))


def _close(runtime: Runtime, start: datetime, now: datetime, tz: ZoneInfo) -> None:
    settings = runtime.settings
    config = scope3.Scope3Config(settings.scope3_timezone, settings.min_group_size, settings.baseline)
    quarters = _closable(start, now, tz)
    if not quarters:
        print("no quarter closed: none that ended is covered whole by the seeded data")
    for quarter in quarters:
        try:
            done = scope3_close.close_period(
                runtime.db, quarter, config, "operator", "demo-seed", runtime.subject_key
            )
            print(f"closed {quarter.label}: totals frozen in log leaf {done['leaf_index']}")
        except Conflict:
            print(f"{quarter.label} was already closed")
