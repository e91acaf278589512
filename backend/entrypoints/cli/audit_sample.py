"""``carbon-ledger audit sample``: a random sample of logged records an auditor can work from.

The auditor, not the server, draws the sample: leaf indices uniformly without replacement from
the anchored part of the log, with a seed written into the file so the draw can be repeated.
For each record the file holds the logged leaf (decoded), the stored record, the emission factors
applied (id, value, unit, source), the evidence references, the receipt and whether that receipt
verifies against the chain right now, and any difference between the stored and logged record.
Written twice: ``FILE.json`` (everything) and ``FILE.csv`` (one row per record, for a spreadsheet).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from backend.domain.errors import CarbonLedgerError
from backend.entrypoints.cli.audit_client import Api, api_arguments, chain_for, open_api
from backend.services.record_audit import record_differences
from backend.services.verification import verify_receipt

HELP = "export a random sample of N records with receipts, factors and evidence (JSON + CSV)"
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    api_arguments(parser)
    parser.add_argument("--n", type=int, required=True, help="how many records to draw")
    parser.add_argument("--out", type=Path, required=True, help="output path; writes FILE.json and FILE.csv")
    parser.add_argument("--seed", type=int, default=None, help="seed of the draw (default: a random one)")


def draw(seed: int, population: int, n: int) -> list[int]:
    """Leaf indices of the sample: uniform, without replacement, reproducible from the seed."""
    return sorted(random.Random(seed).sample(range(population), min(n, population)))  # noqa: S311


def _verify(receipt: dict[str, Any], args: argparse.Namespace) -> tuple[bool | None, str]:
    if receipt.get("status") == "pending":
        return None, "not anchored yet"
    try:
        return True, verify_receipt(receipt, lambda contract: chain_for(args, contract)).summary()
    except CarbonLedgerError as exc:
        return False, exc.detail


def _entry(detail: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    valid, summary = _verify(detail["receipt"], args)
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


def export(args: argparse.Namespace, api: Api) -> tuple[Path, Path, dict[str, Any]]:
    if not 1 <= args.n <= MAX_SAMPLE:
        raise CarbonLedgerError(f"--n must be between 1 and {MAX_SAMPLE}")
    listing = api.get("/audit/v1/checkpoints")
    anchored = max((int(c["tree_size"]) for c in listing["checkpoints"]), default=0)
    if anchored == 0:
        raise CarbonLedgerError("nothing is anchored yet: there is nothing to sample")
    seed = args.seed if args.seed is not None else secrets.randbits(63)
    entries = [_entry(api.get(f"/audit/v1/records/{index}"), args) for index in draw(seed, anchored, args.n)]
    document = {
        "version": SAMPLE_FORMAT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "api": args.api,
        "chain_id": listing["chain_id"],
        "contract": listing["contract"],
        "anchored_tree_size": anchored,
        "method": "uniform random sample without replacement of leaf indices in [0, anchored_tree_size), "
        "drawn by the auditor with Python random.Random(seed).sample",
        "seed": seed,
        "n": len(entries),
        "records": entries,
    }
    base = args.out.with_suffix("") if args.out.suffix.lower() in (".json", ".csv") else args.out
    json_path, csv_path = base.with_name(base.name + ".json"), base.with_name(base.name + ".csv")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(_csv_row(entry) for entry in entries)
    return json_path, csv_path, document


def run(args: argparse.Namespace, client: httpx.Client | None = None) -> int:
    with open_api(args, client) as api:
        json_path, csv_path, document = export(args, api)
    entries = document["records"]
    invalid = [e["leaf_index"] for e in entries if e["receipt_verification"]["valid"] is False]
    differing = [e["leaf_index"] for e in entries if e["differences"]]
    print(
        f"sampled {len(entries)} of {document['anchored_tree_size']} anchored records "
        f"(seed {document['seed']}): {json_path} and {csv_path}"
    )
    if invalid or differing:
        print(f"  receipts that do not verify: {invalid or 'none'}; stored ≠ logged: {differing or 'none'}")
        return 1
    print(f"  every receipt verifies against chain {document['chain_id']}", file=sys.stderr)
    return 0
