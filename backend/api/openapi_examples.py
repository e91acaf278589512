"""Request and response examples for the operations a mini-program or a data source calls.

The figures are the README's metro trip (12.4 km in Beijing, 579 g avoided, 57 points) as the API
answers it; ``tests/integration/api/test_openapi.py`` checks that every example is valid against the
schema it illustrates, so a changed model cannot leave a stale example behind.
"""

from __future__ import annotations

from typing import Any

ACTIVITY_ID = "4fe9ae72-7b05-4f0c-b551-68ff7114aa7c"
REWARD_ID = "39020556-02e9-4bdd-a856-13de4d918f64"
REDEMPTION_ID = "3c3e713e-e4a1-4344-a564-12f7efb89e82"
VOUCHER = "CL-6XBM-ZXMR-WXME"

METRO_REQUEST = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 12.4}
RECYCLING_REQUEST = {
    "type": "recycling",
    "occurred_at": "2026-11-20T12:10:00+08:00",
    "weight_kg": 2.5,
    "material": "paper",
}
METRO_ACTIVITY: dict[str, Any] = {
    "id": ACTIVITY_ID,
    "type": "metro",
    "status": "accepted",
    "occurred_at": "2026-11-20T00:10:00Z",
    "recorded_at": "2026-11-20T00:10:04.212000Z",
    "quantities": {"distance_km": "12.4", "purpose": "commute"},
    "co2e_avoided_g": 579,
    "co2e_scope3_g": 761,
    "scope3_category": 7,
    "points": 57,
    "factor_set": "park-default-2026.1",
    "calculation": {
        "baseline": "city_mode_mix",
        "inputs": {"distance_km": "12.4", "purpose": "commute", "baseline_occupancy": "1"},
        "factors": [
            {
                "role": "actual",
                "id": "rail.metro.cn-beijing",
                "value": "0.0614",
                "unit": "kg CO2/pkm",
                "source": "Beijing Municipal Commission of Transport, Commuting comparison for a 22 km "
                "day: private car 5.98 kg, metro 1.35 kg CO2 (reported 2019), metro 1.35 kg / 22 pkm",
                "gas_basis": "CO2",
                "gwp": "-",
                "region": "CN-BJ",
                "year": 2019,
                "status": "derived",
                "scope": "direct",
                "derivation": "1.35 / 22",
            },
            {
                "role": "baseline",
                "id": "mix.city.cn",
                "value": "0.1081",
                "unit": "kg CO2/pkm",
                "source": "Carbon Ledger methodology, park-default-2026.1 methodology "
                "(docs/emission-factors.md), City motorised-mode mix implied by the Shenzhen methodology",
                "gas_basis": "CO2",
                "gwp": "-",
                "region": "CN",
                "year": 2021,
                "status": "derived",
                "scope": "direct",
                "derivation": "sz.metro.reduction + rail.metro.cn-beijing",
            },
        ],
        "formula": "actual = distance_km × actual; baseline = distance_km × baseline ÷ baseline_occupancy; "
        "avoided = max(0, baseline − actual), 0 below min_distance_km; scope3 = actual",
        "rounding": "exact decimal arithmetic, rounded once to whole grams, half to even",
        "credited": True,
        "note": "",
        "reported_separately": {},
        "gas_basis": "CO2",
    },
    "leaf_index": 0,
    "receipt_url": f"/mp/v1/activities/{ACTIVITY_ID}/receipt",
}
RECEIPT: dict[str, Any] = {
    "version": 1,
    "algorithm": "rfc9162-sha256",
    "leaf": "0x" + "ab" * 40,
    "leaf_hash": "0x" + "3c" * 32,
    "leaf_index": 0,
    "tree_size": 2,
    "audit_path": ["0x" + "9a" * 32],
    "root": "0x" + "e1" * 32,
    "anchor": {
        "chain_id": 31337,
        "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "checkpoint_seq": 1,
        "tx_hash": "0x" + "5d" * 32,
        "block_number": 2,
    },
}
"""The shape only: a real receipt's leaf is the record's bytes, its hashes those of the log."""
REWARD: dict[str, Any] = {
    "id": REWARD_ID,
    "name": "Canteen lunch",
    "name_zh": "食堂午餐",
    "description": "One set lunch at the park canteen",
    "price_points": 50,
    "stock": 100,
    "per_employee_limit": 4,
    "my_redemptions": 0,
    "valid_from": None,
    "valid_until": "2026-12-31T15:59:59Z",
    "cancel_window_s": 86400,
}
REDEMPTION: dict[str, Any] = {
    "id": REDEMPTION_ID,
    "reward_id": REWARD_ID,
    "reward_name": "Canteen lunch",
    "reward_name_zh": "食堂午餐",
    "voucher_code": VOUCHER,
    "price_points": 50,
    "status": "issued",
    "created_at": "2026-11-21T04:02:11.337634Z",
    "cancellable_until": "2026-11-22T04:02:11.337634Z",
    "cancelled_at": None,
    "balance": 7,
}
TOKENS: dict[str, Any] = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlbXAtMDAxIn0.c2lnbmF0dXJl",
    "token_type": "bearer",
    "expires_in": 900,
    "refresh_token": "rt_0b5d3a7f2c4e48d1a9f6e2b7c8d1f3a4",
    "refresh_expires_in": 2592000,
    "role": "employee",
    "subject": "emp-001",
    "company_id": "acme",
    "department_id": "acme-rd",
}
BINDING: dict[str, Any] = {
    "id": "5a2c8e1f-0d3b-4c7a-9e6f-1b2d3c4e5f60",
    "kind": "transit_card",
    "label": "Yikatong card",
    "consent_version": "2026-11",
    "consented_at": "2026-11-20T01:00:00Z",
    "revoked_at": None,
}
LEADERBOARD_STATUS = {
    "opted_in": True,
    "alias": "Green Panda",
    "display_name": "Green Panda",
    "company": "acme",
    "department": "acme-rd",
}
ENTRIES = [
    {"rank": 1, "name": "Bamboo Runner", "points": 412, "me": False},
    {"rank": 2, "name": "Green Panda", "points": 388, "me": True},
]
INTEGRATION_REQUEST = {
    "records": [
        {
            "record_id": "G-20261120-0001",
            "account": "3104887011229",
            "type": "metro",
            "occurred_at": "2026-11-20T08:10:00+08:00",
            "distance_km": 12.4,
            "duration_min": 31,
        }
    ]
}

REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/mp/v1/activities"): {"metro": METRO_REQUEST, "recycling": RECYCLING_REQUEST},
    ("POST", "/mp/v1/redemptions"): {"redeem": {"reward_id": REWARD_ID}},
    ("PUT", "/mp/v1/leaderboards/opt-in"): {"opt-in": {"alias": "Green Panda"}},
    ("POST", "/mp/v1/auth/login"): {
        "first": {"code": "0a3Xk7ll2Yz1Bq0sPm3Tz9", "invitation_code": "ACME-7K2Q"},
        "again": {"code": "0b1Ym2kk3Zz4Cr5tQn6Uy7"},
    },
    ("POST", "/mp/v1/auth/refresh"): {"refresh": {"refresh_token": TOKENS["refresh_token"]}},
    ("POST", "/mp/v1/auth/logout"): {"logout": {"refresh_token": TOKENS["refresh_token"]}},
    ("POST", "/mp/v1/bindings"): {
        "transit card": {
            "kind": "transit_card",
            "identifier": "3104887011229",
            "label": "Yikatong card",
            "consent": True,
            "code": "K7Q2MX9P",
        }
    },
    ("POST", "/integrations/v1/{source_id}/records"): {"one metro trip": INTEGRATION_REQUEST},
    ("POST", "/integrations/v1/{source_id}/binding-codes"): {
        "a card": {"account": "3104887011229", "nonce": "7f3c2a9e"}
    },
}
"""Request bodies, by operation and example name."""

