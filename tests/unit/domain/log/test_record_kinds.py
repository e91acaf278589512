"""Typed record bodies: the exact bytes each kind encodes to, and decoding of every version.

The expected leaves below are written out byte for byte: a change of field names, order, number
formatting or escaping fails these tests, and must come with a new envelope version instead.
"""

from __future__ import annotations

import hashlib

import pytest

from backend.domain.log.record_kinds import (
    BODY_TYPES,
    FORMAT_VERSION,
    ActivityBody,
    BindingBody,
    Body,
    ChainMoveBody,
    CorrectionBody,
    ErasureBody,
    FactorSetBody,
    PeriodCloseBody,
    PeriodSignoffBody,
    PointsRulesBody,
    PointsTransferBody,
    RecordFormatError,
    ReviewBody,
    VoucherUseBody,
    decode,
    encode,
)
from backend.domain.log.records import leaf_bytes

SALT = "0x000102030405060708090a0b0c0d0e0f"
SUBJECT = "0x" + "ab" * 32
AT = "2026-03-04T05:06:07+00:00"

SAMPLES: dict[str, Body] = {
    "activity": ActivityBody(
        type="metro",
        occurred_at=AT,
        recorded_at=AT,
        org="acme",
        dept="rd",
        source="self_report",
        quantities={"distance_km": "12.4", "line": "地铁 1 号线"},
        status="flagged",
        co2e_avoided_g=1047,
        co2e_scope3_g=372,
        scope3_category=7,
        factor_set={"version": "2026.1", "sha256": "0x" + "01" * 32},
        calculation={"formula": "km × factor", "factors": ["metro.cn"]},
    ),
    "points_transfer": PointsTransferBody(
        kind="issuance",
        debit="park:issuance",
        credit="employee",
        amount=57,
        reason_code=None,
        reverses=None,
        activity="a-1",
        redemption=None,
        org="acme",
        details={"rate": 1},
        at=AT,
    ),
    "correction": CorrectionBody(
        action="reversal",
        corrects={"kind": "activity", "id": "a-1", "leaf_index": 3, "leaf_hash": "0x" + "02" * 32},
        reason_code="duplicate",
        superseded_by=None,
        note="hmac-sha256:" + "0a" * 32,
        actor={"role": "operator", "id": "0x" + "cd" * 32},
        org="acme",
        reversed={"co2e_avoided_g": -1047, "co2e_scope3_g": -372, "scope3_category": 7, "points": -57},
        points_transfer="t-2",
        recorded_at=AT,
    ),
    "review": ReviewBody(
        activity="a-1",
        activity_leaf=3,
        decision="approve",
        status="accepted",
        reason="0x" + "03" * 32,
        org="acme",
        reviewer="0x" + "cd" * 32,
        points=57,
        decided_at=AT,
    ),
    "factor_set": FactorSetBody(
        version="2027.1",
        effective_from="2027-01-01T00:00:00+08:00",
        description="DESNZ 2025; MEE 2023",
        sha256="0x" + "04" * 32,
        default_baseline="beijing",
        baselines=["beijing", "national"],
        factor_count=40,
        parameter_count=3,
        origin="builtin",
        published_at=AT,
    ),
    "period_close": PeriodCloseBody(
        period="2026-Q1",
        kind="restatement",
        revision=1,
        supersedes="c-0",
        reason="0x" + "05" * 32,
        cutoff_tree_size=120,
        closed_at=AT,
        closed_by_role="operator",
        summary_sha256="0x" + "06" * 32,
        summary={"park": {"inventory": {"categories": [{"category": 7, "co2e_g": 900, "records": 3}]}}},
        changes=[
            {
                "company": None,
                "category": 7,
                "before": {"co2e_g": 800, "records": 2},
                "after": {"co2e_g": 900, "records": 3},
            }
        ],
    ),
    "period_signoff": PeriodSignoffBody(
        period="2026-Q1",
        close="c-1",
        close_leaf=121,
        revision=1,
        summary_sha256="0x" + "06" * 32,
        opinion="unqualified",
        statement=None,
        signed_at=AT,
    ),
    "chain_move": ChainMoveBody(
        mode="move",
        reasons=["chain reset"],
        from_={"chain_id": 31337, "contract": "0x" + "07" * 20},
        to={"chain_id": 31337, "contract": "0x" + "08" * 20},
        reanchored={"checkpoints": 2, "first_tree_size": 1, "last_tree_size": 9, "sha256": "0x" + "09" * 32},
        started_at=AT,
        completed_at=AT,
    ),
    "binding": BindingBody(
        binding="b-1", action="revoke", kind="transit_card", consent_version="2026-11", at=AT
    ),
    "voucher_use": VoucherUseBody(redemption="r-1", reward="w-1", merchant="canteen", used_at=AT),
    "erasure": ErasureBody(basis="employee_request", erased_by_role="operator", erased_at=AT),
    "points_rules": PointsRulesBody(scope="company:acme", version=2, document={"points_per_kg": 10}, at=AT),
}

