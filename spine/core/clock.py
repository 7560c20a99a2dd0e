"""Time as Spine compares it: timezone-aware UTC, whatever form a timestamp arrives in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def as_utc(value: Any) -> datetime:
    """A timezone-aware UTC datetime from a datetime, date, pandas Timestamp, numpy datetime64 or ISO text."""
    if type(value) is datetime:  # the common case (gate and breaker, every order and bar): no probing
        tz = value.tzinfo
        return value if tz is UTC else value.replace(tzinfo=UTC) if tz is None else value.astimezone(UTC)
    if type(value).__name__ == "NaTType":
        raise ValueError("timestamp is NaT (not a time)")
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    elif type(value).__name__ == "datetime64":  # numpy, without importing numpy here
        converted = value.astype("datetime64[us]").astype(datetime)
        if not isinstance(converted, datetime):
            raise ValueError(f"timestamp {value!r} cannot be read as a time")
        value = converted
    elif isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"expected a datetime, date, pandas Timestamp or numpy datetime64, got {type(value).__name__}")