RESPONSES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("POST", "/mp/v1/activities"): {"201": {"metro": METRO_ACTIVITY}, "200": {"replayed": METRO_ACTIVITY}},
    ("GET", "/mp/v1/activities"): {
        "200": {"page": {"items": [METRO_ACTIVITY], "total": 1, "limit": 20, "offset": 0}}
    },
    ("GET", "/mp/v1/activities/{activity_id}"): {"200": {"metro": METRO_ACTIVITY}},
    ("GET", "/mp/v1/activities/{activity_id}/receipt"): {
        "200": {"anchored": RECEIPT},
        "202": {
            "pending": {
                "status": "pending",
                "leaf_index": 0,
                "anchored_tree_size": 0,
                "retry_after_s": 3,
                "message": "Recorded; waiting for the next on-chain checkpoint (about every 2 s).",
                "message_zh": "已记录，等待下一次上链锚定。",
            }
        },
    },
    ("GET", "/mp/v1/activity-types"): {
        "200": {
            "types": {
                "items": [
                    {"type": "metro", "name_zh": "地铁", "name_en": "Metro"},
                    {"type": "recycling", "name_zh": "垃圾分类回收", "name_en": "Recycling"},
                ]
            }
        }
    },
    ("GET", "/mp/v1/chain"): {
        "200": {
            "local": {
                "configured": True,
                "chain_id": 31337,
                "contract": RECEIPT["anchor"]["contract"],
                "rpc_url": "http://127.0.0.1:8545",
            }
        }
    },
    ("GET", "/mp/v1/points"): {
        "200": {
            "balance": {
                "balance": 57,
                "earned": 57,
                "redeemed": 0,
                "expired": 0,
                "corrected": 0,
                "expiring": {"points": 20, "by": "2026-12-31T15:59:59Z"},
                "history_url": "/mp/v1/points/history",
            }
        }
    },
    ("GET", "/mp/v1/points/history"): {
        "200": {
            "page": {
                "items": [
                    {
                        "transfer_id": "8611b0b0-3967-5e1e-98ce-0d69530c6446",
                        "at": "2026-11-21T04:02:11.337634Z",
                        "kind": "redemption",
                        "amount": -50,
                        "balance_after": 7,
                        "reason_code": None,
                        "reverses": None,
                        "activity": None,
                        "reward": {
                            "id": REWARD_ID,
                            "name": "Canteen lunch",
                            "name_zh": "食堂午餐",
                            "redemption_id": REDEMPTION_ID,
                        },
                        "leaf_index": 3,
                    },
                    {
                        "transfer_id": "bf8197fb-4a8b-51b7-81d9-d0d1ce5bf306",
                        "at": "2026-11-20T00:10:04.212000Z",
                        "kind": "issuance",
                        "amount": 57,
                        "balance_after": 57,
                        "reason_code": None,
                        "reverses": None,
                        "activity": {
                            "id": ACTIVITY_ID,
                            "type": "metro",
                            "occurred_at": "2026-11-20T00:10:00Z",
                            "co2e_avoided_g": 579,
                        },
                        "reward": None,
                        "leaf_index": 1,
                    },
                ],
                "total": 2,
                "limit": 20,
                "offset": 0,
                "balance": 7,
            }
        }
    },
    ("GET", "/mp/v1/rewards"): {"200": {"catalogue": {"items": [REWARD]}}},
    ("POST", "/mp/v1/redemptions"): {"201": {"issued": REDEMPTION}, "200": {"replayed": REDEMPTION}},
    ("GET", "/mp/v1/redemptions"): {
        "200": {"page": {"items": [REDEMPTION], "total": 1, "limit": 20, "offset": 0}}
    },
    ("GET", "/mp/v1/redemptions/{redemption_id}"): {"200": {"issued": REDEMPTION}},
    ("POST", "/mp/v1/redemptions/{redemption_id}/cancel"): {
        "200": {
            "cancelled": {
                **REDEMPTION,
                "status": "cancelled",
                "cancelled_at": "2026-11-21T05:00:00Z",
                "balance": 57,
            }
        }
    },
    ("GET", "/mp/v1/leaderboards/opt-in"): {"200": {"opted in": LEADERBOARD_STATUS}},
    ("PUT", "/mp/v1/leaderboards/opt-in"): {"200": {"opted in": LEADERBOARD_STATUS}},
    ("GET", "/mp/v1/leaderboards/company"): {
        "200": {
            "board": {
                "scope": "company",
                "period": "2026-11",
                "available": True,
                "reason": None,
                "members": 12,
                "min_group": 5,
                "entries": ENTRIES,
                "me": ENTRIES[1],
            },
            "too few": {
                "scope": "company",
                "period": "2026-11",
                "available": False,
                "reason": "fewer than 5 people in this company opted in",
                "members": 3,
                "min_group": 5,
                "entries": [],
                "me": None,
            },
        }
    },
    ("GET", "/mp/v1/leaderboards/department"): {
        "200": {
            "board": {
                "scope": "department",
                "period": "2026-11",
                "available": True,
                "reason": None,
                "members": 6,
                "min_group": 5,
                "entries": ENTRIES,
                "me": ENTRIES[1],
            }
        }
    },
    ("GET", "/mp/v1/leaderboards/departments"): {
        "200": {
            "boards": {
                "period": "2026-11",
                "min_group": 5,
                "departments": [
                    {
                        "rank": 1,
                        "department": "R&D",
                        "members": 9,
                        "points": 2214,
                        "points_per_member": 246,
                        "mine": True,
                    }
                ],
                "departments_too_small": 2,
            }
        }
    },
    ("POST", "/mp/v1/auth/login"): {"200": {"signed in": TOKENS}},
    ("POST", "/mp/v1/auth/refresh"): {"200": {"new tokens": TOKENS}},
    ("GET", "/mp/v1/me"): {
        "200": {"me": {"employee_id": "emp-001", "company_id": "acme", "department_id": "acme-rd"}}
    },
    ("GET", "/mp/v1/bindings"): {"200": {"one card": [BINDING]}},
    ("POST", "/mp/v1/bindings"): {"201": {"bound": BINDING}, "200": {"already bound": BINDING}},
    ("DELETE", "/mp/v1/bindings/{binding_id}"): {
        "200": {"revoked": {**BINDING, "revoked_at": "2026-11-25T09:00:00Z"}}
    },
    ("POST", "/integrations/v1/{source_id}/binding-codes"): {
        "201": {"issued": {"code": "K7Q2MX9P", "kind": "transit_card", "expires_at": "2026-11-25T09:15:00Z"}}
    },
    ("POST", "/integrations/v1/{source_id}/records"): {
        "200": {
            "accepted": {
                "source": "metro-gates",
                "received": 1,
                "results": [
                    {
                        "record_id": "G-20261120-0001",
                        "outcome": "accepted",
                        "activity_id": ACTIVITY_ID,
                        "field": None,
                        "reason": None,
                        "replayed": False,
                        "retry_after_s": None,
                    }
                ],
            }
        }
    },
}
"""Response bodies, by operation, status and example name."""

