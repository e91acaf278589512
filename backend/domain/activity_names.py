"""What people call each activity type, in Simplified Chinese and English.

The API's ``type`` values (``metro``, ``bike_shared``…) are identifiers; pages show these names
instead. Published at ``GET /mp/v1/activity-types`` for the phone page, a mini-program and the
managers' dashboard alike, so every surface says the same thing.
"""

from __future__ import annotations

from types import MappingProxyType

ACTIVITY_TYPE_NAMES = MappingProxyType(
    {
        "metro": ("地铁", "Metro"),
        "bus": ("公交车", "Bus"),
        "bus_electric": ("电动公交", "Electric bus"),
        "rail": ("火车/高铁", "Rail"),
        "walk": ("步行", "Walking"),
        "bike": ("自行车", "Bicycle"),
        "bike_shared": ("共享单车", "Shared bike"),
        "ebike": ("电动自行车", "E-bike"),
        "ev": ("电动汽车", "Electric car"),
        "taxi": ("出租车/网约车", "Taxi / ride-hailing"),
        "carpool": ("拼车", "Carpool"),
        "flight": ("商务航班", "Business flight"),
        "recycling": ("垃圾分类回收", "Recycling"),
        "second_hand": ("二手再用", "Second-hand reuse"),
        "no_disposables": ("不用一次性用品", "No disposables"),
        "clean_plate": ("光盘行动", "Clean plate"),
        "energy_saving": ("节约用电", "Energy saving"),
    }
)
"""type → (name in Chinese, name in English)."""


def names_of(activity_type: str) -> tuple[str, str]:
    """The two names of a type; an unknown type (an older record's) is shown as its identifier."""
    return ACTIVITY_TYPE_NAMES.get(activity_type, (activity_type, activity_type))