GOLDEN: dict[str, bytes] = {
    "binding": (
        b'{"body":{"action":"revoke","at":"2026-03-04T05:06:07+00:00","binding":"b-1","consent_version":"2026-11",'
        b'"kind":"transit_card"},"id":"id-binding","kind":"binding","salt":"0x000102030405060708090a0b0c0d0e0f",'
        b'"subject":"0xabababababababababababababababababababababababababababababababab","v":2}'
    ),
    "activity": (
        '{"body":{"calculation":{"factors":["metro.cn"],"formula":"km × factor"},"co2e_avoided_g"'
        ':1047,"co2e_scope3_g":372,"dept":"rd","factor_set":{"sha256":"0x010101010101010101010101'
        '0101010101010101010101010101010101010101","version":"2026.1"},"occurred_at":"2026-03-04T'
        '05:06:07+00:00","org":"acme","quantities":{"distance_km":"12.4","line":"地铁 1 号线"},"recor'
        'ded_at":"2026-03-04T05:06:07+00:00","scope3_category":7,"source":"self_report","status":'
        '"flagged","type":"metro"},"id":"id-activity","kind":"activity","salt":"0x000102030405060'
        '708090a0b0c0d0e0f","subject":"0xabababababababababababababababababababababababababababab'
        'abababab","v":2}'
    ).encode(),
    "points_transfer": (
        b'{"body":{"activity":"a-1","amount":57,"at":"2026-03-04T05:06:07+00:00","credit":"employe'
        b'e","debit":"park:issuance","details":{"rate":1},"kind":"issuance","org":"acme","reason_c'
        b'ode":null,"redemption":null,"reverses":null},"id":"id-points_transfer","kind":"points_tr'
        b'ansfer","salt":"0x000102030405060708090a0b0c0d0e0f","subject":"0xabababababababababababa'
        b'babababababababababababababababababababab","v":2}'
    ),
    "correction": (
        b'{"body":{"action":"reversal","actor":{"id":"0xcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'
        b'cdcdcdcdcdcdcdcdcdcd","role":"operator"},"corrects":{"id":"a-1","kind":"activity","leaf_ha'
        b'sh":"0x0202020202020202020202020202020202020202020202020202020202020202","leaf_index":3},"'
        b'note":"hmac-sha256:0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a","org"'
        b':"acme","points_transfer":"t-2","reason_code":"duplicate","recorded_at":"2026-03-04T05:06:'
        b'07+00:00","reversed":{"co2e_avoided_g":-1047,"co2e_scope3_g":-372,"points":-57,"scope3_cat'
        b'egory":7},"superseded_by":null},"id":"id-correction","kind":"correction","salt":"0x0001020'
        b'30405060708090a0b0c0d0e0f","subject":"0xababababababababababababababababababababababababab'
        b'ababababababab","v":2}'
    ),
    "voucher_use": (
        b'{"body":{"merchant":"canteen","redemption":"r-1","reward":"w-1","used_at":"2026-03-04T05:0'
        b'6:07+00:00"},"id":"id-voucher_use","kind":"voucher_use","salt":"0x000102030405060708090a0b'
        b'0c0d0e0f","subject":"0xabababababababababababababababababababababababababababababababab","'
        b'v":2}'
    ),
    "erasure": (
        b'{"body":{"basis":"employee_request","erased_at":"2026-03-04T05:06:07+00:00","erased_by_rol'
        b'e":"operator"},"id":"id-erasure","kind":"erasure","salt":"0x000102030405060708090a0b0c0d0e'
        b'0f","subject":"0xabababababababababababababababababababababababababababababababab","v":2}'
    ),
    "review": (
        b'{"body":{"activity":"a-1","activity_leaf":3,"decided_at":"2026-03-04T05:06:07+00:00","de'
        b'cision":"approve","org":"acme","points":57,"reason":"0x030303030303030303030303030303030'
        b'3030303030303030303030303030303","reviewer":"0xcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdc'
        b'dcdcdcdcdcdcdcdcdcdcdcd","status":"accepted"},"id":"id-review","kind":"review","salt":"0'
        b'x000102030405060708090a0b0c0d0e0f","subject":"0xabababababababababababababababababababab'
        b'abababababababababababab","v":2}'
    ),
    "factor_set": (
        b'{"body":{"baselines":["beijing","national"],"default_baseline":"beijing","description":"'
        b'DESNZ 2025; MEE 2023","effective_from":"2027-01-01T00:00:00+08:00","factor_count":40,"or'
        b'igin":"builtin","parameter_count":3,"published_at":"2026-03-04T05:06:07+00:00","sha256":'
        b'"0x0404040404040404040404040404040404040404040404040404040404040404","version":"2027.1"}'
        b',"id":"id-factor_set","kind":"factor_set","salt":"0x000102030405060708090a0b0c0d0e0f","s'
        b'ubject":"0xabababababababababababababababababababababababababababababababab","v":2}'
    ),
    "period_close": (
        b'{"body":{"changes":[{"after":{"co2e_g":900,"records":3},"before":{"co2e_g":800,"records"'
        b':2},"category":7,"company":null}],"closed_at":"2026-03-04T05:06:07+00:00","closed_by_rol'
        b'e":"operator","cutoff_tree_size":120,"kind":"restatement","period":"2026-Q1","reason":"0'
        b'x0505050505050505050505050505050505050505050505050505050505050505","revision":1,"summary'
        b'":{"park":{"inventory":{"categories":[{"category":7,"co2e_g":900,"records":3}]}}},"summa'
        b'ry_sha256":"0x0606060606060606060606060606060606060606060606060606060606060606","superse'
        b'des":"c-0"},"id":"id-period_close","kind":"period_close","salt":"0x000102030405060708090'
        b'a0b0c0d0e0f","subject":"0xababababababababababababababababababababababababababababababab'
        b'ab","v":2}'
    ),
    "period_signoff": (
        b'{"body":{"close":"c-1","close_leaf":121,"opinion":"unqualified","period":"2026-Q1","revisi'
        b'on":1,"signed_at":"2026-03-04T05:06:07+00:00","statement":null,"summary_sha256":"0x0606060'
        b'606060606060606060606060606060606060606060606060606060606"},"id":"id-period_signoff","kind'
        b'":"period_signoff","salt":"0x000102030405060708090a0b0c0d0e0f","subject":"0xababababababab'
        b'ababababababababababababababababababababababababab","v":2}'
    ),
    "chain_move": (
        b'{"body":{"completed_at":"2026-03-04T05:06:07+00:00","from":{"chain_id":31337,"contract":'
        b'"0x0707070707070707070707070707070707070707"},"mode":"move","reanchored":{"checkpoints":'
        b'2,"first_tree_size":1,"last_tree_size":9,"sha256":"0x09090909090909090909090909090909090'
        b'90909090909090909090909090909"},"reasons":["chain reset"],"started_at":"2026-03-04T05:06'
        b':07+00:00","to":{"chain_id":31337,"contract":"0x0808080808080808080808080808080808080808'
        b'"}},"id":"id-chain_move","kind":"chain_move","salt":"0x000102030405060708090a0b0c0d0e0f"'
        b',"subject":"0xabababababababababababababababababababababababababababababababab","v":2}'
    ),
    "points_rules": (
        b'{"body":{"at":"2026-03-04T05:06:07+00:00","document":{"points_per_kg":10},"scope":"compa'
        b'ny:acme","version":2},"id":"id-points_rules","kind":"points_rules","salt":"0x00010203040'
        b'5060708090a0b0c0d0e0f","subject":"0xabababababababababababababababababababababababababab'
        b'abababababab","v":2}'
    ),
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_encodes_to_its_golden_bytes(kind: str) -> None:
    assert encode(f"id-{kind}", SUBJECT, SAMPLES[kind], salt=SALT) == GOLDEN[kind]


def test_every_kind_has_a_golden_encoding() -> None:
    assert set(SAMPLES) == set(GOLDEN) == set(BODY_TYPES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_golden_bytes_are_rfc8785_and_decode_to_the_same_body(kind: str) -> None:
    import json

    import rfc8785

    leaf = GOLDEN[kind]
    assert bytes(rfc8785.dumps(json.loads(leaf))) == leaf  # the reference encoder agrees
    record = decode(leaf)
    assert (record.v, record.kind, record.id, record.salt, record.subject) == (
        FORMAT_VERSION,
        kind,
        f"id-{kind}",
        SALT,
        SUBJECT,
    )
    assert record.body == SAMPLES[kind]
    assert record.extra == {}


def test_leaf_hash_is_rfc9162_of_the_bytes() -> None:
    from backend.domain.log.merkle import leaf_hash

    leaf = GOLDEN["points_transfer"]
    assert leaf_hash(leaf) == hashlib.sha256(b"\x00" + leaf).digest()


def test_a_version_2_body_must_hold_exactly_its_fields() -> None:
    import json

    document = json.loads(GOLDEN["review"])
    document["body"]["reason_text"] = "call 13800000000"
    with pytest.raises(RecordFormatError, match="unexpected reason_text"):
        decode(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
    del document["body"]["reason_text"], document["body"]["points"]
    with pytest.raises(RecordFormatError, match="missing points"):
        decode(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


def test_a_version_2_leaf_must_be_canonical() -> None:
    spaced = GOLDEN["points_rules"].replace(b'"v":2', b'"v": 2')
    with pytest.raises(RecordFormatError, match="canonical"):
        decode(spaced)


def test_unknown_versions_and_kinds_are_refused() -> None:
    for leaf, message in (
        (GOLDEN["review"].replace(b'"v":2', b'"v":3'), "version 3"),
        (GOLDEN["review"].replace(b'"kind":"review"', b'"kind":"rumour"'), "unknown record kind"),
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
    ):
        with pytest.raises(RecordFormatError, match=message):
            decode(leaf)


def test_version_1_leaves_still_decode_with_the_fields_they_had() -> None:
    """The first activity records carried their points in the body; they decode, points kept aside."""
    body = {**SAMPLES["activity"].to_json(), "points": 10}
    del body["recorded_at"]  # the earliest bodies had no recorded_at
    leaf = leaf_bytes("activity", "a-0", SALT, SUBJECT, body)
    record = decode(leaf)
    assert record.v == 1
    assert isinstance(record.body, ActivityBody)
    assert record.body.type == "metro" and record.body.recorded_at is None
    assert record.extra == {"points": 10}
    assert record.as_json()["body"]["points"] == 10
