"""``carbon-ledger audit sample``: a random sample of logged records an auditor can work from.

The auditor, not the server, draws the sample: leaf indices uniformly without replacement from
the anchored part of the log, with a seed written into the file so the draw can be repeated.
For each record the file holds the logged leaf (decoded), the stored record, the emission factors
applied (id, value, unit, source), the evidence references, the receipt and whether that receipt
verifies against the chain right now, and any difference between the stored and logged record.
Written twice: ``sample-SEED.json`` (everything) and ``sample-SEED.csv`` (one row per record, for a
spreadsheet; UTF-8 with a byte-order mark so spreadsheet programs read its Chinese text), into
the folder ``--out`` names (default ``CARBON_DATA_DIR/exports``).

Outcomes as every audit command's (:mod:`backend.entrypoints.cli.audit`): 0 every receipt verifies
and every stored record matches its leaf; 1 some do not (evidence of tampering); 2 the sample
could not be checked (API or RPC unreachable, token refused, malformed answer), and no file is
written.
"""

from __future__ import annotations

import csv
import json
import random
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from backend.domain.errors import ProofError
from backend.entrypoints.cli.audit_client import (
    INVALID_WORDS,
    Api,
    Outcome,
    Target,
    Unverifiable,
    chain_for,
    guarded,
    open_api,
)
from backend.entrypoints.cli.common import bi
from backend.services.audit.record_audit import record_differences
from backend.services.audit.verification import verify_receipt

HELP = bi(
    "export a random sample of N records with receipts, factors and evidence (JSON + CSV)",
    "随机抽取 N 条记录及其凭证、因子与证据（JSON 与 CSV）",
)
MAX_SAMPLE = 100_000
"""A sample is for reading by people; beyond this, verify-log is the tool."""
SAMPLE_FORMAT_VERSION = 1
CSV_COLUMNS = (
    "leaf_index",
    "kind",
    "record_id",
    "status",
    "type",
    "occurred_at",
    "org",
    "co2e_avoided_g",
    "co2e_scope3_g",
    "scope3_category",
    "points",
    "factor_set",
    "factors",
    "factor_sources",
    "evidence_source",
    "source_record_id",
    "reversed_by",
    "tree_size",
    "root",
    "checkpoint_seq",
    "tx_hash",
    "receipt_valid",
    "receipt_detail",
    "stored_matches_logged",
)


def draw(seed: int, population: int, n: int) -> list[int]:
    """Leaf indices of the sample: uniform, without replacement, reproducible from the seed."""
    return sorted(random.Random(seed).sample(range(population), min(n, population)))  # noqa: S311


def _verify(receipt: dict[str, Any], chain_of: Any) -> tuple[bool | None, str]:
    """(True, summary) when the receipt verifies, (False, why) when it does not; (None, why) when
    it cannot be checked (not anchored yet). Failing to reach the chain raises Unverifiable."""
    if receipt.get("status") == "pending":
        return None, "not anchored yet"
    try:
        return True, verify_receipt(receipt, chain_of).summary()
    except ProofError as exc:
        return False, exc.detail


def _entry(detail: dict[str, Any], chain_of: Any) -> dict[str, Any]:
    valid, summary = _verify(detail["receipt"], chain_of)
    logged, stored = detail.get("logged"), detail.get("stored")
    differences = record_differences(logged, stored) if logged and stored else []
    return {**detail, "receipt_verification": {"valid": valid, "detail": summary}, "differences": differences}


def _csv_row(entry: dict[str, Any]) -> dict[str, Any]:
    stored = entry.get("stored") or {}
    factors = (entry.get("factors") or {}).get("factors") or []
    receipt = entry.get("receipt") or {}
    anchor = receipt.get("anchor") or {}
    evidence = entry.get("evidence") or {}
    return {
        "leaf_index": entry["leaf_index"],
        "kind": entry["kind"],
        "record_id": entry["record_id"],
        "status": stored.get("status"),
        "type": stored.get("type"),
        "occurred_at": stored.get("occurred_at"),
        "org": stored.get("org"),
        "co2e_avoided_g": stored.get("co2e_avoided_g"),
        "co2e_scope3_g": stored.get("co2e_scope3_g"),
        "scope3_category": stored.get("scope3_category"),
        "points": stored.get("points"),
        "factor_set": stored.get("factor_set"),
        "factors": " | ".join(
            f"{f.get('role')}: {f.get('id')} = {f.get('value')} {f.get('unit')}" for f in factors
        ),
        "factor_sources": " | ".join(str(f.get("source")) for f in factors),
        "evidence_source": evidence.get("source"),
        "source_record_id": evidence.get("source_record_id"),
        "reversed_by": (entry.get("reversed_by") or {}).get("id"),
        "tree_size": receipt.get("tree_size"),
        "root": receipt.get("root"),
        "checkpoint_seq": anchor.get("checkpoint_seq"),
        "tx_hash": anchor.get("tx_hash"),
        "receipt_valid": entry["receipt_verification"]["valid"],
        "receipt_detail": entry["receipt_verification"]["detail"],
        "stored_matches_logged": not entry["differences"],
    }


