"""docs/emission-factors.md is checked number by number: the worked examples are recomputed, the
factor tables compared with the sets, the rules with the methodology files, every `a = b`
arithmetic evaluated, and every other number on the page must be one of these or a listed
reference (a standard's number, a date)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from backend.domain.accounting.activities import normalize
from emission_factors.derivation import evaluate
from emission_factors.loader import load_builtin_set

DOC = (Path(__file__).resolve().parents[3] / "docs" / "emission-factors.md").read_text()
SETS = {v: load_builtin_set(v) for v in ("park-default-2026.1", "park-default-2027.1")}
NEW = SETS["park-default-2027.1"]
NUMBER = re.compile(r"(?<![\w.])\d(?:[\d,]*\d)?(?:\.\d+)?(?![\w])")


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def _rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header


def _quantities(text: str) -> dict[str, Any]:
    return dict(part.strip().split("=", 1) for part in text.split(","))


def _dec(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def test_worked_examples_recompute() -> None:
    rows = _rows(_section("## 12. Worked examples"))
    assert len(rows) >= 12
    for version, baseline, activity, quantities, avoided, scope3_g, category, _arithmetic in rows:
        calc = normalize(activity, _quantities(quantities), SETS[version], baseline=baseline)
        expected_category = None if category == "—" else int(category)
        assert (calc.co2e_avoided_g, calc.co2e_scope3_g, calc.scope3_category) == (
            int(avoided),
            int(scope3_g),
            expected_category,
        ), (version, baseline, activity, quantities)


ARITHMETIC = re.compile(r"([\d.() ×÷+−\-*/]+?)\s=\s(\d+(?:\.\d+)?)")


def _check_arithmetic(expression: str, stated: str) -> None:
    value, _ = evaluate(expression.strip(), lambda name: (_ for _ in ()).throw(KeyError(name)))
    exponent = Decimal(stated).as_tuple().exponent
    assert isinstance(exponent, int)
    # the stated result is exact, or the exact result rounded to the digits shown
    assert value == Decimal(stated) or value.quantize(Decimal(1).scaleb(exponent)) == Decimal(stated), (
        expression,
        stated,
        value,
    )


def test_every_stated_calculation_is_right() -> None:
    checked = 0
    for match in ARITHMETIC.finditer(DOC):
        expression = match.group(1).strip()
        if not re.search(r"\d\s*[×÷+−*/-]\s*[\d(]", expression):
            continue  # "= 1" style statements are not arithmetic
        _check_arithmetic(expression, match.group(2))
        checked += 1
    assert checked >= 15


def test_factor_tables_match_the_sets() -> None:
    rows = _rows(_section("## 11. Factors of park-default-2027.1"))
    assert {r[0].strip("`") for r in rows} == set(NEW.factors)
    for row in rows:
        factor = NEW.factor(row[0].strip("`"))
        assert Decimal(row[1]) == factor.value_kg and row[5] == factor.status
        q = factor.quality or {}
        assert row[6] == "/".join(
            str(q[k]) for k in ("technology", "time", "geography", "completeness", "reliability")
        )


def test_baseline_table_matches_the_methodology() -> None:
    rows = _rows(_section("## 3. Baselines"))
    assert {r[0].split()[0].strip("`") for r in rows} == set(NEW.baseline_names)
    for row in rows:
        name = row[0].split()[0].strip("`")
        baseline = NEW.baseline(name)
        values = {_dec(v) for v in NUMBER.findall(row[3])}
        if baseline.factor is not None:
            assert values == {baseline.factor.value_kg}
        else:
            assert values == {r.factor.value_kg for r in baseline.reductions.values()}
            assert {m.strip() for m in row[4].split(",")} == set(baseline.reductions)


def test_eligibility_table_matches_the_methodology() -> None:
    section = _section("## 4. How each activity is computed")
    rows = [r for r in _rows(section) if len(r) == 4 and r[0] not in ("kind", "mode")]
    seen = 0
    for modes, min_km, max_km, max_kmh in rows:
        names = [m.strip() for m in modes.replace(" / ", ",").split(",")]
        mins = [m.strip() for m in min_km.split("/")]
        maxes = [m.strip() for m in max_km.split("/")]
        speeds = [m.strip() for m in max_kmh.split("/")]
        for i, name in enumerate(names):
            rules = NEW.rules(name)
            pick = lambda values, i=i: values[i] if len(values) > 1 else values[0]  # noqa: E731
            if name != "flight":
                assert _dec(pick(mins)) == Decimal(rules["min_distance_km"]), name
                assert _dec(pick(maxes)) == Decimal(rules["max_distance_km"]), name
            else:
                assert _dec(pick(maxes)) == Decimal(rules["bands"][-1]["max_distance_km"])
            assert _dec(pick(speeds)) == Decimal(rules["max_speed_kmh"]), name
            seen += 1
    assert seen == 12


def _known_numbers() -> set[Decimal]:
    known: set[Decimal] = set()
    for factor_set in SETS.values():
        for factor in factor_set.factors.values():
            known.add(factor.value_kg)
            known |= set((factor.gases or {}).values())
            known.add(Decimal(factor.year))
        for parameter in factor_set.parameters.values():
            known.add(parameter.value)
        for rules in factor_set.methodology["activities"].values():
            for key in ("min_distance_km", "max_distance_km", "max_speed_kmh", "max_weight_kg", "max_kwh"):
                if key in rules:
                    known.add(Decimal(rules[key]))
            for key in ("max_count", "max_meals", "min_occupants", "max_occupants", "default_occupants"):
                if key in rules:
                    known.add(Decimal(rules[key]))
            known |= {Decimal(band["max_distance_km"]) for band in rules.get("bands", [])}
    mix = NEW.methodology["waste_treatment"]["mixes"]["national"]
    known |= {Decimal(mix[k]) for k in ("landfill", "incineration", "other")}
    known |= {Decimal(k) for k in NEW.methodology["data_quality"]["uncertainty_pct_by_worst_score"]}
    known |= {Decimal(v) for v in NEW.methodology["data_quality"]["uncertainty_pct_by_worst_score"].values()}
    for match in ARITHMETIC.finditer(DOC):  # checked by test_every_stated_calculation_is_right
        known |= {_dec(n) for n in NUMBER.findall(match.group(0))}
    for row in _rows(_section("## 12. Worked examples")):
        known |= {_dec(n) for n in NUMBER.findall(" ".join(row[3:7]))}
    return known


REFERENCES = {
    # standards, documents and their clauses, named not computed
    "9162",
    "8785",
    "14064",
    "3",
    "305",
    "7.6",
    "1",
    "2",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "10",
    "11",
    "12",
    "13",
    "15",
    "3043",
    "256",
    "8601",
    "31",
    # IPCC AR5 100-year GWPs behind DEFRA 2025: CH4 28, N2O 265
    "28",
    "265",
    # the sources' own statements of the Hubei credits in grams (0.052 and 0.137 kg per trip)
    "52",
    "137",
    "106",
    "107",
    "43",
    "0.5703",
    # MOHURD 2022 bulletin: capacity 110.94 万t/d, incineration 72.53 % (= 0.7253; the rest 27.47 %)
    "110.94",
    "72.53",
    "27.47",
    # Beijing's press figure: 5.98 kg by car and 1.35 kg by metro for 22 km (bj.car.pkm = 5.98 ÷ 22)
    "5.98",
    "1.35",
    "22",
    # times of day, minutes and distances of the duplicate rule (recognition.md checks them)
    "00",
    "30",
    "25",
}


def test_every_number_on_the_page_is_checked_or_a_reference() -> None:
    known = _known_numbers()
    assert Decimal("72.53") / 100 == Decimal(
        NEW.methodology["waste_treatment"]["mixes"]["national"]["incineration"]
    )
    assert 100 - Decimal("72.53") == Decimal("27.47")
    assert (Decimal("5.98") / 22).quantize(Decimal("0.00001")) == NEW.factor("bj.car.pkm").value_kg
    text = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", "", DOC)  # timestamps
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "", text)  # dates
    text = re.sub(r"`[^`]*`", "", text)  # ids, file names and versions
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    unchecked = []
    for raw in NUMBER.findall(text):
        value = _dec(raw)
        if raw in REFERENCES or value in known or 2000 <= value <= 2100:
            continue
        unchecked.append(raw)
    assert not unchecked, f"numbers on the page that no test checks: {sorted(set(unchecked))}"
