"""What people call each activity type, in Simplified Chinese and English.

The API's ``type`` values (``metro``, ``bike_shared``…) are identifiers; pages show these names
instead. Published at ``GET /mp/v1/activity-types`` for the phone page, a mini-program and the
managers' dashboard alike, so every surface says the same thing.
"""

from __future__ import annotations

from types import MappingProxyType

from backend.domain.accounting.activity_types import REGISTRY

ACTIVITY_TYPE_NAMES = MappingProxyType({name: (t.name_zh, t.name_en) for name, t in REGISTRY.items()})
"""type → (name in Chinese, name in English), from the activity-type registry."""


def names_of(activity_type: str) -> tuple[str, str]:
    """The two names of a type; an unknown type (an older record's) is shown as its identifier."""
    return ACTIVITY_TYPE_NAMES.get(activity_type, (activity_type, activity_type))
