"""The Prometheus rules and the Grafana dashboard in deploy/monitoring are well-formed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
METRIC_NAME = re.compile(r"\bcarbon_ledger_[a-z0-9_]+")
REQUIRED_ALERTS = {
    "CarbonLedgerAnchoringLag",
    "CarbonLedgerChainUnreachable",
    "CarbonLedgerWrongChain",
    "CarbonLedgerSchedulerJobFailing",
    "CarbonLedgerHighErrorRate",
}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "prometheus-alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return loaded


def referenced_metrics() -> set[str]:
    """Every carbon_ledger_* series the alerts and the dashboard query."""
    exprs = [rule["expr"] for rule in alert_rules()]
    exprs += [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    return {name for expr in exprs for name in METRIC_NAME.findall(expr)}


def test_alert_rules_are_complete() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= REQUIRED_ALERTS
    for rule in rules:
        assert rule["expr"].strip() and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_dashboard_panels_are_laid_out_and_query_our_metrics() -> None:
    board = dashboard()
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and all(
                t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"]
            )
    assert {
        "carbon_ledger_oldest_unanchored_leaf_age_seconds",
        "carbon_ledger_chain_up",
    } <= referenced_metrics()
