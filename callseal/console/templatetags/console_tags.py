"""Small display filters of the console templates."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def duration_ms(value: Any) -> str:
    """1234567 → "20:34"; under a minute → "42.1 s"."""
    if value is None or value == "":
        return "—"
    ms = int(value)
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.filter
def pct(value: Any) -> str:
    return "—" if value is None else f"{value:.1f} %"