def _paths(out: Path | None, seed: int) -> tuple[Path, Path]:
    """``sample-SEED.json`` and ``.csv`` in the folder ``out`` (default CARBON_DATA_DIR/exports);
    an ``out`` ending in .json or .csv names the files itself (``out`` without its suffix)."""
    if out is not None and out.suffix.lower() in (".json", ".csv"):
        base = out.with_suffix("")
    else:
        if out is None:
            from backend.bootstrap.settings import get_settings

            out = get_settings().data_dir / "exports"
        base = out / f"sample-{seed}"
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".csv")


def export(
    target: Target, api: Api, n: int, out: Path | None, seed: int | None
) -> tuple[Path, Path, dict[str, Any]]:
    if not 1 <= n <= MAX_SAMPLE:
        raise Unverifiable(f"--n must be between 1 and {MAX_SAMPLE}")
    listing = api.get("/audit/v1/checkpoints")
    anchored = max((int(c["tree_size"]) for c in listing["checkpoints"]), default=0)
    if anchored == 0:
        raise Unverifiable("nothing is anchored yet: there is nothing to sample")
    chain = chain_for(target, listing["contract"], int(listing["chain_id"]))
    checked: dict[str, Any] = {chain.address.lower(): chain}

    def chain_of(contract: str) -> Any:
        if contract.lower() not in checked:  # a receipt anchored by an earlier contract (re-anchoring)
            checked[contract.lower()] = chain_for(target, contract, int(listing["chain_id"]))
        return checked[contract.lower()]

    seed = seed if seed is not None else secrets.randbits(63)
    entries = [_entry(api.get(f"/audit/v1/records/{index}"), chain_of) for index in draw(seed, anchored, n)]
    document = {
        "version": SAMPLE_FORMAT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "api": target.api,
        "chain_id": listing["chain_id"],
        "contract": listing["contract"],
        "anchored_tree_size": anchored,
        "method": "uniform random sample without replacement of leaf indices in [0, anchored_tree_size), "
        "drawn by the auditor with Python random.Random(seed).sample",
        "seed": seed,
        "n": len(entries),
        "records": entries,
    }
    json_path, csv_path = _paths(out, seed)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8-sig") as handle:  # BOM: spreadsheets read UTF-8
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(_csv_row(entry) for entry in entries)
    return json_path, csv_path, document


def run(
    target: Target, n: int, out: Path | None, seed: int | None, client: httpx.Client | None = None
) -> Outcome:
    """``audit sample``: 0 all verify, 1 some do not, 2 could not check (``client``: in-process app)."""

    def check() -> Outcome:
        with open_api(target, client) as api:
            json_path, csv_path, document = export(target, api, n, out, seed)
        return _report(json_path, csv_path, document)

    return guarded(check, target.rpc)


def _report(json_path: Path, csv_path: Path, document: dict[str, Any]) -> Outcome:
    entries = document["records"]
    invalid = [e["leaf_index"] for e in entries if e["receipt_verification"]["valid"] is False]
    differing = [e["leaf_index"] for e in entries if e["differences"]]
    print(
        f"sampled {len(entries)} of {document['anchored_tree_size']} anchored records "
        f"(seed {document['seed']}): {json_path} and {csv_path}"
    )
    if invalid or differing:
        print(
            f"{INVALID_WORDS}: receipts that do not verify: {invalid or 'none'}; "
            f"stored ≠ logged: {differing or 'none'}"
        )
        return Outcome.INVALID
    print(f"valid: every receipt verifies against chain {document['chain_id']}")
    return Outcome.VALID
