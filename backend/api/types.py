"""Field types shared by the response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

UtcDatetime = Annotated[datetime, AfterValidator(lambda value: value.astimezone(UTC))]
"""A stored time shown in UTC (``…Z``), whatever offset the database handed back."""