USED_AT = "2026-11-22T04:30:00Z"
VOUCHER_VIEW: dict[str, Any] = {
    "code": VOUCHER,
    "state": "usable",
    "reward": {
        "id": REWARD_ID,
        "name": "Canteen lunch",
        "name_zh": "食堂午餐",
        "description": "One set lunch at the park canteen",
    },
    "price_points": 50,
    "issued_at": "2026-11-21T04:02:11.337634Z",
    "expires_at": "2026-12-31T15:59:59Z",
    "used_at": None,
    "refusal_en": None,
    "refusal_zh": None,
    "leaf_index": None,
}
RESPONSES.update(
    {
        ("GET", "/api/v1/vouchers/key"): {
            "200": {
                "P-256 key": {
                    "jwk": {
                        "kty": "EC",
                        "crv": "P-256",
                        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                        "alg": "ES256",
                        "use": "sig",
                    },
                    "algorithm": "ECDSA P-256 SHA-256, signature raw r||s in base64url",
                    "format": "CLV1.<code>.<expires unix seconds>.<signature over 'CLV1.<code>.<expires>'>",
                }
            }
        },
        ("GET", "/api/v1/vouchers/{code}"): {
            "200": {
                "usable": VOUCHER_VIEW,
                "used": {
                    **VOUCHER_VIEW,
                    "state": "used",
                    "used_at": "2026-11-22T04:30:00Z",
                    "refusal_en": f"Voucher already used: voucher {VOUCHER} was used at 2026-11-22T04:30:00Z",
                    "refusal_zh": "兑换券已使用",
                    "leaf_index": 41,
                },
            }
        },
        ("POST", "/api/v1/vouchers/{code}/use"): {
            "200": {"used": {**VOUCHER_VIEW, "state": "used", "used_at": USED_AT, "leaf_index": 41}}
        },
    }
)
"""The merchant's till page calls these."""

EXAMPLE_PROBLEM = {
    "type": "https://carbon-ledger.dev/problems/invalid-input",
    "title": "输入无效 / Invalid input",
    "title_en": "Invalid input",
    "title_zh": "输入无效",
    "status": 422,
    "detail": "distance_km: must be greater than 0",
    "errors": [{"field": "distance_km", "reason": "must be greater than 0"}],
}


def _named(examples: dict[str, Any]) -> dict[str, Any]:
    return {name: {"summary": name, "value": value} for name, value in examples.items()}


def attach(method: str, path: str, operation: dict[str, Any]) -> None:
    """Puts the examples of ``method path`` into its OpenAPI operation (media type objects)."""
    requests = REQUESTS.get((method, path))
    if requests:
        operation["requestBody"]["content"]["application/json"]["examples"] = _named(requests)
    for status, examples in RESPONSES.get((method, path), {}).items():
        content = operation["responses"][status].setdefault("content", {})
        content.setdefault("application/json", {}).update(examples=_named(examples))
    problem = operation["responses"].get("422", {}).get("content", {}).get("application/problem+json")
    if problem is not None and (requests or (method, path) in RESPONSES):
        problem["examples"] = _named({"invalid field": EXAMPLE_PROBLEM})
