"""The Prometheus rules and the Grafana dashboard in deploy/monitoring are well-formed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[4] / "deploy" / "monitoring"
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


def promtool() -> str:
    """Prometheus's own checker (Debian's prometheus package; `make monitoring-deps` installs it)."""
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing on CI: `make monitoring-deps` should have installed it")
        pytest.skip("promtool is not installed (Debian package prometheus): `make monitoring-deps`")
    return found


def run_promtool(*args: str) -> str:
    done = subprocess.run(
        [promtool(), *args], cwd=MONITORING, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_promtool_accepts_the_alert_rules_and_the_scrape_configuration() -> None:
    assert "SUCCESS: 12 rules found" in run_promtool("check", "rules", "prometheus-alerts.yml")
    assert "is valid prometheus config file syntax" in run_promtool(
        "check", "config", "prometheus-scrape.yml"
    )


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    tests = yaml.safe_load((MONITORING / "prometheus-alerts.test.yml").read_text())
    fired = {
        case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]
    }
    assert fired == {rule["alert"] for rule in alert_rules()}
    assert "SUCCESS" in run_promtool("test", "rules", "prometheus-alerts.test.yml")


def test_dashboard_panels_are_laid_out_and_query_our_metrics() -> None:
    board = dashboard()
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
    assert {
        "carbon_ledger_oldest_unanchored_leaf_age_seconds",
        "carbon_ledger_chain_up",
    } <= referenced_metrics()


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Each panel's PromQL, with Grafana's variables given values, written as a recording rule so
    that Prometheus's own parser checks it."""
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{i}", "expr": expr.replace("$instance", ".*")}
                    for i, expr in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))
    assert f"SUCCESS: {len(exprs)} rules found" in run_promtool("check", "rules", str(path))
